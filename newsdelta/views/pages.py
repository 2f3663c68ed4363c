"""What the web view's pages show, as plain data (the HTML templates and the JSON API read the
same dicts): a story on its timeline, each finding's article annotated sentence by sentence,
first-publisher attribution, and an article's versions with the diff between any two.

Every string in these dicts is text as stored, from pages nobody trusts: the templates escape
it, and nothing here builds markup."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Engine

from newsdelta.stages.store import NO_TEMPLATES, stored_content, stored_doc, version_diff
from newsdelta.storage import browse, repo
from newsdelta.storage.db import session_scope
from newsdelta.storage.models import Article, Finding, Story
from textdelta import Comparison, Document, compare_to_story
from textdelta.furniture import mark_furniture
from textdelta.sentences import split_sentences

# As matching reads a story (repo.story_versions): the most recently stored versions, this many.
COMPARED_VERSIONS = 60


@dataclass(frozen=True)
class Telling:
    """One stored text of one outlet's article, and when it was out there: an article's first
    text (and its first text read from the page) at the article's publication time, a later
    edit when newsdelta first saw it. `rank`: its place among the story's tellings, earliest first."""

    article_id: int
    version_id: int
    number: int
    outlet: str
    at: datetime | None
    rank: int = 0

    def ref(self, here: int | None = None) -> dict[str, Any]:
        return {"article_id": self.article_id, "version_id": self.version_id, "version": self.number, "outlet": self.outlet,
                "at": self.at, "here": self.article_id == here}


def _tellings(rows: list[browse.VersionRow]) -> dict[int, Telling]:
    found: list[Telling] = []
    seen_page: set[int] = set()
    seen: set[int] = set()
    for r in sorted(rows, key=lambda r: (r.article_id, r.number)):
        first = r.article_id not in seen or (r.source == "page" and r.article_id not in seen_page)
        published = r.article_published_at or r.published_at
        found.append(Telling(r.article_id, r.version_id, r.number, r.outlet, (published or r.fetched_at) if first else r.fetched_at))
        seen.add(r.article_id)
        if r.source == "page":
            seen_page.add(r.article_id)
    found.sort(key=lambda t: (t.at is None, t.at or datetime.max.replace(tzinfo=UTC), t.version_id))
    return {t.version_id: replace(t, rank=rank) for rank, t in enumerate(found)}


@lru_cache(maxsize=65536)
def _split(paragraph: str) -> tuple[str, ...]:
    return tuple(split_sentences(paragraph))


def _units(doc: Document) -> Iterable[str]:
    """The sentences comparison reads a document by: each paragraph's sentences, each heading whole."""
    for block in doc.blocks:
        if block.kind == "paragraph":
            yield from _split(block.text)
        else:
            yield block.text


Texts = tuple[tuple[str, str], ...]  # how compared, then (title, blocks JSON) of each document compared, the new one first


class _Comparisons:
    """Comparisons already made, by the exact texts compared (stored versions never change, so
    neither does the result; keyed by text, not id, so two databases read by one process
    cannot mix theirs up). Bounded, thread-safe."""

    def __init__(self, size: int = 256) -> None:
        self.size, self.items, self.lock = size, OrderedDict[Texts, Comparison](), threading.Lock()

    def get(self, key: Texts, make: Any) -> Comparison:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value: Comparison = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


COMPARISONS = _Comparisons()


# --- the story page ------------------------------------------------------------------------

