"""The delivery flow: send pending alerts, one task per channel so a failing channel never
holds up the others; within a channel, alerts go out in the order they were found."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from newsdelta.alerts.channels import make_channels
from newsdelta.alerts.outbox import DeliveryReport, deliver_channel
from newsdelta.alerts.render import environment
from newsdelta.settings import Settings, load_settings
from storage.db import engine_for


@task(name="deliver_channel", retries=2, retry_delay_seconds=[10, 60], timeout_seconds=600, cache_policy=NO_CACHE)
def deliver_channel_task(settings: Settings, channel: str, force: bool) -> DeliveryReport:
    engine = engine_for(settings.database_url)
    target = make_channels(settings, environment(settings.templates_dir), [channel])[channel]
    return deliver_channel(engine, settings, channel, target, force=force)


def deliver_channels(settings: Settings, force: bool = False) -> dict[str, Any]:
    """One task per channel, in whichever flow run calls it: the delivery flow, or the ingest
    flow at its end. Not a subflow there: a flow run of its own cost about a second of wall
    time per ingest (mostly Prefect's heartbeat thread winding down), a third of Prefect's
    fixed cost per run."""
    futures = [deliver_channel_task.submit(settings, c, force) for c in settings.alert_channels]
    report = DeliveryReport()
    for future in futures:
        report.merge(future.result())
    return {"sent": report.sent, "failed": report.failed}


@flow(name="newsdelta-deliver", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=4))
def deliver_alerts(config_path: str | None = None, force: bool = False) -> dict[str, Any]:
    return deliver_channels(load_settings(config_path), force)
