"""Versions, stories and findings: the decisions made once an article's text is known.

`store_and_track` runs as one database transaction, so a crash leaves either everything
(version, story membership, finding, outbox rows) or nothing, and a rerun repeats the work
without duplicating it."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from sqlmodel import Session

from newsdelta import metrics
from newsdelta.errors import ConfigError
from newsdelta.settings import Settings
from storage import repo
from storage.models import Article, ArticleVersion, Finding, utcnow
from textdelta import Comparison, Document, compare, compare_to_story, content_hash
from textdelta.align import SemanticScorer
from textdelta.normalize import text_key
from textdelta.terms import article_terms


@dataclass
class TrackResult:
    article_id: int
    version_id: int | None = None  # None when the text was already stored
    version_number: int | None = None
    story_id: int | None = None
    joined_story: bool = False
    score: float | None = None
    finding_id: int | None = None
    alerts: list[int] = field(default_factory=list)


def store_and_track(session: Session, article: Article, *, title: str, byline: str | None, published_at: datetime | None,
                    blocks: list[dict[str, str]], source: str, settings: Settings, channels: list[str],
                    terms: list[str] | None = None) -> TrackResult:
    if repo.lock_tracking(session):
        session.refresh(article)  # what other workers committed before we took the lock
    # No autoflush: the article's row is written once, by the caller's flush, not once per
    # query that happens to follow a change to it (that was three UPDATEs per article).
    with session.no_autoflush:
        return _store_and_track(session, article, title=title, byline=byline, published_at=published_at, blocks=blocks,
                                source=source, settings=settings, channels=channels, terms=terms)


def _store_and_track(session: Session, article: Article, *, title: str, byline: str | None, published_at: datetime | None,
                     blocks: list[dict[str, str]], source: str, settings: Settings, channels: list[str],
                     terms: list[str] | None) -> TrackResult:
    doc = Document.from_dicts(blocks, title=title)
    digest = content_hash(doc)
    result = TrackResult(article_id=article.id)  # type: ignore[arg-type]
    known = repo.version_hashes(session, article.id)  # type: ignore[arg-type]
    article.title = title or article.title
    article.byline = byline or article.byline
    article.published_at = article.published_at or published_at
    if any(h == digest for _, _, h in known):
        result.story_id = article.story_id
        return result
    previous = session.get(ArticleVersion, known[-1][0]) if known else None
    diff = json.dumps(version_diff(_doc(previous), doc), ensure_ascii=False) if previous is not None else None
    version = repo.add_version(session, article, number=(known[-1][1] if known else 0) + 1, content_hash=digest, title=title,
                               byline=byline, published_at=published_at, blocks=doc.to_dicts(), source=source, diff=diff)
    if version is None:  # stored by a concurrent writer between our read and our insert
        result.story_id = article.story_id
        return result
    result.version_id, result.version_number = version.id, version.number
    if terms is None:  # the story lookup and the index share them
        terms = article_terms(title, doc.text)

    had_story = article.story_id is not None
    with metrics.stage("match"):
        if not had_story:
            comparison, pool_outlets = _join_story(session, article, doc, terms, settings)
            result.joined_story = comparison is not None
            kind = "new_outlet"
        else:
            comparison, pool_outlets = _against_story(session, article, version, doc, settings)
            kind = "new_outlet" if previous is not None and previous.source == "feed" and source == "page" else "new_version"
    if had_story or result.joined_story:  # a story made just now is as new as it gets
        repo.touch_story(session, article.story_id)  # type: ignore[arg-type]
    result.story_id = article.story_id
    session.add(article)
    # The same time the story lookup measures its window from (feed date first, then page date).
    repo.index_terms(session, article, terms, article.published_at or article.first_seen_at)

    if comparison is not None:
        result.score = comparison.score
        finding = _record_finding(session, article, version, comparison, pool_outlets, kind)
        if finding is not None:
            result.finding_id = finding.id
            result.alerts = repo.enqueue_alerts(session, finding, channels, dedup_key=_alert_key(finding))
    return result


def _join_story(session: Session, article: Article, doc: Document, terms: list[str],
                settings: Settings) -> tuple[Comparison | None, list[str]]:
    """Find the story this article tells, if any; otherwise start one."""
    since = (article.published_at or utcnow()) - timedelta(days=settings.match_window_days)
    best = find_story(session, doc, terms, since, article.outlet or None, article.id, semantic_scorer(settings))
    if best is None:
        article.story_id = repo.create_story(session, doc.title or article.title)
        return None, []
    comparison, article.story_id, outlets = best
    return comparison, outlets


# Share of a new article's signature terms a stored story must share to be compared at all.
# Measured on the labelled set (python scripts/signature_overlap.py): every telling of the same story
# shares 17 or more of 40, unrelated articles at most 7, hard negatives 8-19 (those are left
# to the comparison). Skipping the rest saves most of the matching time on a busy news day.
MIN_SHARED_TERMS = 0.2
# A story score this high is a wire copy or a light edit of a stored telling (paraphrased
# rewrites of the labelled set score 0.37-0.88): no other candidate is compared after it.
SETTLED_SCORE = 0.9


def find_story(session: Session, doc: Document, terms: list[str], since: datetime, outlet: str | None,
               article_id: int | None, semantic: SemanticScorer | None = None) -> tuple[Comparison, int, list[str]] | None:
    """The stored story `doc` tells, if any, with its comparison and outlets; reads only.
    Candidates come from the term index; each is compared as a whole story (all its
    versions), and the best-scoring one that is the same story wins."""
    best: tuple[Comparison, int, list[str]] | None = None
    min_hits = max(3, math.ceil(len(terms) * MIN_SHARED_TERMS))
    for story_id, _hits in repo.candidate_stories(session, terms, since, outlet, article_id, min_hits=min_hits):
        members = [m for m in repo.story_versions(session, story_id) if m.article_id != article_id]
        if not members:
            continue
        comparison = compare_to_story([_stored_doc(m.title, m.blocks) for m in members], doc, semantic=semantic)
        if comparison.same_story and (best is None or comparison.score > best[0].score):
            best = (comparison, story_id, sorted({m.outlet for m in members}))
            if comparison.score >= SETTLED_SCORE:
                break  # candidates come most-shared-terms first; a near-verbatim telling settles it
    return best


def _against_story(session: Session, article: Article, version: ArticleVersion, doc: Document,
                   settings: Settings) -> tuple[Comparison | None, list[str]]:
    """A new version of a known article: what does it add to everything the story had?"""
    members = [m for m in repo.story_versions(session, article.story_id) if m.version_id != version.id]  # type: ignore[arg-type]
    if version.source == "page":
        # The feed's summary of this same article is not "what the story had" once the page is read.
        members = [m for m in members if not (m.article_id == article.id and m.source == "feed")]
    if not members:
        return None, []
    comparison = compare_to_story([_stored_doc(m.title, m.blocks) for m in members], doc, semantic=semantic_scorer(settings))
    return comparison, sorted({m.outlet for m in members})


@lru_cache(maxsize=1)
def _minilm() -> SemanticScorer:
    from textdelta.semantic import MiniLMScorer, SemanticUnavailable

    try:
        return MiniLMScorer()
    except SemanticUnavailable as exc:
        raise ConfigError(f"semantic = true, but {exc}") from None


def semantic_scorer(settings: Settings) -> SemanticScorer | None:
    """One model per process, loaded on first use and kept: its sentence cache is what makes
    comparing against a story's earlier tellings cheap the second time."""
    return _minilm() if settings.semantic else None