def story_page(engine: Engine, story_id: int, semantic: Any = None, template_stories: int = 3) -> dict[str, Any] | None:
    """The story on its timeline, and each finding annotated; None when there is no such story.
    `semantic`: the sentence scorer matching used (newsdelta.stages.match.semantic_scorer), so
    each finding is read as it was found."""
    with session_scope(engine) as session:
        story = session.get(Story, story_id)
        if story is None:
            return None
        rows = browse.story_versions(session, story_id)
        findings = browse.story_findings(session, story_id)
        unversioned = browse.story_articles_without_versions(session, story_id)
        templates = repo.template_keys(session, {r.outlet for r in rows}, template_stories)
    tellings = _tellings(rows)
    by_version = {r.version_id: r for r in rows}
    finding_of_version = {f.version_id: f.id for f in findings}
    articles: dict[int, dict[str, Any]] = {}
    for r in rows:
        entry = articles.setdefault(r.article_id, {
            "id": r.article_id, "outlet": r.outlet, "url": r.url, "title": r.article_title, "published_at": r.article_published_at,
            "first_seen_at": r.first_seen_at, "status": r.status, "versions": [],
        })
        entry["versions"].append({"id": r.version_id, "number": r.number, "fetched_at": r.fetched_at, "source": r.source,
                                  "title": r.title, "finding_id": finding_of_version.get(r.version_id)})
    for a in unversioned:
        articles[int(a.id or 0)] = {"id": a.id, "outlet": a.outlet, "url": a.url, "title": a.title, "published_at": a.published_at,
                                    "first_seen_at": a.first_seen_at, "status": a.status, "versions": []}
    timeline = sorted(articles.values(), key=lambda a: (a["published_at"] or a["first_seen_at"], a["id"]))
    holders = _holders(rows, tellings)
    annotated = [annotate_finding(f, rows, by_version, tellings, holders, semantic, templates) for f in findings]
    outlets = sorted({a["outlet"] for a in timeline})
    return {"id": story.id, "title": story.title, "created_at": story.created_at, "updated_at": story.updated_at,
            "outlets": outlets, "timeline": timeline, "findings": annotated}


def _holders(rows: list[browse.VersionRow], tellings: dict[int, Telling]) -> dict[str, list[Telling]]:
    """Each sentence (and heading) text of the story, with the tellings holding it, earliest first."""
    holders: dict[str, list[Telling]] = {}
    for r in rows:
        telling = tellings[r.version_id]
        for unit in dict.fromkeys(_units(stored_doc(r.title, r.blocks))):
            holders.setdefault(unit, []).append(telling)
    for held in holders.values():
        held.sort(key=lambda t: t.rank)
    return holders


def compared_versions(rows: list[browse.VersionRow], new: browse.VersionRow) -> list[browse.VersionRow]:
    """What the story had when `new` was stored, as matching read it: the versions stored before
    it (newest first, at most COMPARED_VERSIONS), less the feed's teaser of the same article
    when `new` is its page."""
    earlier = [r for r in rows if r.version_id < new.version_id
               and not (new.source == "page" and r.article_id == new.article_id and r.source == "feed")]
    earlier.sort(key=lambda r: (r.fetched_at, r.version_id), reverse=True)
    return earlier[:COMPARED_VERSIONS]


