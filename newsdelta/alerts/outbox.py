"""Delivery from the outbox: claim due rows, send, mark. A failing channel never blocks the
others; its rows stay visible with the last error and are retried with backoff.

Guarantee (README, "Delivery guarantees"): at-least-once per channel, with a stable
deduplication key. Rows are marked 'sending' in their own transaction before the send and
'sent' right after, so only a crash inside that window resends; a row stuck in 'sending'
is taken again after `STALE_AFTER`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine

from newsdelta import metrics
from newsdelta.alerts.channels import Channel
from newsdelta.alerts.message import AlertMessage, build_message
from newsdelta.errors import AlertDeliveryError
from newsdelta.settings import Settings
from newsdelta.storage import repo
from newsdelta.storage.db import session_scope
from newsdelta.storage.models import Alert, Finding, utcnow

STALE_AFTER = timedelta(minutes=10)
MAX_INLINE_RETRY_AFTER_S = 30.0
INLINE_ATTEMPTS = 3
MAX_BACKOFF = timedelta(hours=6)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def merge(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed.update(other.failed)


def claim(engine: Engine, channel: str, force: bool = False) -> list[int]:
    with session_scope(engine) as session:
        return [repo.row_id(a) for a in repo.claim_alerts(session, [channel], utcnow(), STALE_AFTER, force=force)]


def deliver_channel(engine: Engine, settings: Settings, name: str, channel: Channel, force: bool = False,
                    sleep: Callable[[float], None] = time.sleep) -> DeliveryReport:
    """One channel, in finding order. After the first failure the rest wait for the next run,
    so a down channel costs one timeout per run, not one per alert."""
    report = DeliveryReport()
    ids = claim(engine, name, force=force)
    if name in settings.digest_minutes:
        return _deliver_digest(engine, settings, name, channel, ids)
    for position, alert_id in enumerate(ids):
        error = send_alert(engine, channel, alert_id, sleep=sleep, public_url=settings.public_url)
        if error is None:
            report.sent.append(alert_id)
            continue
        report.failed[alert_id] = error
        release(engine, ids[position + 1 :])
        break
    return report


def send_alert(engine: Engine, channel: Channel, alert_id: int, sleep: Callable[[float], None] = time.sleep,
               public_url: str | None = None) -> str | None:
    """Send one claimed alert; honour a short Retry-After inline. Returns the error, or None.
    `public_url`: the web view's address, for the link to the story page."""
    with metrics.stage("alert"):
        return _send_alert(engine, channel, alert_id, sleep, public_url)


def _send_alert(engine: Engine, channel: Channel, alert_id: int, sleep: Callable[[float], None], public_url: str | None) -> str | None:
    message = _message(engine, alert_id, public_url)
    last: AlertDeliveryError | None = None
    for _attempt in range(INLINE_ATTEMPTS):
        try:
            channel.send(message)
        except AlertDeliveryError as exc:
            last = exc
            if exc.retry_after_s is not None and exc.retry_after_s <= MAX_INLINE_RETRY_AFTER_S:
                sleep(exc.retry_after_s)
                continue
            if exc.retry_after_s is None and exc.transient:
                sleep(1.0)
                continue
            break
        else:
            mark_sent(engine, alert_id)
            return None
    assert last is not None
    mark_failed(engine, alert_id, str(last), last.retry_after_s)
    return str(last)


def mark_sent(engine: Engine, alert_ids: list[int] | int) -> None:
    ids = [alert_ids] if isinstance(alert_ids, int) else alert_ids
    with session_scope(engine) as session:
        for alert_id in ids:
            alert = session.get(Alert, alert_id)
            assert alert is not None
            alert.status, alert.sent_at, alert.last_error = "sent", utcnow(), None
            alert.attempts += 1
            session.add(alert)


def mark_failed(engine: Engine, alert_id: int, error: str, retry_after_s: float | None = None) -> None:
    with session_scope(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        alert.attempts += 1
        backoff = min(MAX_BACKOFF, timedelta(seconds=30) * 2 ** min(alert.attempts - 1, 12))
        if retry_after_s:
            backoff = max(backoff, timedelta(seconds=retry_after_s))
        alert.status, alert.last_error, alert.next_attempt_at = "failed", error[:1000], utcnow() + backoff
        session.add(alert)


def release(engine: Engine, alert_ids: list[int]) -> None:
    """Give claimed but unsent rows back, untouched, for the next run."""
    if not alert_ids:
        return
    with session_scope(engine) as session:
        for alert_id in alert_ids:
            alert = session.get(Alert, alert_id)
            if alert is not None and alert.status == "sending":
                alert.status = "pending" if alert.attempts == 0 else "failed"
                session.add(alert)


def _message(engine: Engine, alert_id: int, public_url: str | None = None) -> AlertMessage:
    with session_scope(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        finding = session.get(Finding, alert.finding_id)
        assert finding is not None
        return build_message(session, finding, alert.dedup_key, public_url)


def _deliver_digest(engine: Engine, settings: Settings, name: str, channel: Channel, ids: list[int]) -> DeliveryReport:
    """One message for all due alerts of a digest channel, at most once per period."""
    report = DeliveryReport()
    period = timedelta(minutes=settings.digest_minutes[name])
    with session_scope(engine) as session:
        last_sent = max((a.sent_at for a in repo.alerts(session, status="sent") if a.channel == name and a.sent_at), default=None)
    if not ids or (last_sent is not None and utcnow() - last_sent < period):
        release(engine, ids)
        return report
    messages = [_message(engine, i, settings.public_url) for i in ids]
    digest = AlertMessage(
        finding_id=messages[0].finding_id, story_id=messages[0].story_id,
        story_title=f"{len(messages)} findings: " + "; ".join(m.story_title for m in messages)[:200], kind="digest",
        score=max(m.score for m in messages), article=messages[0].article, compared=[],
        sections=[{**s, "heading": f"{m.article.outlet}: {s.get('heading') or m.story_title}"} for m in messages for s in m.sections],
        dedup_key="digest-" + "-".join(str(i) for i in ids)[:40], story_url=settings.page_url(""),
    )
    try:
        channel.send(digest)
    except AlertDeliveryError as exc:
        for alert_id in ids:
            mark_failed(engine, alert_id, str(exc), exc.retry_after_s)
            report.failed[alert_id] = str(exc)
        return report
    mark_sent(engine, ids)
    report.sent += ids
    return report
