"""Each ingest stage through real HTTP on 127.0.0.1 and a real SQLite file, called as the plain
functions the Prefect tasks wrap."""

from __future__ import annotations

import json
from datetime import UTC

import pytest
from sqlmodel import Session, func, select

from newsdelta.seeds.server import SiteServer
from newsdelta.settings import FeedConfig
from newsdelta.stages import fetch as fetch_stage
from newsdelta.stages import poll
from newsdelta.stages import run as run_stage
from newsdelta.storage import repo
from newsdelta.storage.models import Alert, Article, ArticleVersion, Feed, FeedPoll, Finding, Story
from tests.builders import article_html, rss, run, store_one
from tests.conftest import EVALUATION_TEXTS, seed_text
from tests.httpserver import Reply
from textdelta import parse_plain_text

ORIGINAL = parse_plain_text(seed_text("000_"))
REWRITE = parse_plain_text(seed_text("002_"))


def count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def one_feed(server, items, path="/feed.xml") -> str:  # type: ignore[no-untyped-def]
    return server.route(path, Reply(200, rss("Outlet", items), {"Content-Type": "application/rss+xml", "ETag": '"e1"'}))


# --- 1. feeds -------------------------------------------------------------------------------

def test_poll_stores_new_entries_as_pending_articles_and_records_health(server, engine, fetcher) -> None:
    url = one_feed(server, [{"title": "One", "link": server.url("/a1?utm_source=rss")}, {"title": "Two", "link": server.url("/a2")}])
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url, "Outlet")])
    result = poll.poll_feed(engine, fetcher, feed_id)
    assert (result.status, result.entries_seen, result.new_entries) == ("ok", 2, 2)
    with Session(engine) as s:
        urls = sorted(a.url for a in s.exec(select(Article)))
        feed = s.get(Feed, feed_id)
    assert urls == [server.url("/a1"), server.url("/a2")], "tracking parameters stripped"
    assert feed.etag == '"e1"' and feed.last_status == "ok" and feed.total_polls == 1


def test_conditional_get_304_stores_nothing_new(server, engine, fetcher) -> None:
    url = server.route("/feed.xml", [Reply(200, rss("O", [{"title": "One", "link": server.url("/a1")}]),
                                           {"Content-Type": "application/rss+xml", "ETag": '"v1"'}), Reply(304)])
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url)])
    poll.poll_feed(engine, fetcher, feed_id)
    before = (count(engine, Article), count(engine, ArticleVersion))
    second = poll.poll_feed(engine, fetcher, feed_id)
    assert second.status == "not_modified" and second.new_entries == 0
    assert server.hits("/feed.xml")[1].headers.get("if-none-match") == '"v1"'
    assert (count(engine, Article), count(engine, ArticleVersion)) == before
    assert count(engine, FeedPoll) == 2


def test_unchanged_body_without_validators_is_skipped_by_hash(server, engine, fetcher) -> None:
    url = server.route("/feed.xml", Reply(200, rss("O", [{"title": "One", "link": server.url("/a1")}]), {"Content-Type": "application/rss+xml"}))
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url)])
    poll.poll_feed(engine, fetcher, feed_id)
    assert poll.poll_feed(engine, fetcher, feed_id).status == "unchanged"


def test_malformed_feed_is_read_as_far_as_it_goes_and_flagged(server, engine, fetcher) -> None:
    body = rss("O", [{"title": "One", "link": server.url("/a1")}]).replace(b"</channel></rss>", b"<item><title>broken &nbsp; </channel>")
    url = server.route("/bad.xml", Reply(200, b"\n  " + body, {"Content-Type": "application/xml"}))
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url)])
    result = poll.poll_feed(engine, fetcher, feed_id)
    assert result.status == "malformed" and result.error
    assert result.new_entries == 1


@pytest.mark.parametrize("reply,expected", [
    (Reply(404, b"gone"), "HTTP 404"),
    (Reply(500, b"oops"), "HTTP 500"),
    (Reply(200, b"<html><body><p>Not a feed at all</p></body></html>", {"Content-Type": "text/html"}), "not a feed"),
])
def test_feed_errors_are_recorded_and_backed_off(server, engine, fetcher, reply, expected) -> None:  # type: ignore[no-untyped-def]
    url = server.route("/f", reply)
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url, interval_minutes=15)])
    result = poll.poll_feed(engine, fetcher, feed_id)
    assert result.status == "error" and expected in (result.error or "")
    with Session(engine) as s:
        feed = s.get(Feed, feed_id)
        assert feed.consecutive_failures == 1 and expected in feed.last_error
        assert (feed.next_poll_at - feed.last_polled_at).total_seconds() > 15 * 60, "backed off beyond the interval"


