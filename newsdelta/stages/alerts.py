"""Queue-alerts stage: one outbox row per finding and configured channel, written in the same
transaction as the finding (so an alert is never lost) and unique per channel and content (so
no channel hears the same material twice). The deliver stage sends them.

Only a finding worth an interruption is queued: one that adds substance, at least one sentence
stating something and `alerts_min_new_words` words in such sentences. Smaller findings stay
stored and shown (`newsdelta show`, the web view) without being sent."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlmodel import Session

from newsdelta.storage import repo
from newsdelta.storage.models import Finding
from textdelta.furniture import states_something, word_count


@dataclass(frozen=True)
class Substance:
    """How much a finding adds: its new paragraphs that state something (a sentence, not a
    heading, a caption, a label or a fragment) and their words, and how many short lines it
    also holds. Alerts quote the paragraphs that state something; the story page shows all."""

    paragraphs: int
    words: int
    short_lines: int = 0

    def worth_alert(self, min_new_words: int) -> bool:
        return self.paragraphs > 0 and self.words >= min_new_words

    def describe(self) -> str:
        """"adds 3 paragraphs, 140 words"."""
        text = f"adds {self.paragraphs} paragraph{'s' * (self.paragraphs != 1)}, {self.words} word{'s' * (self.words != 1)}"
        if self.short_lines:
            text += f" (and {self.short_lines} short line{'s' * (self.short_lines != 1)} on the story page)"
        return text


def substance(finding: Finding) -> Substance:
    paragraphs = [p for s in json.loads(finding.new_sections) for p in s["paragraphs"]]
    statements = [p for p in paragraphs if states_something(p)]
    return Substance(paragraphs=len(statements), words=sum(word_count(p) for p in statements),
                     short_lines=len(paragraphs) - len(statements))


def queue_alerts(session: Session, finding: Finding, channels: list[str], min_new_words: int = 0) -> list[int]:
    """The ids of the outbox rows added: none for a channel that already has this material, and
    none at all for a finding below the alert threshold."""
    if not substance(finding).worth_alert(min_new_words):
        return []
    return repo.enqueue_alerts(session, finding, channels, dedup_key=alert_key(finding))


def alert_key(finding: Finding) -> str:
    """Same story, same new material: same key."""
    return hashlib.sha256(f"{finding.story_id}:{finding.content_key}".encode()).hexdigest()[:40]
