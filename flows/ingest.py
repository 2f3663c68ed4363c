"""The ingest flow: the run of newsdelta.stages.run with its I/O stages as Prefect tasks, so
each is retried, timed out and shown in the UI on its own. The run itself (batching, order,
what is logged) is `run.ingest`, the same one the benchmark and the tests call."""

from __future__ import annotations

from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from newsdelta.flows.deliver import deliver_channels
from newsdelta.flows.report import ingest_markdown
from newsdelta.http_client import Fetcher
from newsdelta.settings import FeedConfig, Settings, load_settings
from newsdelta.stages import fetch, poll, run
from newsdelta.storage.db import engine_for


@task(name="poll_feed", retries=2, retry_delay_seconds=[5, 30], timeout_seconds=180, cache_policy=NO_CACHE)
def poll_feed(fetcher: Fetcher, database_url: str, feed_id: int) -> poll.PollResult:
    return poll.poll_feed(engine_for(database_url), fetcher, feed_id)


@task(name="fetch_articles", retries=2, retry_delay_seconds=[5, 30], timeout_seconds=900, cache_policy=NO_CACHE)
def fetch_articles(fetcher: Fetcher, database_url: str, article_ids: list[int], parallel: bool, threads: int,
                   first: int = 0) -> list[fetch.Fetched]:
    return fetch.fetch_batch(engine_for(database_url), fetcher, article_ids, parallel, threads, first)


@task(name="store_articles", retries=2, retry_delay_seconds=[1, 5], timeout_seconds=900, cache_policy=NO_CACHE)
def store_articles(database_url: str, batch: list[fetch.Fetched], settings: Settings, channels: list[str]) -> list[run.ArticleResult]:
    """Store and track in order; rerunning a batch after a failure is safe (uniqueness is in the database)."""
    return run.store_batch(engine_for(database_url), batch, settings, channels)


@flow(name="newsdelta-ingest", log_prints=True, task_runner=ThreadPoolTaskRunner[Any](max_workers=8))  # type: ignore[arg-type]  # Prefect's annotation rejects its own runner
def ingest(
    feed_urls: list[str] | None = None,
    article_urls: list[str] | None = None,
    config_path: str | None = None,
    only_due: bool = False,
    deliver: bool = True,
) -> dict[str, Any]:
    """One ingest run over the configured feeds, or only `feed_urls`, or only `article_urls`.

    Parameters are what a person may pass to a deployment run; settings (and secrets) are read
    from the config file and environment of the process running the flow, never sent as
    parameters, so they never reach the Prefect API."""
    settings = load_settings(config_path)
    url, channels = settings.database_url, settings.alert_channels
    with Fetcher(settings) as fetcher:
        steps = run.Steps(
            poll=lambda feed_id: poll_feed.submit(fetcher, url, feed_id),
            fetch=lambda batch, parallel, first: fetch_articles.submit(fetcher, url, batch, parallel, settings.concurrency, first),
            # quote(): Prefect would otherwise walk every block of every article looking for futures.
            store=lambda batch: store_articles(url, cast(Any, quote(batch)), settings, channels),  # unwrapped by Prefect
            deliver=(lambda: deliver_channels(settings)) if deliver else None,
            log=get_run_logger(),
        )
        feeds = [FeedConfig(url=u) for u in feed_urls] if feed_urls else None
        summary = run.ingest(settings, engine_for(url), steps, feeds=feeds, article_urls=article_urls, only_due=only_due).as_dict()
    create_markdown_artifact(key="newsdelta-ingest", markdown=ingest_markdown(summary, settings.public_url), description="newsdelta ingest run")
    return summary