def annotate_finding(finding: Finding, rows: list[browse.VersionRow], by_version: dict[int, browse.VersionRow],
                     tellings: dict[int, Telling], holders: dict[str, list[Telling]], semantic: Any = None,
                     templates: dict[str, frozenset[str]] | None = None) -> dict[str, Any]:
    """The finding's article in reading order: per paragraph, whether the finding recorded it as
    new, each sentence's status (new, restated, changed) with the old sentences it restates and
    where they were first published, and the earliest telling holding the paragraph."""
    base = {"id": finding.id, "kind": finding.kind, "outlet": finding.outlet, "compared_outlets": json.loads(finding.compared_outlets),
            "score": finding.score, "created_at": finding.created_at, "article_id": finding.article_id, "version_id": finding.version_id}
    recorded = json.loads(finding.new_sections)
    base["new_sections"] = recorded
    new = by_version.get(finding.version_id)
    if new is None:  # the version is gone: show what the finding recorded
        return {**base, "version": None, "title": "", "url": "", "sections": [], "compared": []}
    doc = stored_doc(new.title, new.blocks)
    templates = templates or {}
    furniture = mark_furniture(doc.blocks, templates.get(new.outlet, NO_TEMPLATES))
    compared = compared_versions(rows, new)
    # Compared as matching compares: each version's content, its page furniture set aside.
    comparison = COMPARISONS.get(
        # The outlets' template text is part of what was compared: a line that became template
        # text since changes the comparison.
        (("words and meaning" if semantic is not None else "words", str(hash(tuple(sorted((o, k) for o, k in templates.items()))))),
         (new.title, new.blocks), *((r.title, r.blocks) for r in compared)),
        lambda: compare_to_story([stored_content(r.title, r.blocks, templates.get(r.outlet, NO_TEMPLATES)) for r in compared],
                                 stored_content(new.title, new.blocks, templates.get(new.outlet, NO_TEMPLATES)), semantic=semantic),
    )
    compared_ids = {r.version_id for r in compared}
    new_paragraphs = {p for s in recorded for p in s.get("paragraphs", [])}
    new_headings = {s["heading"] for s in recorded if s.get("heading")}
    here = tellings[new.version_id]

    def source(text: str) -> Telling | None:
        """The earliest telling holding `text` among those compared, else anywhere in the story."""
        held = holders.get(text, [])
        return next((t for t in held if t.version_id in compared_ids), held[0] if held else None)

    def first(texts: Iterable[str]) -> Telling:
        found = [held[0] for t in texts if (held := holders.get(t))]
        return min(found, key=lambda t: t.rank, default=here)

    alignments = iter(comparison.alignments)
    pending = next(alignments, None)
    sections: list[dict[str, Any]] = []
    for block, kind in zip(doc.blocks, furniture, strict=True):
        if kind is not None:  # kept in the stored version, set aside from matching: shown folded
            if not sections:
                sections.append({"heading": None, "new": False, "paragraphs": [], "first": None})
            sections[-1]["paragraphs"].append({"text": block.text, "new": False, "furniture": kind, "sentences": [], "beside": [],
                                               "first": None})
            continue
        if block.kind == "heading":
            sections.append({"heading": block.text, "new": block.text in new_headings, "paragraphs": [],
                             "first": first([block.text]).ref(finding.article_id)})
            continue
        if not sections:
            sections.append({"heading": None, "new": False, "paragraphs": [], "first": None})
        sentences: list[dict[str, Any]] = []
        cursor = 0
        while pending is not None and (at := block.text.find(pending.new, cursor)) >= 0:
            cursor = at + len(pending.new)
            restated = pending.status != "new"
            old = list(pending.old) if restated else []
            sentences.append({"text": pending.new, "status": pending.status, "old": [
                {"text": o, **(ref.ref(finding.article_id) if (ref := source(o)) else {})} for o in old
            ], "first": first([pending.new, *old]).ref(finding.article_id)})
            pending = next(alignments, None)
        if not sentences:  # a paragraph comparison did not read (no sentences): shown as it is
            sentences = [{"text": block.text, "status": "old", "old": [], "first": first([block.text]).ref(finding.article_id)}]
        is_new = block.text in new_paragraphs
        if is_new:
            anchor = [s["text"] for s in sentences if s["status"] == "new"] or [s["text"] for s in sentences]
            attribution = first(anchor)
        else:
            attribution = first([o["text"] for s in sentences for o in s["old"]] + [s["text"] for s in sentences])
        sections[-1]["paragraphs"].append({"text": block.text, "new": is_new, "furniture": None, "sentences": sentences, "beside": _beside(sentences),
                                           "first": attribution.ref(finding.article_id)})
    for section in sections:
        section["new"] = section["new"] and all(p["new"] for p in section["paragraphs"] if not p.get("furniture"))
    return {**base, "version": new.number, "title": new.title, "url": new.url, "sections": sections,
            "compared": sorted({(r.outlet, r.article_id) for r in compared}), "score_now": round(comparison.score, 4)}


