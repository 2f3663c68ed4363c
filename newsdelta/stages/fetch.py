"""Fetch stage: a batch of article pages over HTTP, each handed to the extract stage as soon as
it arrives (in worker processes for large runs), so the network and the CPU work overlap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from newsdelta import metrics, progress
from newsdelta.errors import ExtractionError, FetchError
from newsdelta.http_client import Fetcher, Page
from newsdelta.stages import workers
from newsdelta.stages.extract import Extracted
from newsdelta.storage import repo
from newsdelta.storage.db import session_scope


@dataclass
class Fetched:
    """What fetching and extracting one article produced: its text, or why there is none."""

    article_id: int
    extracted: Extracted | None = None
    error: str | None = None


def fetch_article(fetcher: Fetcher, url: str) -> Page:
    """Network I/O only; raises FetchError, whose `retryable` says whether a later try may help."""
    try:
        with metrics.stage("fetch"):
            return fetcher.get(url, "html")
    finally:
        progress.fetched_one()


def fetch_batch(engine: Engine, fetcher: Fetcher, article_ids: list[int], parallel: bool, threads: int,
                first: int = 0) -> list[Fetched]:
    """Fetch a batch of articles concurrently and extract each page (in worker processes when
    `parallel`). Per-article failures are returned as values, recorded when stored. `first`
    is the batch's place in the run's order: with several batches in flight, earlier
    articles are extracted first (see stages/workers.py)."""
    with session_scope(engine) as session:
        urls = repo.article_urls(session, article_ids)
    order = {aid: first + i for i, aid in enumerate(article_ids)}

    def one(aid: int) -> Fetched:
        if aid not in urls:
            return Fetched(aid, error="the article no longer exists")
        try:
            page = fetch_article(fetcher, urls[aid])
        except Exception as exc:  # noqa: BLE001 - recorded against the article
            return fetch_failed(aid, exc)
        # The page itself is not kept once extracted: a run's batches wait in memory for their
        # turn to be stored, and bodies are what would make that grow with the run.
        extracted = workers.extract(page.body, page.url, parallel, priority=order[aid])
        if isinstance(extracted, ExtractionError):
            return Fetched(aid, error=str(extracted))
        return Fetched(aid, extracted=extracted)

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(article_ids)))) as pool:
        return list(pool.map(one, article_ids))


def fetch_failed(article_id: int, exc: BaseException) -> Fetched:
    """The failure as the article's recorded error (the recheck schedule backs off either way)."""
    if isinstance(exc, FetchError):
        return Fetched(article_id, error=str(exc))
    return Fetched(article_id, error=f"{type(exc).__name__}: {exc}"[:500])
