"""The delivery flow: send pending alerts, one task per channel so a failing channel never
holds up the others; within a channel, alerts go out in the order they were found."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.task_runners import ThreadPoolTaskRunner

from newsdelta.alerts.outbox import DeliveryReport
from newsdelta.errors import ConfigError
from newsdelta.settings import Settings, load_settings
from newsdelta.stages import deliver
from newsdelta.storage.db import engine_for


def _worth_retrying(_task: Any, _run: TaskRun, state: State[Any]) -> bool:
    """A configuration error (a Secret block that does not exist, an unreadable CA file) fails
    the same way on every try: it is reported at once, not after the retry delays."""
    return not isinstance(state.data, ConfigError)


@task(name="deliver_channel", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=_worth_retrying,
      timeout_seconds=600, cache_policy=NO_CACHE)
def deliver_channel(settings: Settings, channel: str, force: bool) -> DeliveryReport:
    return deliver.deliver_channel(engine_for(settings.database_url), settings, channel, force=force)


def deliver_channels(settings: Settings, force: bool = False) -> DeliveryReport:
    """One task per channel, in whichever flow run calls it: the delivery flow, or the ingest
    flow at its end (tasks there, not a subflow: a flow run of its own costs a fixed wind-down
    time per ingest)."""
    futures = [deliver_channel.submit(settings, c, force) for c in settings.alert_channels]
    report = DeliveryReport()
    for future in futures:
        report.merge(future.result())
    return report


@flow(name="newsdelta-deliver", log_prints=True, task_runner=ThreadPoolTaskRunner[Any](max_workers=4))  # type: ignore[arg-type]  # Prefect's annotation rejects its own runner
def deliver_alerts(config_path: str | None = None, force: bool = False) -> dict[str, Any]:
    report = deliver_channels(load_settings(config_path), force)
    return {"sent": report.sent, "failed": report.failed}