def test_one_bad_feed_does_not_stop_the_others(server, engine, fetcher, settings) -> None:
    good = one_feed(server, [{"title": "Japan", "link": server.url("/orig")}], "/good.xml")
    server.route("/orig", Reply(200, article_html("Hegseth in Japan", ORIGINAL)))
    bad = server.route("/bad.xml", Reply(500, b"down"))
    results = run(engine, fetcher, settings, [FeedConfig(bad, "Bad"), FeedConfig(good, "Good")])
    assert [r.status for r in results] == ["stored"]


def test_retry_after_defers_the_feed(server, engine, fetcher) -> None:
    url = server.route("/f", Reply(429, b"", {"Retry-After": "3600"}))
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url)])
    assert poll.poll_feed(engine, fetcher, feed_id).status == "deferred"
    with Session(engine) as s:
        feed = s.get(Feed, feed_id)
        assert (feed.next_poll_at - feed.last_polled_at).total_seconds() >= 3590
    assert poll.feeds_due(engine, [feed_id]) == []


# --- 2. articles ----------------------------------------------------------------------------

def test_article_is_extracted_with_metadata_and_blocks(server, engine, fetcher, settings) -> None:
    feed = one_feed(server, [{"title": "Feed title", "link": server.url("/rewrite")}])
    server.route("/rewrite", Reply(200, article_html("Hegseth reaffirms Japan role", REWRITE, author="Dana Whitfield", date="2025-03-31")))
    [result] = run(engine, fetcher, settings, [FeedConfig(feed, "Meridian")])
    assert result.status == "stored" and result.source == "page"
    with Session(engine) as s:
        version = s.exec(select(ArticleVersion)).one()
        article = s.get(Article, version.article_id)
    blocks = json.loads(version.blocks)
    assert article.title == "Hegseth reaffirms Japan role" and article.byline == "Dana Whitfield"
    assert version.published_at.date().isoformat() == "2025-03-31"
    assert {"kind": "heading", "text": "Signal Chat Controversy Overshadows Trip"} in blocks
    assert blocks[0]["kind"] == "paragraph" and blocks[0]["text"].startswith("U.S. Defense Secretary")


@pytest.mark.parametrize("reply", [
    Reply(200, b"%PDF-1.7 binary", {"Content-Type": "application/pdf"}),
    Reply(200, b"<html><body><nav>Home</nav></body></html>"),
    Reply(404, b"missing"),
])
def test_unfetchable_page_falls_back_to_the_feed_text(server, engine, fetcher, settings, reply) -> None:  # type: ignore[no-untyped-def]
    description = "Japan and the U.S. agreed on Sunday to upgrade the military command in Tokyo. " * 3
    feed = one_feed(server, [{"title": "T", "link": server.url("/doc"), "description": description}])
    server.route("/doc", reply)
    [result] = run(engine, fetcher, settings, [FeedConfig(feed)])
    assert result.status == "feed_only" and result.error
    with Session(engine) as s:
        article = s.exec(select(Article)).one()
        assert article.status == "feed_only" and article.last_error and article.next_check_at is not None
        assert s.exec(select(ArticleVersion)).one().source == "feed"


def test_page_without_text_and_no_feed_text_is_recorded_as_failed(server, engine, fetcher, settings) -> None:
    feed = one_feed(server, [{"title": "T", "link": server.url("/empty")}])
    server.route("/empty", Reply(200, b"<html><body><script>var x=1;</script></body></html>"))
    [result] = run(engine, fetcher, settings, [FeedConfig(feed)])
    assert result.status == "failed" and "article text" in result.error
    with Session(engine) as s:
        article = s.exec(select(Article)).one()
        assert article.status == "failed" and article.next_check_at is not None, "tried again later"