def _record_finding(session: Session, article: Article, version: ArticleVersion, comparison: Comparison,
                    outlets: list[str], kind: str) -> Finding | None:
    if not comparison.new_sections:
        return None
    sections = [{"heading": s.heading, "under_heading": s.under_heading, "paragraphs": s.paragraphs} for s in comparison.new_sections]
    content = "\n".join(p for s in comparison.new_sections for p in s.paragraphs)
    return repo.add_finding(
        session, story_id=article.story_id, article_id=article.id, version_id=version.id, kind=kind, outlet=article.outlet,
        compared_outlets=json.dumps(outlets, ensure_ascii=False), score=round(comparison.score, 4),
        new_sections=json.dumps(sections, ensure_ascii=False), new_sentences=json.dumps(comparison.new_sentences, ensure_ascii=False),
        content_key=text_key(content),
    )


def _alert_key(finding: Finding) -> str:
    """Same story, same new material: same key, so no channel hears it twice."""
    return hashlib.sha256(f"{finding.story_id}:{finding.content_key}".encode()).hexdigest()[:40]


def version_diff(old: Document, new: Document) -> dict[str, list]:
    forward = compare(old, new)
    backward = compare(new, old)
    return {
        "added": forward.new_sentences,
        "changed": [{"old": c.old, "new": c.new} for c in forward.changed_sentences],
        "removed": backward.new_sentences,
    }


def _doc(version: ArticleVersion) -> Document:
    return _stored_doc(version.title, version.blocks)


@lru_cache(maxsize=512)
def _stored_doc(title: str, blocks: str) -> Document:
    """A stored version as a Document, cached by its exact stored text: a story's versions are
    read again for every article compared with the story, and stored versions never change.
    Documents are immutable, so one object serves every comparison. 512 entries hold the
    versions of the stories a busy hour compares with: ~6 MB on the benchmark's pages (5 KB of
    text each on average), bounded by the entries' size for very long articles."""
    return Document.from_dicts(json.loads(blocks), title=title)
