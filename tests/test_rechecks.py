"""A recheck whose fetch fails keeps what was read: the feed's own text stands in only for an
article whose page was never read."""

from __future__ import annotations

from sqlmodel import Session, func, select

from newsdelta.settings import FeedConfig
from newsdelta.stages import run as run_stage
from newsdelta.storage.models import Alert, Article, ArticleVersion, Finding
from tests.builders import article_html, rss, run, store_one
from tests.conftest import seed_text
from tests.httpserver import Reply
from textdelta import parse_plain_text

TEASER = "Teaser text for the story, as the feed carries it, long enough to be stored as the article's text. " * 3


def counts(engine) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return tuple(s.exec(select(func.count()).select_from(m)).one() for m in (ArticleVersion, Finding, Alert))  # type: ignore[return-value]


def test_a_failed_recheck_stores_no_teaser_version_and_alerts_nothing(server, engine, fetcher, settings) -> None:  # type: ignore[no-untyped-def]
    original = parse_plain_text(seed_text("000_"))
    rewrite = parse_plain_text(seed_text("002_"))
    server.route("/a", [Reply(200, article_html("Original", original)), Reply(404, b"gone")])
    server.route("/b", [Reply(200, article_html("Rewrite", rewrite)), Reply(503, b"down")])
    feed = server.route("/f.xml", Reply(200, rss("O", [{"title": "A", "link": server.url("/a"), "description": TEASER},
                                                        {"title": "B", "link": server.url("/b"), "description": TEASER}]),
                                        {"Content-Type": "application/rss+xml"}))
    first = run(engine, fetcher, settings, [FeedConfig(feed, "Outlet")])
    assert [r.status for r in first] == ["stored", "stored"]
    before = counts(engine)

    for aid in run_stage.add_urls(engine, [server.url("/a"), server.url("/b")]):  # due now, as a scheduled recheck would be
        result = store_one(engine, fetcher, settings, aid)
        assert result.status == "failed" and result.error and ("404" in result.error or "503" in result.error)
        assert result.track["version_id"] is None and result.track["finding_id"] is None
    assert counts(engine) == before, "no teaser version, no finding, no alert"
    with Session(engine) as s:
        articles = s.exec(select(Article)).all()
    assert all(a.source == "page" and a.status == "ok" and a.last_error for a in articles), "the failure is recorded, the page text kept"


def test_an_article_whose_page_was_never_read_falls_back_to_the_feed_text(server, engine, fetcher, settings) -> None:  # type: ignore[no-untyped-def]
    server.route("/never", Reply(404, b"missing"))
    feed = server.route("/f.xml", Reply(200, rss("O", [{"title": "N", "link": server.url("/never"), "description": TEASER}]),
                                        {"Content-Type": "application/rss+xml"}))
    [result] = run(engine, fetcher, settings, [FeedConfig(feed, "Outlet")])
    assert result.status == "feed_only" and result.track["version_id"] is not None