def test_page_in_another_charset_is_decoded(server, engine, fetcher, settings) -> None:
    doc = parse_plain_text("Der Außenminister sprach in München über die Lage in der Ukraine und über Zölle auf Stahl und Aluminium.\n"
                           "Die Gespräche dauerten länger als geplant, sagte ein Sprecher des Ministeriums am Abend in Berlin zu Reportern.")
    feed = one_feed(server, [{"title": "T", "link": server.url("/de")}])
    server.route("/de", Reply(200, article_html("Außenminister in München", doc, charset="iso-8859-1"), {"Content-Type": "text/html; charset=iso-8859-1"}))
    [result] = run(engine, fetcher, settings, [FeedConfig(feed)])
    assert result.status == "stored"
    with Session(engine) as s:
        assert "Außenminister sprach in München" in s.exec(select(ArticleVersion)).one().blocks


# --- 3. versions ----------------------------------------------------------------------------

def test_same_text_stores_one_version_and_an_edit_stores_another_with_a_diff(server, engine, fetcher, settings) -> None:
    feed = one_feed(server, [{"title": "T", "link": server.url("/story")}])
    first = parse_plain_text("\n".join(seed_text("000_").splitlines()[:8]))
    edited = parse_plain_text("\n".join(seed_text("000_").splitlines()[:8])
                              + "\nOfficials in Beijing summoned the U.S. ambassador on Monday to protest against the announcement, state media reported.")
    server.route("/story", [Reply(200, article_html("T", first)), Reply(200, article_html("T", first).replace(b"<p>", b"<p>  ")),
                            Reply(200, article_html("T", edited))])
    run(engine, fetcher, settings, [FeedConfig(feed)])
    [aid] = [a for a in run_stage.add_urls(engine, [server.url("/story")])]
    again = store_one(engine, fetcher, settings, aid)
    assert again.status == "unchanged", "whitespace noise is not a version"
    third = store_one(engine, fetcher, settings, aid)
    assert third.status == "stored" and third.track["version_number"] == 2
    with Session(engine) as s:
        v2 = s.exec(select(ArticleVersion).where(ArticleVersion.number == 2)).one()
        finding = s.exec(select(Finding)).one()
    diff = json.loads(v2.diff)
    assert diff["added"] == ["Officials in Beijing summoned the U.S. ambassador on Monday to protest against the announcement, state media reported."]
    assert diff["removed"] == []
    assert finding.kind == "new_version" and "summoned the U.S. ambassador" in finding.new_sections
    assert count(engine, Alert) == 1


def test_recheck_schedule_decays_and_stops(engine, settings) -> None:
    from datetime import timedelta

    from newsdelta.stages.run import schedule_recheck
    from newsdelta.storage.models import utcnow

    article = Article(url="http://x/", first_seen_at=utcnow())
    gaps = []
    for _ in range(5):
        schedule_recheck(article, settings, success=True)
        gaps.append(round((article.next_check_at - article.last_fetched_at).total_seconds() / 60))
    assert gaps == [30, 60, 120, 240, 480]
    article.first_seen_at = utcnow() - timedelta(days=settings.recheck_for_days + 1)
    schedule_recheck(article, settings, success=True)
    assert article.next_check_at is None


# --- 4, 5, 6. stories, findings, outbox -----------------------------------------------------

def test_seed_outlets_form_one_story_with_one_signal_finding_and_one_alert_per_channel(engine, fetcher, settings) -> None:
    with SiteServer() as site:
        feeds = [FeedConfig(site.url("harbor-times/feed.xml"), "Harbor Times"), FeedConfig(site.url("meridian-post/feed.xml"), "Meridian Post")]
        results = run(engine, fetcher, settings, feeds, channels=("console", "slack"))
        assert [r.status for r in results] == ["stored", "stored"]
        assert count(engine, Story) == 1
        with Session(engine) as s:
            finding = s.exec(select(Finding)).one()
            sections = json.loads(finding.new_sections)
            alerts = s.exec(select(Alert)).all()
        assert finding.outlet == "Meridian Post" and json.loads(finding.compared_outlets) == ["Harbor Times"]
        assert [x["heading"] for x in sections] == ["Signal Chat Controversy Overshadows Trip"]
        assert len(sections[0]["paragraphs"]) == 3
        assert sorted(a.channel for a in alerts) == ["console", "slack"]
        # A rerun finds the same entries and the same text: nothing new anywhere.
        assert run(engine, fetcher, settings, feeds) == []
        assert (count(engine, ArticleVersion), count(engine, Finding), count(engine, Alert)) == (2, 1, 2)


