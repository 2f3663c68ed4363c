"""The ingest stages as plain functions: poll a feed, fetch an article, process what was fetched.

Flows in `flows/` wrap these in Prefect tasks (retries, timeouts, concurrency); tests and the
CLI call them directly. Every stage records its outcome in the database, so a failure is
visible and the next run picks the work up again."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Protocol
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from newsdelta import metrics
from newsdelta.errors import ExtractionError, FetchError, RateLimited
from newsdelta.extract import Extracted, extract_article
from newsdelta.feeds import FeedParseError, parse_feed
from newsdelta.fetch import Fetcher, Page
from newsdelta.settings import FeedConfig, Settings
from newsdelta.tracking import TrackResult, store_and_track
from newsdelta.urls import normalize_url
from storage import repo
from storage.db import session_scope
from storage.models import Article, Feed, utcnow

log = logging.getLogger(__name__)

MAX_FEED_BACKOFF = timedelta(hours=24)
MAX_ARTICLE_FAILURES = 6


@dataclass
class PollResult:
    feed_id: int
    url: str
    outlet: str
    status: str  # ok | malformed | not_modified | unchanged | deferred | error
    http_status: int | None = None
    entries_seen: int = 0
    new_entries: int = 0
    error: str | None = None


@dataclass
class Fetched:
    """What fetching an article produced: a page, or the error that prevented it."""

    article_id: int
    page: Page | None = None
    extracted: Extracted | ExtractionError | None = None  # when extracted ahead of storing (in a worker)
    error: str | None = None
    retryable: bool = True
    retry_after_s: float | None = None


@dataclass
class ArticleResult:
    article_id: int
    url: str
    status: str  # stored | unchanged | feed_only | failed
    source: str | None = None
    error: str | None = None
    track: dict = field(default_factory=dict)


# --- feeds ---------------------------------------------------------------------------------

def sync_feeds(engine: Engine, feeds: list[FeedConfig]) -> list[int]:
    """Make sure each configured feed has a row (and its health record); return their ids."""
    with session_scope(engine) as session:
        return [repo.ensure_feed(session, f.url, f.outlet, int(f.interval_minutes * 60)).id for f in feeds]  # type: ignore[misc]


def feeds_due(engine: Engine, feed_ids: list[int], now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    with session_scope(engine) as session:
        return [f.id for f in repo.feeds(session) if f.id in feed_ids and (f.next_poll_at is None or f.next_poll_at <= now)]  # type: ignore[misc]


def poll_feed(engine: Engine, fetcher: Fetcher, feed_id: int) -> PollResult:
    """Fetch (conditionally) and parse one feed; store new entries as pending articles."""
    with metrics.stage("poll"):
        return _poll_feed(engine, fetcher, feed_id)


def _poll_feed(engine: Engine, fetcher: Fetcher, feed_id: int) -> PollResult:
    with session_scope(engine) as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        url, outlet, etag, modified, body_hash = feed.url, feed.outlet, feed.etag, feed.last_modified, feed.body_hash
    result = PollResult(feed_id=feed_id, url=url, outlet=outlet, status="ok")
    page: Page | None = None
    rows: list[dict] = []
    retry_after_s = 0.0
    feed_title: str | None = None
    try:
        page = fetcher.get(url, "feed", etag=etag, last_modified=modified)
        result.http_status = page.status
        digest = hashlib.sha256(page.body).hexdigest() if not page.not_modified else body_hash
        if page.not_modified:
            result.status = "not_modified"
        elif digest == body_hash:
            result.status = "unchanged"
        else:
            parsed = parse_feed(page.body, page.url, page.headers.get("content-type"))
            feed_title = parsed.title.strip()[:1000] or None
            if not outlet:
                outlet = result.outlet = (feed_title or urlsplit(url).hostname or "")[:200]
            result.entries_seen = len(parsed.entries)
            if parsed.problem:
                result.status, result.error = "malformed", parsed.problem
            rows = [
                {"url": e.url, "feed_id": feed_id, "outlet": outlet, "entry_id": e.entry_id, "title": e.title,
                 "published_at": e.published_at, "byline": e.author,
                 "feed_blocks": json.dumps(e.content_blocks, ensure_ascii=False) if e.content_blocks else None}
                for e in parsed.entries
            ]
    except RateLimited as exc:
        result.status, result.http_status, result.error = "deferred", exc.status, str(exc)
        retry_after_s = exc.retry_after_s
    except (FetchError, FeedParseError) as exc:
        result.status, result.error = "error", str(exc)
        result.http_status = getattr(exc, "status", None)
    with session_scope(engine) as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        if feed_title:
            feed.title = feed_title
        if not feed.outlet and result.outlet:
            feed.outlet = result.outlet
        if rows:
            result.new_entries = len(repo.add_articles(session, rows))
        if page is not None and result.status in ("ok", "malformed", "unchanged", "not_modified"):
            feed.etag = page.headers.get("etag", feed.etag) if not page.not_modified else feed.etag
            feed.last_modified = page.headers.get("last-modified", feed.last_modified) if not page.not_modified else feed.last_modified
            if not page.not_modified:
                feed.body_hash = hashlib.sha256(page.body).hexdigest()
        failed = result.status in ("error", "deferred")
        repo.record_poll(session, feed, status=result.status, http_status=result.http_status, seen=result.entries_seen,
                         new=result.new_entries, error=result.error, failed=failed,
                         next_poll_at=_next_poll(feed, failed, retry_after_s))
    return result


def _next_poll(feed: Feed, failed: bool, retry_after_s: float) -> datetime:
    """Next due time: the feed's interval; longer when the server asked us to wait; doubling
    per consecutive failure (capped at a day) so a sick feed is not hammered."""
    interval = timedelta(seconds=feed.poll_interval_s)
    if retry_after_s:
        return utcnow() + max(interval, timedelta(seconds=retry_after_s))
    if failed:
        return utcnow() + min(MAX_FEED_BACKOFF, interval * 2 ** min(feed.consecutive_failures + 1, 8))
    return utcnow() + interval


# --- articles ------------------------------------------------------------------------------

def add_urls(engine: Engine, urls: list[str], outlet: str = "") -> list[int]:
    """Articles to track by hand (`newsdelta track URL`): inserted if new, made due now."""
    ids = []
    with session_scope(engine) as session:
        for url in urls:
            norm = normalize_url(url)
            repo.add_articles(session, [{"url": norm, "outlet": outlet}])
            article = repo.article_by_url(session, norm)
            assert article is not None
            article.next_check_at = utcnow()
            session.add(article)
            ids.append(article.id)
    return ids  # type: ignore[return-value]


def articles_due(engine: Engine, limit: int, feed_ids: list[int] | None = None) -> list[int]:
    with session_scope(engine) as session:
        return [a.id for a in repo.articles_due(session, utcnow(), limit, feed_ids)]  # type: ignore[misc]


def article_url(engine: Engine, article_id: int) -> str:
    with session_scope(engine) as session:
        article = session.get(Article, article_id)
        assert article is not None
        return article.url


def article_urls(engine: Engine, article_ids: list[int]) -> dict[int, str]:
    """The URLs of a batch of articles, in one query (a session per article cost ~0.3 ms each)."""
    with session_scope(engine) as session:
        return repo.article_urls(session, article_ids)


def split_batches(ids: list[int], size: int, last_size: int) -> list[list[int]]:
    """`ids` in order, in batches of `size`, except the last `size` ids, which go in batches of
    `last_size`: batches are stored one after another, and the last one is stored after every
    other article is extracted, when the extraction workers have nothing left to do."""
    cut = max(0, len(ids) - size)
    head, tail = ids[:cut], ids[cut:]
    return [head[i : i + size] for i in range(0, len(head), size)] + [tail[i : i + last_size] for i in range(0, len(tail), last_size)]


class _Pending(Protocol):
    def result(self) -> Any: ...


def fetched_in_order(batches: list[list[int]], submit: Callable[[list[int], int], _Pending], ahead: int) -> Iterator[Any]:
    """Each batch's result, in order, with up to `ahead` batches submitted beyond the one being
    handed out: the caller stores a batch while the next ones are fetched and extracted.
    `submit(batch, first)` starts a batch (`first`: its first article's place in the run) and
    returns anything with `.result()` (a Prefect future in the flow, a thread future without it)."""
    firsts = [0]
    for batch in batches:
        firsts.append(firsts[-1] + len(batch))
    pending = {k: submit(batches[k], firsts[k]) for k in range(min(ahead, len(batches)))}
    for n in range(len(batches)):
        result = pending.pop(n).result()
        if n + ahead < len(batches):
            pending[n + ahead] = submit(batches[n + ahead], firsts[n + ahead])
        yield result


def fetch_article(fetcher: Fetcher, article_id: int, url: str) -> Page:
    """Network I/O only; raises FetchError so a task wrapper can retry retryable failures."""
    with metrics.stage("fetch"):
        return fetcher.get(url, "html")


def fetch_and_extract(engine: Engine, fetcher: Fetcher, article_ids: list[int], parallel: bool, threads: int,
                      first: int = 0) -> list[Fetched]:
    """Fetch a batch of articles concurrently and extract them (in worker processes when
    `parallel`). Per-article failures are returned as values, recorded when stored. `first`
    is the batch's place in the run's order: with several batches in flight, earlier
    articles are extracted first (see newsdelta.workers)."""
    from concurrent.futures import ThreadPoolExecutor

    from newsdelta import workers

    urls = article_urls(engine, article_ids)

    def one(aid: int) -> Fetched:
        try:
            page = fetch_article(fetcher, aid, urls[aid])
        except Exception as exc:  # noqa: BLE001 - recorded against the article
            return fetched_error(aid, exc)
        # The page itself is not kept once extracted: a run's batches wait in memory for their
        # turn to be stored, and bodies are what would make that grow with the run.
        return Fetched(aid, extracted=workers.extract(page.body, page.url, parallel, priority=order[aid]))

    order = {aid: first + i for i, aid in enumerate(article_ids)}
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(article_ids)))) as pool:
        return list(pool.map(one, article_ids))


def fetched_error(article_id: int, exc: BaseException) -> Fetched:
    if isinstance(exc, FetchError):
        return Fetched(article_id, error=str(exc), retryable=exc.retryable, retry_after_s=getattr(exc, "retry_after_s", None))
    return Fetched(article_id, error=f"{type(exc).__name__}: {exc}"[:500])


def process_article(engine: Engine, fetched: Fetched, settings: Settings, channels: list[str]) -> ArticleResult:
    """Extract the page (or fall back to the feed's own text), then store and track it, in a
    transaction of its own."""
    with session_scope(engine) as session:
        return _process(session, fetched, settings, channels)


def process_batch(engine: Engine, batch: list[Fetched], settings: Settings, channels: list[str]) -> list[ArticleResult]:
    """Store and track a batch in order, in one transaction: a commit per article cost more than
    the article's own queries. Storing again is always safe (every insert is unique in the
    database), so when the batch fails it is stored again one article per transaction, where a
    failing article fails alone and the rest are kept. A database that is down or locked
    (OperationalError) is not retried article by article: that would only wait out the same
    lock twenty times; it fails the batch, and the task's retry stores it again."""
    try:
        with session_scope(engine) as session:
            return [_process(session, fetched, settings, channels) for fetched in batch]
    except OperationalError:
        raise
    except Exception as exc:  # noqa: BLE001 - isolated below
        if len(batch) == 1:
            raise
        log.warning("a batch of %d articles failed (%s: %s); storing them one at a time", len(batch), type(exc).__name__, exc)
    results = []
    for fetched in batch:
        try:
            results.append(process_article(engine, fetched, settings, channels))
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - this article stays due and is tried again next run
            log.error("article %s could not be stored: %s: %s", fetched.article_id, type(exc).__name__, exc)
            results.append(ArticleResult(article_id=fetched.article_id, url="", status="failed",
                                         error=f"{type(exc).__name__}: {exc}"[:500]))
    return results


def _process(session: Session, fetched: Fetched, settings: Settings, channels: list[str]) -> ArticleResult:
    with metrics.stage("store"):
        article = session.get(Article, fetched.article_id)
        assert article is not None
        result = ArticleResult(article_id=article.id, url=article.url, status="failed")  # type: ignore[arg-type]
        extracted = None
        error = fetched.error
        if isinstance(fetched.extracted, ExtractionError):
            error = str(fetched.extracted)
        elif fetched.extracted is not None:
            extracted = fetched.extracted
        elif fetched.page is not None:
            try:
                with metrics.stage("extract"):
                    extracted = extract_article(fetched.page.body, fetched.page.url)
            except ExtractionError as exc:
                error = str(exc)
        if extracted is not None:
            track = store_and_track(session, article, title=extracted.title or article.title, byline=extracted.byline,
                                    published_at=extracted.published_at or article.published_at, blocks=extracted.blocks,
                                    source="page", settings=settings, channels=channels,
                                    terms=extracted.terms)
            article.status, article.source, article.last_error = "ok", "page", None
            result.status, result.source = ("stored" if track.version_id else "unchanged"), "page"
            _schedule_recheck(article, settings, success=True)
        elif article.feed_blocks and json.loads(article.feed_blocks):
            track = store_and_track(session, article, title=article.title, byline=article.byline, published_at=article.published_at,
                                    blocks=json.loads(article.feed_blocks), source="feed", settings=settings, channels=channels)
            article.status, article.source, article.last_error = "feed_only", article.source or "feed", error
            result.status, result.source, result.error = "feed_only", "feed", error
            _schedule_recheck(article, settings, success=False)
        else:
            track = TrackResult(article_id=article.id)  # type: ignore[arg-type]
            article.last_error, result.error = error, error
            article.status = "failed" if article.status in ("pending", "failed") else article.status
            _schedule_recheck(article, settings, success=False)
        result.track = asdict(track)
        session.add(article)
        session.flush()
    return result


def _schedule_recheck(article: Article, settings: Settings, success: bool) -> None:
    """Decaying re-fetch schedule: often in the first hours, rarely after days, never after
    `recheck_for_days`. Failures back off the same way and give up after a few tries."""
    now = utcnow()
    article.last_fetched_at = now
    if success:
        article.fetch_failures = 0
        article.check_count += 1
        step = article.check_count
    else:
        article.fetch_failures += 1
        step = article.fetch_failures
        if article.fetch_failures >= MAX_ARTICLE_FAILURES and article.status != "feed_only":
            article.status, article.next_check_at = "gone", None
            return
    if now - article.first_seen_at > timedelta(days=settings.recheck_for_days):
        article.next_check_at = None
        return
    article.next_check_at = now + timedelta(minutes=settings.recheck_first_minutes) * 2 ** min(step - 1, 12)
