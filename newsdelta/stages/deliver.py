"""Deliver stage: send a channel's due alerts from the outbox, in the order they were found.
Each channel is delivered on its own (a Prefect task per channel in the flows), so a failing
channel never holds up another; failed rows keep their error and are retried with backoff
(newsdelta/alerts/outbox.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from newsdelta.alerts.channels import make_channels
from newsdelta.alerts.outbox import STALE_AFTER, DeliveryReport
from newsdelta.alerts.outbox import deliver_channel as send_channel
from newsdelta.alerts.render import environment
from newsdelta.settings import Settings
from newsdelta.storage import repo
from newsdelta.storage.db import session_scope
from newsdelta.storage.models import utcnow


def deliver_channel(engine: Engine, settings: Settings, channel: str, force: bool = False,
                    sleep: Callable[[float], None] = time.sleep) -> DeliveryReport:
    """Send `channel`'s due alerts (`force`: also those waiting out a backoff)."""
    target = make_channels(settings, environment(settings.templates_dir), [channel])[channel]
    return send_channel(engine, settings, channel, target, force=force, sleep=sleep)


def alerts_due(engine: Engine, settings: Settings, force: bool = False) -> bool:
    """Whether a delivery now would have anything to send on the configured channels."""
    with session_scope(engine) as session:
        return repo.any_alert_due(session, settings.alert_channels, utcnow(), STALE_AFTER, force=force)


def deliver_all(engine: Engine, settings: Settings, channels: list[str] | None = None, force: bool = False,
                sleep: Callable[[float], None] = time.sleep) -> DeliveryReport:
    """Every configured channel (or only `channels`), one after another; the flows run one
    task per channel instead."""
    report = DeliveryReport()
    for channel in channels if channels is not None else settings.alert_channels:
        report.merge(deliver_channel(engine, settings, channel, force, sleep))
    return report