def test_different_story_about_the_same_people_starts_its_own_story(server, engine, fetcher, settings) -> None:
    manila = parse_plain_text((EVALUATION_TEXTS / "hegseth_manila_visit.txt").read_text("utf-8"))
    a = one_feed(server, [{"title": "Japan", "link": server.url("/japan")}], "/a.xml")
    b = one_feed(server, [{"title": "Manila", "link": server.url("/manila")}], "/b.xml")
    server.route("/japan", Reply(200, article_html("Hegseth in Japan", ORIGINAL)))
    server.route("/manila", Reply(200, article_html("Hegseth in Manila", manila)))
    run(engine, fetcher, settings, [FeedConfig(a, "A"), FeedConfig(b, "B")])
    assert count(engine, Story) == 2 and count(engine, Finding) == 0


def test_crash_inside_tracking_rolls_back_and_the_rerun_stores_once(server, engine, fetcher, settings, monkeypatch) -> None:
    feed = one_feed(server, [{"title": "Japan", "link": server.url("/japan")}])
    server.route("/japan", Reply(200, article_html("Hegseth in Japan", ORIGINAL)))
    real = repo.index_terms

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("simulated crash after the version insert")

    monkeypatch.setattr(repo, "index_terms", crash)
    with pytest.raises(RuntimeError):
        run(engine, fetcher, settings, [FeedConfig(feed)])
    assert count(engine, ArticleVersion) == 0 and count(engine, Story) == 0, "the unit of work rolled back"
    monkeypatch.setattr(repo, "index_terms", real)
    [result] = run(engine, fetcher, settings, [FeedConfig(feed)])
    assert result.status == "stored" and count(engine, ArticleVersion) == 1


def test_a_batch_with_a_failing_article_keeps_the_others_and_a_rerun_stores_nothing_twice(server, engine, fetcher, settings) -> None:
    manila = parse_plain_text((EVALUATION_TEXTS / "hegseth_manila_visit.txt").read_text("utf-8"))
    feed = one_feed(server, [{"title": "Japan", "link": server.url("/japan")}, {"title": "Manila", "link": server.url("/manila")}])
    server.route("/japan", Reply(200, article_html("Hegseth in Japan", ORIGINAL)))
    server.route("/manila", Reply(200, article_html("Hegseth in Manila", manila)))
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(feed)])
    poll.poll_feed(engine, fetcher, feed_id)
    due = run_stage.articles_due(engine, 10, [feed_id])
    fetched = fetch_stage.fetch_batch(engine, fetcher, due, parallel=False, threads=2)
    vanished = fetch_stage.Fetched(10_000, error="the row was deleted meanwhile")  # processing it raises
    batch = [fetched[0], vanished, fetched[1]]

    results = run_stage.store_batch(engine, batch, settings, ["console"])
    assert [r.status for r in results] == ["stored", "failed", "stored"]
    assert "NotFound: article 10000 does not exist" in (results[1].error or "")
    assert count(engine, ArticleVersion) == 2 and count(engine, Story) == 2

    again = run_stage.store_batch(engine, [fetched[0], fetched[1]], settings, ["console"])
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert (count(engine, ArticleVersion), count(engine, Story), count(engine, Alert)) == (2, 2, 0)


def test_story_window_uses_one_publication_time_for_index_and_lookup(server, engine, fetcher, settings) -> None:
    """The original's page carries a stale date (a template default years old) while its feed
    dates it the day before the rewrite: the rewrite must still find it."""
    from datetime import datetime

    a = one_feed(server, [{"title": "Japan", "link": server.url("/japan"), "published": datetime(2025, 3, 30, 8, tzinfo=UTC)}], "/a.xml")
    b = one_feed(server, [{"title": "Japan (B)", "link": server.url("/rewrite"), "published": datetime(2025, 3, 31, 6, tzinfo=UTC)}], "/b.xml")
    server.route("/japan", Reply(200, article_html("Hegseth in Japan", ORIGINAL, date="2019-01-01")))
    server.route("/rewrite", Reply(200, article_html("Hegseth in Japan", REWRITE, date="2025-03-31")))
    run(engine, fetcher, settings, [FeedConfig(a, "A")])
    run(engine, fetcher, settings, [FeedConfig(b, "B")])
    assert count(engine, Story) == 1 and count(engine, Finding) == 1


