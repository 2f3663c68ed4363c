"""What an alert says, gathered from the database once, rendered per channel by templates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from newsdelta.settings import public_page
from newsdelta.stages.alerts import substance
from newsdelta.storage import repo
from newsdelta.storage.models import Article, Finding, Story
from textdelta.furniture import states_something

SNIPPET_CHARS = 700  # per paragraph; Slack caps a section at 3,000 characters


@dataclass
class OutletRef:
    outlet: str
    url: str
    title: str
    published_at: datetime | None


@dataclass
class AlertMessage:
    finding_id: int
    story_id: int
    story_title: str
    kind: str
    score: float
    article: OutletRef
    compared: list[OutletRef]
    sections: list[dict[str, Any]] = field(default_factory=list)  # {"heading", "under_heading", "paragraphs", "truncated"}
    dedup_key: str = ""
    story_url: str | None = None  # the finding on its story page in `newsdelta web`, when public_url is set
    amount: str = ""  # how much is new: "adds 3 paragraphs, 140 words"

    @property
    def headings(self) -> list[str]:
        return [s["heading"] for s in self.sections if s.get("heading")]

    @property
    def subject(self) -> str:
        what = f'adds "{self.headings[0]}"' if self.headings else "adds new material"
        if self.kind == "new_version":
            what = f'updated: {what}'
        return f'New section in story: "{_clip(self.story_title, 80)}" — {self.article.outlet or "an outlet"} {what}'


def build_message(session: Session, finding: Finding, dedup_key: str = "", public_url: str | None = None) -> AlertMessage:
    story = session.get(Story, finding.story_id)
    article = session.get(Article, finding.article_id)
    assert story is not None and article is not None
    compared_names = set(json.loads(finding.compared_outlets))
    compared = [
        _ref(a) for a in repo.story_articles(session, finding.story_id)
        if a.id != article.id and a.outlet in compared_names
    ]
    sections = []
    for s in json.loads(finding.new_sections):
        # The paragraphs that state something: a caption, a label or a fragment that came with
        # them is on the story page, not in the alert.
        quoted = [p for p in s["paragraphs"] if states_something(p)]
        if not quoted:
            continue
        sections.append({**s, "paragraphs": [_clip(p, SNIPPET_CHARS) for p in quoted],
                         "truncated": any(len(p) > SNIPPET_CHARS for p in quoted)})
    return AlertMessage(
        finding_id=repo.row_id(finding), story_id=finding.story_id, story_title=story.title or article.title, kind=finding.kind,
        score=finding.score, article=_ref(article), compared=compared, sections=sections, dedup_key=dedup_key,
        story_url=public_page(public_url, f"stories/{finding.story_id}#finding-{finding.id}"), amount=substance(finding).describe(),
    )


def _ref(article: Article) -> OutletRef:
    return OutletRef(outlet=article.outlet or article.url.split("/")[2], url=article.url, title=article.title, published_at=article.published_at)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
