"""Feed parsing: read as much of a feed as can be read, say what was wrong with it, and never
let an XML trick (entity expansion, external entities) reach the parser."""

from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import feedparser

from newsdelta.errors import NewsdeltaError
from newsdelta.htmltext import html_to_blocks
from newsdelta.urls import normalize_url

# Internal DTD subsets are where entity bombs and external entities live; feeds never need them.
_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


class FeedParseError(NewsdeltaError):
    """Nothing usable could be read from the body."""


@dataclass
class Entry:
    url: str
    entry_id: str | None
    title: str
    published_at: datetime | None
    author: str | None
    content_blocks: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]
    problem: str | None = None  # why the feed is flagged malformed, if it is


# What feedparser flags although the whole document was read: a charset or content type that
# the server declared and the document contradicts (text/xml without a charset means us-ascii,
# so every UTF-8 feed served that way is "overridden"). Flagging those would mark sound feeds
# malformed, and `newsdelta feeds` would call them sick.
_READ_ANYWAY = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return parse_json_feed(body, url)
    problems = []
    if _ENTITY_DECL.search(body[:65536]):
        body = _DOCTYPE_SUBSET.sub(b"", body, count=1)
        problems.append("DTD with entity declarations removed")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    bozo = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(bozo, _READ_ANYWAY):
        problems.append(f"{type(bozo).__name__}: {bozo}"[:300])
    entries = [e for e in (_entry(raw, url) for raw in parsed.entries) if e is not None]
    if not entries and not parsed.get("version") and not parsed.feed.get("title"):
        raise FeedParseError("not a feed: " + ("; ".join(problems) or "no feed elements found"))
    return ParsedFeed(title=parsed.feed.get("title", ""), entries=entries, problem="; ".join(problems) or None)


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed (https://jsonfeed.org) 1.0 and 1.1, which feedparser does not read."""
    try:
        raw = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(raw, dict) or "jsonfeed.org" not in str(raw.get("version", "")):
        raise FeedParseError("not a feed: JSON without a JSON Feed version")
    entries, skipped = [], 0
    for item in raw.get("items") or []:
        link = item.get("url") or item.get("external_url") if isinstance(item, dict) else None
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            skipped += 1
            continue
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        html = item.get("content_html") or ""
        text = item.get("content_text") or item.get("summary") or ""
        entries.append(Entry(
            url=normalize_url(link), entry_id=str(item.get("id") or link)[:2048], title=str(item.get("title", ""))[:1000],
            published_at=_iso_date(item.get("date_published") or item.get("date_modified")),
            author=", ".join(str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name"))[:500] or None,
            content_blocks=html_to_blocks(html) if html else [{"kind": "paragraph", "text": t} for t in str(text).splitlines() if t.strip()],
        ))
    problem = f"{skipped} item(s) without an http(s) url skipped" if skipped else None
    return ParsedFeed(title=str(raw.get("title", "")), entries=entries, problem=problem)


def _iso_date(value: object) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed and parsed.tzinfo is None else parsed


def _entry(raw: feedparser.FeedParserDict, feed_url: str) -> Entry | None:
    link = raw.get("link") or ""
    if not link:
        for candidate in raw.get("links", []):
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    if not link and str(raw.get("id", "")).startswith(("http://", "https://")):
        link = raw["id"]
    if not link.startswith(("http://", "https://")):
        return None
    html = ""
    if raw.get("content"):
        html = max((c.get("value", "") for c in raw["content"]), key=len)
    html = html if len(html) >= len(raw.get("summary", "")) else raw.get("summary", "")
    return Entry(
        url=normalize_url(link),
        entry_id=str(raw.get("id") or link)[:2048],
        title=str(raw.get("title", ""))[:1000],
        published_at=_date(raw.get("published_parsed") or raw.get("updated_parsed")),
        author=(str(raw["author"])[:500] if raw.get("author") else None),
        content_blocks=html_to_blocks(html) if html else [],
    )


def _date(value: time.struct_time | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None
