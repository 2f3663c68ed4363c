"""The ingest flow: poll → fetch → extract → store → match → findings → alerts.

Thin by design: each task wraps one function of newsdelta.pipeline, where the logic lives.
Articles go through in batches (one task run per BATCH articles: per-article task runs cost
Prefect more bookkeeping than the work itself, see README "Throughput"; the run's last few are
smaller, see LAST_BATCH); within a batch, pages
are fetched concurrently and extracted in worker processes, and a failed article is a recorded
value, not a failed task. Batches are stored in publication order, so stories form the way
they were published. Task retries cover crashes and database faults; an article whose fetch
failed is due again on the next run, with backoff."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows.deliver import deliver_channels
from flows.report import ingest_markdown
from newsdelta import pipeline, workers
from newsdelta.fetch import Fetcher
from newsdelta.settings import FeedConfig, Settings, load_settings
from storage.db import engine_for

BATCH = 100  # articles per task run: each task run costs Prefect's server ~25 ms of CPU
# The run's last BATCH articles go in batches this small: the last batch is stored after every
# other article is extracted, on one core while the other has nothing left to do.
LAST_BATCH = 25
# Batches being fetched and extracted while the one before them is stored. Two keep the
# extraction workers fed; more only add fetch threads contending with the storing thread
# (measured on 1,000 articles: 49-52 articles/s with two, 45-47 with four).
BATCHES_IN_FLIGHT = 2


@task(name="poll_feed", retries=2, retry_delay_seconds=[5, 30], timeout_seconds=180, cache_policy=NO_CACHE)
def poll_feed(fetcher: Fetcher, database_url: str, feed_id: int) -> pipeline.PollResult:
    return pipeline.poll_feed(engine_for(database_url), fetcher, feed_id)


@task(name="fetch_articles", retries=2, retry_delay_seconds=[5, 30], timeout_seconds=900, cache_policy=NO_CACHE)
def fetch_articles(fetcher: Fetcher, database_url: str, article_ids: list[int], parallel: bool, threads: int,
                   first: int = 0) -> list[pipeline.Fetched]:
    """A batch: one task run per BATCH articles keeps Prefect's bookkeeping small next to the work."""
    return pipeline.fetch_and_extract(engine_for(database_url), fetcher, article_ids, parallel, threads, first)


@task(name="store_articles", retries=2, retry_delay_seconds=[1, 5], timeout_seconds=900, cache_policy=NO_CACHE)
def store_articles(database_url: str, batch: list[pipeline.Fetched], settings: Settings, channels: list[str]) -> list[pipeline.ArticleResult]:
    """Store and track in order; rerunning a batch after a failure is safe (uniqueness is in the database)."""
    return pipeline.process_batch(engine_for(database_url), batch, settings, channels)


@flow(name="newsdelta-ingest", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=8))
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
    logger = get_run_logger()
    settings = load_settings(config_path)
    engine = engine_for(settings.database_url)
    channels = settings.alert_channels
    polls: list[pipeline.PollResult] = []
    articles: list[pipeline.ArticleResult] = []
    with Fetcher(settings) as fetcher:
        feed_ids: list[int] | None = None
        if article_urls:
            due = pipeline.add_urls(engine, article_urls)
        else:
            feeds = [FeedConfig(url=u) for u in feed_urls] if feed_urls else list(settings.feeds)
            feed_ids = pipeline.sync_feeds(engine, feeds)
            to_poll = pipeline.feeds_due(engine, feed_ids) if only_due else feed_ids
            polls = [f.result() for f in [poll_feed.submit(fetcher, settings.database_url, i) for i in to_poll]]
            for p in polls:
                logger.info("feed %s: %s, %d entries, %d new%s", p.url, p.status, p.entries_seen, p.new_entries, f" ({p.error})" if p.error else "")
            due = pipeline.articles_due(engine, settings.articles_per_run, feed_ids if feed_urls else None)
        parallel = len(due) >= workers.MIN_ARTICLES_FOR_POOL
        batches = pipeline.split_batches(due, BATCH, LAST_BATCH)
        fetched = pipeline.fetched_in_order(
            batches, lambda batch, first: fetch_articles.submit(fetcher, settings.database_url, batch, parallel, settings.concurrency, first),
            BATCHES_IN_FLIGHT)
        for n, batch in enumerate(fetched, 1):  # articles_due orders by publication, so stories form in that order
            # quote(): Prefect would otherwise walk every block of every article looking for
            # futures in the parameters (measured: ~45 ms per batch of 50, most of its overhead).
            results = store_articles(settings.database_url, quote(batch), settings, channels)
            articles.extend(results)
            # One line per batch, and one per article that needs a look: a line per stored
            # article cost the run more (each log line is sent to the Prefect API) than storing it.
            for result in results:
                if result.error:
                    logger.warning("article %s: %s (%s)", result.url, result.status, result.error)
            counts = Counter(r.status for r in results)
            logger.info("batch %d/%d: %s", n, len(batches), ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    delivery = deliver_channels(settings) if deliver else None
    summary = {
        "feeds": [asdict(p) for p in polls],
        "articles": [asdict(a) for a in articles],
        "findings": [a.track.get("finding_id") for a in articles if a.track.get("finding_id")],
        "alerts": delivery or {"sent": [], "failed": {}},
    }
    create_markdown_artifact(key="newsdelta-ingest", markdown=ingest_markdown(summary), description="newsdelta ingest run")
    return summary
