"""Small builders for feeds and article pages served by the test HTTP server, and the shipped
ingest run (newsdelta.stages.run) without Prefect."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from sqlalchemy.engine import Engine

from newsdelta.http_client import Fetcher
from newsdelta.settings import FeedConfig, Settings
from newsdelta.stages import fetch
from newsdelta.stages import run as run_stage
from textdelta import Document

BASE_DATE = datetime(2025, 3, 30, 8, 0, tzinfo=UTC)


def rss(title: str, items: list[dict]) -> bytes:
    """items: {"title", "link", "guid"?, "published"? (datetime), "description"?}"""
    out = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{html.escape(title)}</title>'
           f"<link>http://example.invalid/</link><description>test feed</description>"]
    for i, item in enumerate(items):
        published = item.get("published") or BASE_DATE + timedelta(hours=i)
        out.append(
            f"<item><title>{html.escape(item['title'])}</title><link>{html.escape(item['link'])}</link>"
            f"<guid isPermaLink=\"false\">{html.escape(item.get('guid', item['link']))}</guid>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{html.escape(item.get('description', ''))}</description></item>"
        )
    out.append("</channel></rss>")
    return "".join(out).encode("utf-8")


def article_html(title: str, doc: Document, author: str = "A. Reporter", date: str = "2025-03-30", charset: str = "utf-8") -> bytes:
    body = "\n".join(f"<{'h2' if b.kind == 'heading' else 'p'}>{html.escape(b.text)}</{'h2' if b.kind == 'heading' else 'p'}>" for b in doc.blocks)
    page = (f'<!doctype html><html><head><meta charset="{charset}"><title>{html.escape(title)}</title>'
            f'<meta name="author" content="{html.escape(author)}"><meta property="article:published_time" content="{date}T08:00:00+00:00">'
            f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article><h1>{html.escape(title)}</h1>{body}</article>"
            f"<footer>© Test outlet. All rights reserved.</footer></body></html>")
    return page.encode(charset, errors="xmlcharrefreplace")


def run(engine: Engine, fetcher: Fetcher, settings: Settings, feeds: list[FeedConfig],
        channels: tuple[str, ...] = ("console",)) -> list[run_stage.ArticleResult]:
    """The shipped ingest run over `feeds`, without Prefect and without delivery (alerts stay
    queued for `channels`): the articles it checked."""
    with run_stage.plain_steps(settings, engine, fetcher, deliver=False, channels=list(channels)) as steps:
        return run_stage.ingest(settings, engine, steps, feeds=feeds).articles


def store_one(engine: Engine, fetcher: Fetcher, settings: Settings, article_id: int,
              channels: tuple[str, ...] = ("console",)) -> run_stage.ArticleResult:
    """Fetch, extract and store one article as a run does (one batch of one)."""
    [fetched] = fetch.fetch_batch(engine, fetcher, [article_id], parallel=False, threads=1)
    [result] = run_stage.store_batch(engine, [fetched], settings, list(channels))
    return result
