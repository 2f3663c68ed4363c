"""Record-finding stage: the sections and paragraphs of an article that have no counterpart in
everything its story already had (all outlets, all versions), stored once per story and
content."""

from __future__ import annotations

import json
from typing import Any

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
    sections: list[dict[str, Any]] = []
    quoted: set[str] = set()
    for section in comparison.new_sections:
        # A finding never quotes the same text twice, wherever the page repeated it.
        paragraphs = []
        for paragraph in section.paragraphs:
            if text_key(paragraph) not in quoted:
                quoted.add(text_key(paragraph))
                paragraphs.append(paragraph)
        if paragraphs or (section.heading and not section.paragraphs):
            sections.append({"heading": section.heading, "under_heading": section.under_heading, "paragraphs": paragraphs})
    if not sections:
        return None
    content = "\n".join(p for s in sections for p in s["paragraphs"])
    return repo.add_finding(
        session, story_id=match.story_id, article_id=article.id, version_id=new.version.id, kind=match.kind, outlet=article.outlet,
        compared_outlets=json.dumps(match.outlets, ensure_ascii=False), score=round(comparison.score, 4),
        new_sections=json.dumps(sections, ensure_ascii=False), new_sentences=json.dumps(comparison.new_sentences, ensure_ascii=False),
        content_key=text_key(content),
    )