def _beside(sentences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The old text a paragraph restates, once each, in order: what is shown beside it. An old
    sentence reworded (changed) is shown as the old wording of that sentence; one repeated word
    for word is not shown again (the paragraph's first publisher says where it was before)."""
    out: dict[str, dict[str, Any]] = {}
    for s in sentences:
        for o in s["old"]:
            if o["text"] == s["text"]:
                continue
            if o["text"] not in out or s["status"] == "changed":
                out[o["text"]] = {**o, "status": s["status"], "new": s["text"]}
    return list(out.values())


# --- the article page ----------------------------------------------------------------------

def article_page(engine: Engine, article_id: int, old: int | None = None, new: int | None = None) -> dict[str, Any] | None:
    """An article's stored versions, and the diff between versions `old` and `new` (numbers;
    by default the last two). None when there is no such article."""
    with session_scope(engine) as session:
        article = session.get(Article, article_id)
        if article is None:
            return None
        versions = browse.article_versions(session, article_id)
        findings = browse.article_findings(session, article_id)
        story_title = browse.stories_titles(session, [article.story_id]).get(article.story_id or 0) if article.story_id else None
    numbers = [v.number for v in versions]
    page: dict[str, Any] = {
        "id": article.id, "outlet": article.outlet, "url": article.url, "title": article.title, "byline": article.byline,
        "published_at": article.published_at, "first_seen_at": article.first_seen_at, "status": article.status, "source": article.source,
        "error": article.last_error, "story_id": article.story_id, "story_title": story_title,
        "versions": [{"id": v.id, "number": v.number, "fetched_at": v.fetched_at, "published_at": v.published_at, "source": v.source,
                      "title": v.title, "finding_id": next((f.id for f in findings if f.version_id == v.id), None)} for v in versions],
        "diff": None, "text": None,
    }
    if not versions:
        return page
    new = new if new in numbers else numbers[-1]
    old = old if old in numbers and old != new else (max((n for n in numbers if n < new), default=None))
    chosen = {v.number: v for v in versions}
    new_doc = stored_doc(chosen[new].title, chosen[new].blocks)
    if old is None:
        page["text"] = {"number": new, "blocks": _plain_blocks(new_doc)}
        return page
    old_doc = stored_doc(chosen[old].title, chosen[old].blocks)
    diff = version_diff(stored_content(chosen[old].title, chosen[old].blocks), stored_content(chosen[new].title, chosen[new].blocks))
    page["diff"] = {"old": old, "new": new, **diff, "blocks": _diff_blocks(old_doc, new_doc, diff)}
    return page


def _plain_blocks(doc: Document) -> list[dict[str, Any]]:
    return [{"kind": b.kind, "text": b.text, "sentences": [{"text": s, "status": "same"} for s in _split(b.text)] if b.kind == "paragraph" else []}
            for b in doc.blocks]


def _diff_blocks(old: Document, new: Document, diff: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The newer version in reading order, each sentence marked added, changed (with the old
    wording) or the same; headings the older version did not have are marked added."""
    added = set(diff["added"])
    changed = {c["new"]: c["old"] for c in diff["changed"]}
    old_headings = {b.text for b in old.blocks if b.kind == "heading"}
    blocks: list[dict[str, Any]] = []
    for b in new.blocks:
        if b.kind == "heading":
            blocks.append({"kind": "heading", "text": b.text, "status": "same" if b.text in old_headings else "added", "sentences": []})
            continue
        sentences: list[dict[str, Any]] = []
        for s in _split(b.text):
            if s in changed:
                sentences.append({"text": s, "status": "changed", "old": changed[s]})
            else:
                sentences.append({"text": s, "status": "added" if s in added else "same"})
        blocks.append({"kind": "paragraph", "text": b.text, "sentences": sentences})
    return blocks
