"""Record-finding stage: the sections and paragraphs of an article that have no counterpart in
everything its story already had (all outlets, all versions), stored once per story and
content."""

from __future__ import annotations

import json

from sqlmodel import Session

from newsdelta.stages.match import Match
from newsdelta.stages.store import NewVersion
from newsdelta.storage import repo
from newsdelta.storage.models import Article, Finding
from textdelta.normalize import text_key


def record_finding(session: Session, article: Article, new: NewVersion, match: Match) -> Finding | None:
    """The finding, or None when the article adds nothing, was compared with nothing, or the
    story already has this same new material (a third outlet repeating it)."""
    comparison = match.comparison
    if comparison is None or not comparison.new_sections:
        return None
    # The comparison read the article's content, where a paragraph the page repeats is there
    # once (textdelta.furniture): a finding never quotes the same text twice.
    sections = [{"heading": s.heading, "under_heading": s.under_heading, "paragraphs": s.paragraphs} for s in comparison.new_sections]
    content = "\n".join(p for s in comparison.new_sections for p in s.paragraphs)
    return repo.add_finding(
        session, story_id=match.story_id, article_id=article.id, version_id=new.version.id, kind=match.kind, outlet=article.outlet,
        compared_outlets=json.dumps(match.outlets, ensure_ascii=False), score=round(comparison.score, 4),
        new_sections=json.dumps(sections, ensure_ascii=False), new_sentences=json.dumps(comparison.new_sentences, ensure_ascii=False),
        content_key=text_key(content),
    )
