"""Queue-alerts stage: one outbox row per finding and configured channel, written in the same
transaction as the finding (so an alert is never lost) and unique per channel and content (so
no channel hears the same material twice). The deliver stage sends them."""

from __future__ import annotations

import hashlib

from sqlmodel import Session

from newsdelta.storage import repo
from newsdelta.storage.models import Finding


def queue_alerts(session: Session, finding: Finding, channels: list[str]) -> list[int]:
    """The ids of the outbox rows added (none for a channel that already has this material)."""
    return repo.enqueue_alerts(session, finding, channels, dedup_key=alert_key(finding))


def alert_key(finding: Finding) -> str:
    """Same story, same new material: same key."""
    return hashlib.sha256(f"{finding.story_id}:{finding.content_key}".encode()).hexdigest()[:40]
