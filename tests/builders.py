"""Small builders for feeds and article pages served by the test HTTP server."""

from __future__ import annotations

import html
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

from newsdelta import pipeline
from newsdelta.settings import FeedConfig
from textdelta import Document

BASE_DATE = datetime(2025, 3, 30, 8, 0, tzinfo=timezone.utc)


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


def run(engine, fetcher, settings, feeds: list[FeedConfig], channels=("console",)) -> list[pipeline.ArticleResult]:  # type: ignore[no-untyped-def]
    """The ingest flow's stages in order, without Prefect."""
    ids = pipeline.sync_feeds(engine, feeds)
    for feed_id in ids:
        pipeline.poll_feed(engine, fetcher, feed_id)
    results = []
    for aid in pipeline.articles_due(engine, 100, ids):
        try:
            fetched = pipeline.Fetched(aid, page=pipeline.fetch_article(fetcher, aid, pipeline.article_url(engine, aid)))
        except Exception as exc:  # noqa: BLE001
            fetched = pipeline.fetched_error(aid, exc)
        results.append(pipeline.process_article(engine, fetched, settings, list(channels)))
    return results
