"""Poll stage: fetch a feed (conditionally), parse it, and add its new entries as pending
articles; record the feed's health either way."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from newsdelta import metrics
from newsdelta.errors import FetchError, RateLimited
from newsdelta.feeds import FeedParseError, parse_feed
from newsdelta.http_client import Fetcher, Page
from newsdelta.settings import FeedConfig
from newsdelta.storage import repo
from newsdelta.storage.db import session_scope
from newsdelta.storage.models import Feed, utcnow

MAX_FEED_BACKOFF = timedelta(hours=24)


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


def sync_feeds(engine: Engine, feeds: list[FeedConfig]) -> list[int]:
    """Make sure each configured feed has a row (and its health record); return their ids."""
    with session_scope(engine) as session:
        return [repo.row_id(repo.ensure_feed(session, f.url, f.outlet, int(f.interval_minutes * 60))) for f in feeds]


def feeds_due(engine: Engine, feed_ids: list[int], now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    with session_scope(engine) as session:
        return [repo.row_id(f) for f in repo.feeds(session)
                if f.id in feed_ids and (f.next_poll_at is None or f.next_poll_at <= now)]


def poll_feed(engine: Engine, fetcher: Fetcher, feed_id: int) -> PollResult:
    """Fetch (conditionally) and parse one feed; store new entries as pending articles."""
    with metrics.stage("poll"):
        with session_scope(engine) as session:
            feed = repo.get(session, Feed, feed_id)
            url, outlet, etag, modified, body_hash = feed.url, feed.outlet, feed.etag, feed.last_modified, feed.body_hash
        result = PollResult(feed_id=feed_id, url=url, outlet=outlet, status="ok")
        page: Page | None = None
        rows: list[dict[str, Any]] = []
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
            feed = repo.get(session, Feed, feed_id)
            if feed_title:
                feed.title = feed_title
            if not feed.outlet and result.outlet:
                feed.outlet = result.outlet
            if rows:
                result.new_entries = len(repo.add_articles(session, rows))
            if page is not None and not page.not_modified and result.status in ("ok", "malformed", "unchanged"):
                feed.etag = page.headers.get("etag", feed.etag)
                feed.last_modified = page.headers.get("last-modified", feed.last_modified)
                feed.body_hash = hashlib.sha256(page.body).hexdigest()
            failed = result.status in ("error", "deferred")
            repo.record_poll(session, feed, status=result.status, http_status=result.http_status, seen=result.entries_seen,
                             new=result.new_entries, error=result.error, failed=failed,
                             next_poll_at=next_poll(feed, failed, retry_after_s))
        return result


def next_poll(feed: Feed, failed: bool, retry_after_s: float) -> datetime:
    """Next due time: the feed's interval; longer when the server asked us to wait; doubling
    per consecutive failure (capped at a day) so a sick feed is not hammered."""
    interval = timedelta(seconds=feed.poll_interval_s)
    if retry_after_s:
        return utcnow() + max(interval, timedelta(seconds=retry_after_s))
    if failed:
        return utcnow() + min(MAX_FEED_BACKOFF, interval * (1 << min(feed.consecutive_failures + 1, 8)))
    return utcnow() + interval
