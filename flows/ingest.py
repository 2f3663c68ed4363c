"""The ingest flow: poll → fetch → extract → store → match → findings → alerts.

Thin by design: each task wraps one function of newsdelta.pipeline, where the logic lives.
Network I/O has retries and timeouts; storing happens one article at a time in publication
order, so stories form the way they were published and SQLite sees one writer."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.deliver import deliver_alerts
from flows.report import ingest_markdown
from newsdelta import pipeline, workers
from newsdelta.errors import ExtractionError, FetchError
from newsdelta.extract import Extracted
from newsdelta.fetch import Fetcher, Page
from newsdelta.settings import FeedConfig, Settings, load_settings
from storage.db import engine_for

ARTICLES_PER_RUN = 500


def _retryable(task, task_run, state) -> bool:  # type: ignore[no-untyped-def]
    """Retry only failures that may heal (timeouts, 5xx, 429); a 404 or a PDF will not."""
    try:
        state.result()
    except FetchError as exc:
        return exc.retryable
    except Exception:
        return True
    return False


@task(name="poll_feed", retries=2, retry_delay_seconds=[5, 30], timeout_seconds=180, cache_policy=NO_CACHE)
def poll_feed(fetcher: Fetcher, database_url: str, feed_id: int) -> pipeline.PollResult:
    return pipeline.poll_feed(engine_for(database_url), fetcher, feed_id)


@task(name="fetch_article", retries=2, retry_delay_seconds=[2, 15], retry_condition_fn=_retryable,
      timeout_seconds=120, cache_policy=NO_CACHE)
def fetch_article(fetcher: Fetcher, article_id: int, url: str) -> Page:
    return pipeline.fetch_article(fetcher, article_id, url)


@task(name="extract_article", timeout_seconds=300, cache_policy=NO_CACHE)
def extract_article(page: Page, parallel: bool) -> Extracted | ExtractionError:
    return workers.extract(page.body, page.url, parallel)


@task(name="store_article", retries=2, retry_delay_seconds=[1, 5], timeout_seconds=300, cache_policy=NO_CACHE)
def store_article(database_url: str, fetched: pipeline.Fetched, settings: Settings, channels: list[str]) -> pipeline.ArticleResult:
    return pipeline.process_article(engine_for(database_url), fetched, settings, channels)


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
            due = pipeline.articles_due(engine, ARTICLES_PER_RUN, feed_ids if feed_urls else None)
        parallel = len(due) >= workers.MIN_ARTICLES_FOR_POOL
        pages = {aid: fetch_article.submit(fetcher, aid, pipeline.article_url(engine, aid)) for aid in due}
        texts = {aid: extract_article.submit(pages[aid], parallel) for aid in due}
        for aid in due:  # articles_due orders by publication, so stories form in that order
            try:
                fetched = pipeline.Fetched(aid, page=pages[aid].result(), extracted=texts[aid].result())
            except Exception as exc:  # noqa: BLE001 - the error is recorded against the article
                fetched = pipeline.fetched_error(aid, exc)
            result = store_article(settings.database_url, fetched, settings, channels)
            articles.append(result)
            logger.info("article %s: %s%s", result.url, result.status, f" ({result.error})" if result.error else "")
    delivery = deliver_alerts(config_path=config_path) if deliver else None
    summary = {
        "feeds": [asdict(p) for p in polls],
        "articles": [asdict(a) for a in articles],
        "findings": [a.track.get("finding_id") for a in articles if a.track.get("finding_id")],
        "alerts": delivery or {"sent": [], "failed": {}},
    }
    create_markdown_artifact(key="newsdelta-ingest", markdown=ingest_markdown(summary), description="newsdelta ingest run")
    return summary
