"""Match-story stage: which stored story does this article tell? A new article looks up
candidate stories through the signature-term index and joins the best match, or starts a
story; a new version of a known article is compared with everything its story already had."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from newsdelta import metrics
from newsdelta.errors import ConfigError
from newsdelta.settings import Settings
from newsdelta.stages.store import NO_TEMPLATES, NewVersion, stored_content
from newsdelta.storage import repo
from newsdelta.storage.models import Article, utcnow
from textdelta import Comparison, Document, Thresholds, compare_to_story
from textdelta.compare import MIN_SHARED_TERMS, default_thresholds
from textdelta.semantic import Embedder, SemanticUnavailable, default_embedder

# MIN_SHARED_TERMS (textdelta.compare): the share of a new article's signature terms a stored
# story must share to be compared at all (scripts/signature_overlap.py measures it on the
# labelled set). Skipping the rest saves most of the matching time on a busy news day.
# A story score this high is a wire copy or a light edit of a stored telling: no other
# candidate is compared after it.
SETTLED_SCORE = 0.9


@dataclass(frozen=True)
class Match:
    """The story an article is in now, and what it was compared with (None: a story of its own)."""

    story_id: int
    comparison: Comparison | None
    outlets: list[str]
    joined: bool  # a new article that joined an existing story
    kind: str  # new_outlet | new_version: what a finding from this comparison is


def match_story(session: Session, article: Article, new: NewVersion, terms: list[str], settings: Settings) -> Match:
    with metrics.stage("match"):
        if article.story_id is None:
            return _join_story(session, article, new.content, terms, settings)
        return _against_story(session, article, new, settings)


def _join_story(session: Session, article: Article, doc: Document, terms: list[str], settings: Settings) -> Match:
    since = (article.published_at or utcnow()) - timedelta(days=settings.match_window_days)
    best = find_story(session, doc, terms, since, article.outlet or None, article.id, semantic_scorer(settings),
                      template_stories=settings.template_stories, published_at=article.published_at or article.first_seen_at,
                      thresholds=thresholds(settings))
    if best is None:
        article.story_id = repo.create_story(session, doc.title or article.title)
        return Match(article.story_id, None, [], joined=False, kind="new_outlet")
    comparison, article.story_id, outlets = best
    return Match(article.story_id, comparison, outlets, joined=True, kind="new_outlet")


def find_story(session: Session, doc: Document, terms: list[str], since: datetime, outlet: str | None,
               article_id: int | None, semantic: Embedder | None = None, template_stories: int = 3,
               published_at: datetime | None = None, thresholds: Thresholds | None = None,
               ) -> tuple[Comparison, int, list[str]] | None:
    """The stored story `doc` (content, furniture set aside) tells, if any, with its comparison
    and outlets; reads only. Candidates come from the term index; each is compared as a whole
    story (all its versions, each without its furniture), and the best-scoring one that is the
    same story wins. `published_at`: when `doc` was published, so that the time between it and
    each story's nearest telling is evidence too (see textdelta.compare_to_story)."""
    best: tuple[Comparison, int, list[str]] | None = None
    min_hits = max(3, math.ceil(len(terms) * MIN_SHARED_TERMS))
    for story_id, _hits in repo.candidate_stories(session, terms, since, outlet, article_id, min_hits=min_hits):
        members = [m for m in repo.story_versions(session, story_id) if m.article_id != article_id]
        if not members:
            continue
        nearest, first = _days_apart(published_at, members)
        comparison = compare_to_story(story_content(session, members, template_stories), doc, thresholds, semantic=semantic,
                                      days_apart=nearest, days_since_first=first)
        if comparison.same_story and (best is None or comparison.score > best[0].score):
            best = (comparison, story_id, sorted({m.outlet for m in members}))
            if comparison.score >= SETTLED_SCORE:
                break  # candidates come most-shared-terms first; a near-verbatim telling settles it
    return best


def _against_story(session: Session, article: Article, new: NewVersion, settings: Settings) -> Match:
    """A new version of a known article: what does it add to everything the story had?"""
    story_id = int(article.story_id or 0)
    version = new.version
    members = [m for m in repo.story_versions(session, story_id) if m.version_id != version.id]
    if version.source == "page":
        # The feed's summary of this same article is not "what the story had" once the page is read.
        members = [m for m in members if not (m.article_id == article.id and m.source == "feed")]
    previous = new.previous
    kind = "new_outlet" if previous is not None and previous.source == "feed" and version.source == "page" else "new_version"
    if not members:
        return Match(story_id, None, [], joined=False, kind=kind)
    comparison = compare_to_story(story_content(session, members, settings.template_stories), new.content, thresholds(settings),
                                  semantic=semantic_scorer(settings))
    return Match(story_id, comparison, sorted({m.outlet for m in members}), joined=False, kind=kind)


def thresholds(settings: Settings) -> Thresholds:
    """The comparison's thresholds, with the publication-time rules the settings tune."""
    return replace(default_thresholds(semantic_scorer(settings)), close_days=settings.same_event_days,
                   follow_up_days=settings.follow_up_days, next_day=settings.next_day_days)


def _days_apart(published_at: datetime | None, members: list[repo.StoryVersion]) -> tuple[float | None, float | None]:
    """Days between a publication and the story's nearest telling, and since its first telling
    (None when unknown)."""
    times = [_aware(m.published_at) for m in members if m.published_at is not None]
    if published_at is None or not times:
        return None, None
    moment = _aware(published_at)
    nearest = min(abs((moment - t).total_seconds()) for t in times) / 86400
    return nearest, max(0.0, (moment - min(times)).total_seconds() / 86400)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for what was stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def story_content(session: Session, members: list[repo.StoryVersion], template_stories: int) -> list[Document]:
    """The story's tellings as content: each version without its page's furniture, its
    outlet's template text included."""
    templates = repo.template_keys(session, {m.outlet for m in members}, template_stories)
    return [stored_content(m.title, m.blocks, templates.get(m.outlet, NO_TEMPLATES)) for m in members]


def semantic_scorer(settings: Settings) -> Embedder | None:
    """The sentence model (one per process, loaded on first use and kept), unless turned off."""
    if not settings.semantic:
        return None
    try:
        return default_embedder()
    except SemanticUnavailable as exc:
        raise ConfigError(f"semantic matching is on, but {exc}") from None
