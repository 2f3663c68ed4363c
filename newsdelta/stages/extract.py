"""Extract stage: trafilatura gives an article page's title, byline, date, and its body as
ordered heading and paragraph blocks (sections are what readers care about)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura import metadata as trafilatura_metadata
from trafilatura.settings import Document as TrafilaturaDocument
from trafilatura.settings import Extractor, set_date_params
from trafilatura.utils import load_html

from newsdelta.errors import ExtractionError

# Prose has sentences; a run of link labels or menu items has none. Terminators of Latin,
# CJK, Devanagari (danda), Arabic and Urdu, Khmer, Myanmar and Ethiopic text.
SENTENCE_END = re.compile(r"[.!?。！？।۔؟។။።]([\s\"'”’»)]|$)")
UNSPACED_TOKEN_CHARS = 12  # Thai, Lao and Khmer write whole phrases without spaces or stops
MIN_TEXT_CHARS = 200  # less than this is a teaser, an index page or an error page, not an article


@dataclass
class Extracted:
    title: str
    byline: str | None
    published_at: datetime | None
    blocks: list[dict[str, str]] = field(default_factory=list)
    terms: list[str] | None = None  # signature terms, when computed beside the extraction (in a worker)

    @property
    def text(self) -> str:
        return "\n".join(b["text"] for b in self.blocks)


def extract_article(html: bytes | str, url: str) -> Extracted:
    """Settings chosen by measurement on the 181 hand-checked pages of ../shared (see
    tests/test_extract_quality.py): trafilatura's own extractor without its readability and
    jusText fallbacks (`fast`) and without `favor_precision` recovers more of the article text
    and runs faster (figures in docs/performance.md). Blocks are read from the tree that
    `bare_extraction` returns, not from a serialised output that we would parse again.
    Metadata is read by `_metadata`, not by trafilatura's `with_metadata`, which also
    collects categories, tags and a licence we have no use for."""
    try:
        tree = load_html(html, _OPTIONS.max_file_size)
        if tree is None:
            raise ExtractionError("no article text found")
        meta = _metadata(tree, url)
        extracted = trafilatura.bare_extraction(
            tree,  # copied by trafilatura before it prunes
            url=url,
            include_formatting=True,
            include_comments=False,
            include_tables=False,
            with_metadata=False,
            fast=True,
            output_format="xml",  # the tree only: the "python" format also renders it as text, unused here
        )
    except ExtractionError:
        raise
    except Exception as exc:  # noqa: BLE001 - trafilatura surfaces lxml and decoding errors of many kinds
        raise ExtractionError(f"extraction failed: {type(exc).__name__}: {exc}"[:300]) from None
    if not isinstance(extracted, TrafilaturaDocument) or extracted.body is None:
        raise ExtractionError("no article text found")
    title = (meta.title or "").strip()
    blocks, prose_chars = _blocks(extracted.body, title)
    if prose_chars < MIN_TEXT_CHARS:
        # A page of links (an index, a menu, a tag page) comes out of the extractor as a list,
        # or as one long "paragraph" of link labels without a sentence in it.
        raise ExtractionError(f"page has only {prose_chars} characters of article text outside lists")
    return Extracted(title=title, byline=(meta.author or None), published_at=_date(meta.date), blocks=blocks)


_OPTIONS = Extractor(fast=True)  # trafilatura's defaults for what it would read itself: file size cap, date search
_EXTENSIVE_DATE_SEARCH = _OPTIONS.config.getboolean("DEFAULT", "EXTENSIVE_DATE_SEARCH")


def _metadata(tree: HtmlElement, url: str) -> TrafilaturaDocument:
    """Title, author, canonical URL, date and site name, read the way trafilatura's
    `extract_metadata` reads them (same order, same fallbacks, same clean-up; the same
    results on all 181 pages of ../shared), without the categories, tags and licence it also
    collects. Runs on the tree before extraction prunes it, as trafilatura's does."""
    md = trafilatura_metadata.examine_meta(tree)
    if md.author and " " not in md.author:
        md.author = None  # a one-word "author" in meta tags is a site or a handle, not a byline
    try:
        md = trafilatura_metadata.extract_meta_json(tree, md)
    except Exception:  # noqa: BLE001 - malformed JSON-LD: keep what the meta tags gave
        pass
    md.title = md.title or trafilatura_metadata.extract_title(tree)
    md.author = md.author or trafilatura_metadata.extract_author(tree)
    md.url = md.url or trafilatura_metadata.extract_url(tree, url)
    # Fresh parameters per page: they hold today's date, the latest a page may claim.
    date_params = {**set_date_params(_EXTENSIVE_DATE_SEARCH), "url": md.url}
    md.date = trafilatura_metadata.find_date(tree, **date_params)  # type: ignore[attr-defined]  # htmldate's, re-exported undeclared
    md.sitename = md.sitename or trafilatura_metadata.extract_sitename(tree)
    if md.sitename:
        md.sitename = md.sitename.lstrip("@")
        if md.sitename and "." not in md.sitename and not md.sitename[0].isupper():
            md.sitename = md.sitename.title()
    elif md.url and (site := trafilatura_metadata.META_URL.match(md.url)):
        md.sitename = site[1]
    md.clean_and_trim()
    return md


def _blocks(body: etree._Element, title: str) -> tuple[list[dict[str, str]], int]:
    """The body as heading and paragraph blocks (list items become paragraphs), and how many
    characters of it are prose (paragraphs and quotes with a sentence in them, not list items)."""
    blocks: list[dict[str, str]] = []
    prose = 0
    for el in body:
        text = _text(el)
        if not text:
            continue
        if el.tag == "head":
            if not blocks and text.casefold() == title.casefold():
                continue  # the page's own h1, already the title
            blocks.append({"kind": "heading", "text": text})
        elif el.tag in ("p", "quote", "list", "item"):
            if el.tag == "list":
                blocks.extend({"kind": "paragraph", "text": t} for t in map(_text, el) if t)
            else:
                blocks.append({"kind": "paragraph", "text": text})
                prose += len(text) if el.tag in ("p", "quote") and _is_prose(text) else 0
    return blocks, prose


# Elements that end a line where the page showed them: their text must not run into the next word.
_BREAKING = {"p", "head", "list", "item", "quote", "lb", "table", "row", "cell", "code", "div"}
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _text(el: etree._Element) -> str:
    """The element's text as a reader sees it: one space between words, also where a line
    break or a nested block separated them, and no zero-width characters."""
    parts: list[str] = []
    for event, node in etree.iterwalk(el, events=("start", "end", "comment", "pi")):  # no recursion: trees can be deep
        breaking = node is not el and node.tag in _BREAKING
        if event == "start":
            parts.append(" " if breaking else "")
            parts.append(node.text or "")
        elif node is not el:  # the end of an element, or a comment: what follows it counts
            parts.append(" " if breaking else "")
            parts.append(node.tail or "")
    return " ".join("".join(parts).translate(_INVISIBLE).split())


def _is_prose(text: str) -> bool:
    if SENTENCE_END.search(text):
        return True
    tokens = text.split()
    return sum(len(t) for t in tokens) / len(tokens) >= UNSPACED_TOKEN_CHARS


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