def test_pages_waiting_for_an_extraction_worker_go_earliest_article_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches are fetched side by side but stored in order: the page the storing thread needs
    next must not wait behind pages of later batches whose fetch finished first."""
    import threading
    from types import SimpleNamespace

    from newsdelta.stages import workers
    from tests.conftest import wait_until

    blocked: set[threading.Thread] = set()

    class Turn(threading.Event):
        """The gate's wait for a turn, reporting which thread waits (so the test knows it queued)."""

        def wait(self, timeout: float | None = None) -> bool:
            blocked.add(threading.current_thread())
            return super().wait(timeout)

    monkeypatch.setattr(workers, "threading", SimpleNamespace(Lock=threading.Lock, Event=Turn))
    gate = workers.PriorityGate(1)
    admitted: list[int] = []
    holder = gate.slot(0)
    holder.__enter__()

    def wait_turn(priority: int) -> None:
        with gate.slot(priority):
            admitted.append(priority)

    threads = []
    for priority in (150, 7, 60, 3):  # arrival order: later batches' pages first
        threads.append(threading.Thread(target=wait_turn, args=(priority,), daemon=True))
        threads[-1].start()
        wait_until(lambda: threads[-1] in blocked, f"page {priority} to queue at the gate")
    holder.__exit__(None, None, None)
    for t in threads:
        t.join(60)
    assert admitted == [3, 7, 60, 150]
    # Every slot came back: a newcomer is let in at once, without waiting for a turn.
    newcomer = threading.Thread(target=wait_turn, args=(1,), daemon=True)
    newcomer.start()
    newcomer.join(60)
    assert admitted[-1] == 1 and newcomer not in blocked


@pytest.mark.parametrize("count", [0, 1, 24, 25, 99, 100, 101, 250, 995])
def test_batches_keep_publication_order_and_end_small(count: int) -> None:
    ids = list(range(1000, 1000 + count))
    batches = run_stage.split_batches(ids, 100, 25)
    assert [i for b in batches for i in b] == ids
    assert all(0 < len(b) <= 100 for b in batches)
    assert all(len(b) <= 25 for b in batches[-4:]) and sum(map(len, batches[-4:])) == min(count, 100)


def test_a_dead_extraction_worker_is_replaced_and_the_page_extracted() -> None:
    """A worker killed mid-run (the kernel's OOM killer, a crash inside lxml) breaks the whole
    process pool; extraction must go on in a fresh one rather than fail every later page."""
    import signal
    from concurrent.futures.process import BrokenProcessPool

    from newsdelta.stages import workers
    from newsdelta.stages.extract import Extracted

    page = article_html("Harbour strike", parse_plain_text(
        "Dock workers walked off the job on Wednesday in a dispute over automation at the port.\n"
        "The union said talks with the port authority had broken down after three weeks of meetings.\n"
        "Ships were diverted to other harbours along the coast while the strike lasted, officials said."))
    url = "https://example.com/strike"
    try:
        first = workers.extract(page, url, parallel=True)
        assert isinstance(first, Extracted)
        broken = workers.pool()
        # A worker killed by SIGKILL while it runs a task: the pool reports itself broken.
        with pytest.raises(BrokenProcessPool):
            broken.submit(signal.raise_signal, signal.SIGKILL).result(timeout=120)
        with pytest.raises(BrokenProcessPool):
            broken.submit(str, "anything")
        again = workers.extract(page, url, parallel=True)
        assert isinstance(again, Extracted) and again.blocks == first.blocks
        assert workers.pool() is not broken
    finally:
        workers.shutdown()


def test_batches_are_handed_out_in_order_with_a_bounded_number_fetched_ahead() -> None:
    from concurrent.futures import Future

    started: list[tuple[list[int], int]] = []
    handed: list[int] = []

    def submit(batch: list[int], first: int) -> Future:
        started.append((batch, first))
        assert len(started) - len(handed) <= 3  # the batch being handed out and two ahead
        done: Future = Future()
        done.set_result(batch[0])
        return done

    batches = [[10, 11, 12], [13], [14, 15], [16, 17]]
    for result in run_stage.fetched_in_order(batches, submit, ahead=2):
        handed.append(result)
    assert handed == [10, 13, 14, 16]
    assert started == [([10, 11, 12], 0), ([13], 3), ([14, 15], 4), ([16, 17], 6)]
