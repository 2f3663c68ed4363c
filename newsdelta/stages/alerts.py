"""Queue-alerts stage: one outbox row per finding and configured channel, written in the same
transaction as the finding (so an alert is never lost) and unique per channel and content (so
no channel hears the same material twice). The deliver stage sends them.

Only a finding worth an interruption is queued: one that adds substance, at least one sentence
stating something and `alerts_min_new_words` words. Smaller findings stay stored and shown
(`newsdelta show`, the web view) without being sent."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlmodel import Session

from newsdelta.storage import repo
from newsdelta.storage.models import Finding
from textdelta.furniture import states_something


@dataclass(frozen=True)
class Substance:
    """How much a finding adds: its new paragraphs, their words, and how many of those
    paragraphs state something (a sentence, not a heading, a caption or a fragment)."""

    paragraphs: int
    words: int
    statements: int

    def worth_alert(self, min_new_words: int) -> bool:
        return self.statements > 0 and self.words >= min_new_words

    def describe(self) -> str:
        """"adds 3 paragraphs, 140 words"."""
        return f"adds {self.paragraphs} paragraph{'s' * (self.paragraphs != 1)}, {self.words} word{'s' * (self.words != 1)}"


def substance(finding: Finding) -> Substance:
    paragraphs = [p for s in json.loads(finding.new_sections) for p in s["paragraphs"]]
    return Substance(paragraphs=len(paragraphs), words=sum(len(p.split()) for p in paragraphs),
                     statements=sum(1 for p in paragraphs if states_something(p)))


def queue_alerts(session: Session, finding: Finding, channels: list[str], min_new_words: int = 0) -> list[int]:
    """The ids of the outbox rows added: none for a channel that already has this material, and
    none at all for a finding below the alert threshold."""
    if not substance(finding).worth_alert(min_new_words):
        return []
    return repo.enqueue_alerts(session, finding, channels, dedup_key=alert_key(finding))


def alert_key(finding: Finding) -> str:
    """Same story, same new material: same key."""
    return hashlib.sha256(f"{finding.story_id}:{finding.content_key}".encode()).hexdigest()[:40]
