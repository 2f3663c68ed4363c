"""Store-version stage: a text distinct from every version the article already has (by its
normalised content hash) becomes the article's next version, stored with its diff against
the previous one (added, changed and removed sentences).

A version is stored as extracted, furniture and all (nothing is lost); what counts as its
content (matched, quoted in findings, diffed) is the text without the page's furniture
(textdelta.furniture): its bylines, credits, link lines, prompts and the outlet's template text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlmodel import Session

from newsdelta.storage import repo
from newsdelta.storage.models import Article, ArticleVersion
from textdelta import Document, compare, content_hash
from textdelta.furniture import content_blocks

NO_TEMPLATES: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ArticleText:
    """An article's text as one source gave it: the page ("page") or the feed's entry ("feed")."""

    title: str
    byline: str | None
    published_at: datetime | None
    blocks: list[dict[str, str]]
    source: str
    terms: list[str] | None = None  # signature terms, when computed beside the extraction


@dataclass(frozen=True)
class NewVersion:
    version: ArticleVersion
    doc: Document  # as stored
    previous: ArticleVersion | None
    content: Document  # without its furniture: what is matched, quoted and diffed


def store_version(session: Session, article: Article, text: ArticleText, templates: frozenset[str] = NO_TEMPLATES) -> NewVersion | None:
    """Store `text` as the article's next version, or None when it is already stored (this
    text before, or a concurrent writer between our read and our insert). `templates`: the
    keys of the outlet's template paragraphs."""
    doc = Document.from_dicts(text.blocks, title=text.title)
    content = content_blocks(doc, templates)
    digest = content_hash(doc)
    known = repo.version_hashes(session, repo.row_id(article))
    article.title = text.title or article.title
    article.byline = text.byline or article.byline
    article.published_at = article.published_at or text.published_at
    if any(h == digest for _, _, h in known):
        return None
    previous = repo.get(session, ArticleVersion, known[-1][0]) if known else None
    diff = json.dumps(version_diff(stored_content(previous.title, previous.blocks, templates), content), ensure_ascii=False) if previous else None
    version = repo.add_version(session, article, number=(known[-1][1] if known else 0) + 1, content_hash=digest,
                               title=text.title, byline=text.byline, published_at=text.published_at, blocks=doc.to_dicts(),
                               source=text.source, diff=diff)
    return NewVersion(version, doc, previous, content) if version is not None else None


def version_diff(old: Document, new: Document) -> dict[str, list[Any]]:
    forward = compare(old, new)
    backward = compare(new, old)
    return {
        "added": forward.new_sentences,
        "changed": [{"old": c.old, "new": c.new} for c in forward.changed_sentences],
        "removed": backward.new_sentences,
    }


@lru_cache(maxsize=512)
def stored_doc(title: str, blocks: str) -> Document:
    """A stored version as a Document, cached by its exact stored text: a story's versions are
    read again for every article compared with the story, and stored versions never change.
    Documents are immutable, so one object serves every comparison; 512 entries hold the
    versions of the stories a busy hour compares with."""
    return Document.from_dicts(json.loads(blocks), title=title)


@lru_cache(maxsize=512)
def stored_content(title: str, blocks: str, templates: frozenset[str] = NO_TEMPLATES) -> Document:
    """A stored version's content: the text without its furniture (see the module's note)."""
    return content_blocks(stored_doc(title, blocks), templates)
