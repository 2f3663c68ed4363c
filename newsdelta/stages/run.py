"""The ingest run, stage by stage: poll → fetch → extract → store version → match story →
record finding → queue alerts → deliver.

`ingest` is the one run: the Prefect flow (flows/ingest.py), the benchmark and the tests all
call it. What differs between them is only how the stages that do I/O are called, which the
caller passes as `Steps`: as Prefect tasks (retries, timeouts, the UI) in the flow, on a
thread pool in `plain_steps`. Articles go through in batches: within a batch, pages are
fetched concurrently and extracted in worker processes while the previous batch is stored;
batches are stored one after another in publication order, so stories form the way they
were published."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from newsdelta import metrics, progress
from newsdelta.alerts.outbox import DeliveryReport
from newsdelta.http_client import Fetcher
from newsdelta.settings import FeedConfig, Settings
from newsdelta.stages import workers
from newsdelta.stages.alerts import queue_alerts
from newsdelta.stages.deliver import deliver_all
from newsdelta.stages.fetch import Fetched, fetch_batch
from newsdelta.stages.findings import record_finding
from newsdelta.stages.match import match_story
from newsdelta.stages.poll import PollResult, feeds_due, poll_feed, sync_feeds
from newsdelta.stages.store import NO_TEMPLATES, ArticleText, store_version
from newsdelta.storage import repo
from newsdelta.storage.db import session_scope
from newsdelta.storage.models import Article, utcnow
from newsdelta.urls import normalize_url
from textdelta.furniture import template_keys
from textdelta.terms import article_terms

log = logging.getLogger(__name__)

# Articles per batch: in the flow each batch is one task run, and each task run costs
# Prefect's server a fixed amount of work, so batches keep that small next to the work.
BATCH = 100
# The run's last BATCH articles go in batches this small: the last batch is stored after every
# other article is extracted, on one core while the other has nothing left to do.
LAST_BATCH = 25
# Batches fetched and extracted while the one before them is stored: two keep the extraction
# workers fed; more only add fetch threads that contend with the storing thread.
BATCHES_IN_FLIGHT = 2
MAX_ARTICLE_FAILURES = 6

T = TypeVar("T", covariant=True)


class Pending(Protocol[T]):
    """A result on its way: a Prefect future in the flow, a thread future without Prefect."""

    def result(self) -> T: ...


@dataclass(frozen=True)
class Steps:
    """How a run calls its stages that wait on the network or the database."""

    poll: Callable[[int], Pending[PollResult]]  # feed id
    fetch: Callable[[list[int], bool, int], Pending[list[Fetched]]]  # batch, in worker processes?, place in run
    store: Callable[[list[Fetched]], list[ArticleResult]]
    deliver: Callable[[], DeliveryReport] | None
    log: logging.Logger | logging.LoggerAdapter[Any] = log


@dataclass
class TrackResult:
    article_id: int
    version_id: int | None = None  # None when the text was already stored
    version_number: int | None = None
    story_id: int | None = None
    joined_story: bool = False
    score: float | None = None
    finding_id: int | None = None
    alerts: list[int] = field(default_factory=list)


@dataclass
class ArticleResult:
    article_id: int
    url: str
    status: str  # stored | unchanged | feed_only | failed
    source: str | None = None
    error: str | None = None
    track: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunSummary:
    feeds: list[PollResult] = field(default_factory=list)
    articles: list[ArticleResult] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    @property
    def findings(self) -> list[int]:
        return [a.track["finding_id"] for a in self.articles if a.track.get("finding_id")]

    def as_dict(self) -> dict[str, Any]:
        """The shape `newsdelta ingest --json` prints and the flow returns."""
        return {
            "feeds": [asdict(p) for p in self.feeds],
            "articles": [asdict(a) for a in self.articles],
            "findings": self.findings,
            "alerts": {"sent": self.delivery.sent, "failed": self.delivery.failed},
        }


def ingest(settings: Settings, engine: Engine, steps: Steps, *, feeds: list[FeedConfig] | None = None,
           article_urls: list[str] | None = None, only_due: bool = False) -> RunSummary:
    """One ingest run over the configured feeds, or only `feeds` (and only their articles), or
    only `article_urls`."""
    summary = RunSummary()
    polls, articles = summary.feeds, summary.articles
    progress.begin()
    if article_urls:
        due = add_urls(engine, article_urls)
    else:
        feed_ids = sync_feeds(engine, feeds if feeds is not None else list(settings.feeds))
        to_poll = feeds_due(engine, feed_ids) if only_due else feed_ids
        polls += [p.result() for p in [steps.poll(i) for i in to_poll]]
        for p in polls:
            steps.log.info("feed %s: %s, %d entries, %d new%s", p.url, p.status, p.entries_seen, p.new_entries,
                           f" ({p.error})" if p.error else "")
        progress.polled(p.status for p in polls)
        due = articles_due(engine, settings.articles_per_run, feed_ids if feeds is not None else None)
    parallel = len(due) >= workers.MIN_ARTICLES_FOR_POOL
    batches = split_batches(due, BATCH, LAST_BATCH)
    progress.planned(len(due), len(batches))
    fetched = fetched_in_order(batches, lambda batch, first: steps.fetch(batch, parallel, first), BATCHES_IN_FLIGHT)
    for n, batch in enumerate(fetched, 1):
        results = steps.store(batch)
        articles.extend(results)
        # One line per batch, and one per article that needs a look: in the flow each log line
        # is sent to the Prefect API, which would cost more than storing the article.
        for result in results:
            if result.error:
                steps.log.warning("article %s: %s (%s)", result.url, result.status, result.error)
        counts = Counter(r.status for r in results)
        progress.batch_stored((r.status for r in results), sum(1 for r in results if r.track.get("finding_id")))
        steps.log.info("batch %d/%d: %s", n, len(batches), ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    forget_old_counts(engine, settings, steps.log)
    if steps.deliver is not None:
        summary.delivery = steps.deliver()
    progress.end()
    return summary


def forget_old_counts(engine: Engine, settings: Settings, log: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    """Housekeeping after the run's articles are stored: best effort, never the run's failure (a
    lock held by another worker, a database restarting: the next run forgets them)."""
    try:
        with session_scope(engine) as session:
            repo.forget_outlet_paragraphs(session, utcnow() - TEMPLATE_MEMORY, settings.template_stories)
    except DBAPIError as exc:  # OperationalError (locked, restarting) among them
        log.warning("old paragraph counts left for the next run: %s", str(exc).splitlines()[0][:200])


# How long a paragraph an outlet has carried in fewer than `template_stories` stories is
# remembered: template text recurs within days, reporting does not recur at all.
TEMPLATE_MEMORY = timedelta(days=30)


@contextmanager
def plain_steps(settings: Settings, engine: Engine, fetcher: Fetcher, deliver: bool = True,
                channels: list[str] | None = None, threads: int = 8) -> Iterator[Steps]:
    """The run's stages without Prefect: polls and batches on a thread pool, stored by the
    calling thread, as the flow arranges them. `channels`: queue alerts for these instead of
    the configured ones."""
    channels = list(channels) if channels is not None else settings.alert_channels
    with ThreadPoolExecutor(max_workers=threads) as pool:
        yield Steps(
            poll=lambda feed_id: pool.submit(poll_feed, engine, fetcher, feed_id),
            fetch=lambda batch, parallel, first: pool.submit(fetch_batch, engine, fetcher, batch, parallel, settings.concurrency, first),
            store=lambda batch: store_batch(engine, batch, settings, channels),
            deliver=(lambda: deliver_all(engine, settings)) if deliver else None,
        )


def add_urls(engine: Engine, urls: list[str], outlet: str = "") -> list[int]:
    """Articles to track by hand (`newsdelta track URL`): inserted if new, made due now."""
    ids = []
    with session_scope(engine) as session:
        for url in urls:
            norm = normalize_url(url)
            repo.add_articles(session, [{"url": norm, "outlet": outlet}])
            article = repo.article_by_url(session, norm)
            if article is None:
                raise RuntimeError(f"article {norm} was not stored")  # the insert above ensures it
            article.next_check_at = utcnow()
            session.add(article)
            ids.append(repo.row_id(article))
    return ids


def articles_due(engine: Engine, limit: int, feed_ids: list[int] | None = None) -> list[int]:
    """Articles due for a (re)fetch, in publication order: a story forms the way it was published."""
    with session_scope(engine) as session:
        return [repo.row_id(a) for a in repo.articles_due(session, utcnow(), limit, feed_ids)]


def split_batches(ids: list[int], size: int, last_size: int) -> list[list[int]]:
    """`ids` in order, in batches of `size`, except the last `size` ids, which go in batches of
    `last_size`: batches are stored one after another, and the last one is stored after every
    other article is extracted, when the extraction workers have nothing left to do."""
    cut = max(0, len(ids) - size)
    head, tail = ids[:cut], ids[cut:]
    return [head[i : i + size] for i in range(0, len(head), size)] + [tail[i : i + last_size] for i in range(0, len(tail), last_size)]


U = TypeVar("U")


def fetched_in_order(batches: list[list[int]], submit: Callable[[list[int], int], Pending[U]], ahead: int) -> Iterator[U]:
    """Each batch's result, in order, with up to `ahead` batches submitted beyond the one being
    handed out: the caller stores a batch while the next ones are fetched and extracted.
    `submit(batch, first)` starts a batch (`first`: its first article's place in the run)."""
    firsts = [0]
    for batch in batches:
        firsts.append(firsts[-1] + len(batch))
    pending = {k: submit(batches[k], firsts[k]) for k in range(min(ahead, len(batches)))}
    for n in range(len(batches)):
        result = pending.pop(n).result()
        if n + ahead < len(batches):
            pending[n + ahead] = submit(batches[n + ahead], firsts[n + ahead])
        yield result


def store_batch(engine: Engine, batch: list[Fetched], settings: Settings, channels: list[str]) -> list[ArticleResult]:
    """Store and track a batch in order, in one transaction: a commit per article cost more than
    the article's own queries. Storing again is always safe (every insert is unique in the
    database), so when the batch fails it is stored again one article per transaction, where a
    failing article fails alone and the rest are kept. A database that is down or locked
    (OperationalError) is not retried article by article: that would only wait out the same
    lock once per article; it fails the batch, and the task's retry stores it again."""
    try:
        with session_scope(engine) as session:
            return [store_article(session, fetched, settings, channels) for fetched in batch]
    except OperationalError:
        raise
    except Exception as exc:
        if len(batch) == 1:
            raise
        log.warning("a batch of %d articles failed (%s: %s); storing them one at a time", len(batch), type(exc).__name__, exc)
    results = []
    for fetched in batch:
        try:
            with session_scope(engine) as session:
                results.append(store_article(session, fetched, settings, channels))
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - this article stays due and is tried again next run
            log.error("article %s could not be stored: %s: %s", fetched.article_id, type(exc).__name__, exc)
            results.append(ArticleResult(article_id=fetched.article_id, url="", status="failed",
                                         error=f"{type(exc).__name__}: {exc}"[:500]))
    return results


def store_article(session: Session, fetched: Fetched, settings: Settings, channels: list[str]) -> ArticleResult:
    """One article's text (the page's, or the feed's when the page failed) through the tracking
    stages, and its next recheck scheduled."""
    with metrics.stage("store"):
        article = repo.get(session, Article, fetched.article_id)
        result = ArticleResult(article_id=repo.row_id(article), url=article.url, status="failed")
        if fetched.extracted is not None:
            e = fetched.extracted
            text = ArticleText(e.title or article.title, e.byline, e.published_at or article.published_at, e.blocks, "page", e.terms)
            result.track = asdict(track_text(session, article, text, settings, channels))
            article.status, article.source, article.last_error = "ok", "page", None
            result.status, result.source = ("stored" if result.track["version_id"] else "unchanged"), "page"
            schedule_recheck(article, settings, success=True)
        elif article.source == "page":
            # A recheck of a page read before failed (404, a timeout...): the feed's teaser is a
            # stand-in for an article never read, not a new version of one that was.
            result.track = asdict(TrackResult(article_id=repo.row_id(article), story_id=article.story_id))
            article.last_error, result.error = fetched.error, fetched.error
            schedule_recheck(article, settings, success=False)
        elif article.feed_blocks and json.loads(article.feed_blocks):
            text = ArticleText(article.title, article.byline, article.published_at, json.loads(article.feed_blocks), "feed")
            result.track = asdict(track_text(session, article, text, settings, channels))
            article.status, article.source, article.last_error = "feed_only", article.source or "feed", fetched.error
            result.status, result.source, result.error = "feed_only", "feed", fetched.error
            schedule_recheck(article, settings, success=False)
        else:
            result.track = asdict(TrackResult(article_id=repo.row_id(article)))
            article.last_error, result.error = fetched.error, fetched.error
            article.status = "failed" if article.status in ("pending", "failed") else article.status
            schedule_recheck(article, settings, success=False)
        session.add(article)
        session.flush()
    return result


def track_text(session: Session, article: Article, text: ArticleText, settings: Settings, channels: list[str]) -> TrackResult:
    """store version → match story → record finding → queue alerts, inside the caller's
    transaction: a crash leaves all of it or none, and a rerun repeats it without duplicates."""
    if repo.lock_tracking(session):
        session.refresh(article)  # what other workers committed before we took the lock
    # No autoflush: the article's row is written once, by the caller's flush, not once per
    # query that happens to follow a change to it.
    with session.no_autoflush:
        result = TrackResult(article_id=repo.row_id(article))
        templates = repo.template_keys(session, [article.outlet], settings.template_stories).get(article.outlet, NO_TEMPLATES)
        new = store_version(session, article, text, templates)
        if new is None:
            result.story_id = article.story_id
            return result
        result.version_id, result.version_number = new.version.id, new.version.number
        terms = text.terms if text.terms is not None else article_terms(text.title, new.content.text)
        had_story = article.story_id is not None
        match = match_story(session, article, new, terms, settings)
        if had_story or match.joined:  # a story made just now is as new as it gets
            repo.touch_story(session, match.story_id)
        result.story_id, result.joined_story = match.story_id, match.joined
        if new.version.source == "page" and (new.previous is None or new.previous.source == "feed"):
            # An article's page counts toward its outlet's template text once (its first version read from the page).
            repo.count_outlet_paragraphs(session, article.outlet, match.story_id, template_keys(new.doc.blocks))
        session.add(article)
        # The same time the story lookup measures its window from (feed date first, then page date).
        repo.index_terms(session, article, terms, article.published_at or article.first_seen_at)
        if match.comparison is not None:
            result.score = match.comparison.score
            finding = record_finding(session, article, new, match)
            if finding is not None:
                result.finding_id = finding.id
                result.alerts = queue_alerts(session, finding, channels, settings.alerts_min_new_words)
        return result


def schedule_recheck(article: Article, settings: Settings, success: bool) -> None:
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
