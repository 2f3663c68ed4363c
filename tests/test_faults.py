"""Faults: the ingest process killed mid-run at chosen points, a locked database, an alert channel
down for a whole run. Each time: nothing duplicated, nothing lost, the next run catches up."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from newsdelta.settings import FeedConfig
from newsdelta.stages import fetch as fetch_stage
from newsdelta.stages import poll
from newsdelta.stages import run as run_stage
from newsdelta.storage.db import make_engine
from newsdelta.storage.models import Alert, Article, ArticleVersion, Finding, Story
from tests.builders import article_html, rss
from tests.conftest import shared_data, wait_until
from tests.httpserver import Reply, Request, ScriptedServer
from textdelta import Block, Document
from textdelta.furniture import states_something, word_count

# 13 stories, 26 articles: a run stores them in two batches (25, then the newest one), so a run
# held on the newest page has stored and queued alerts for all the others, and not delivered them.
STORIES = 13
SHORT_LOCK_S = 0.5  # a lock another writer holds briefly, far under the 30 s busy timeout


def real_articles(n: int) -> list[list[str]]:
    truth = json.loads(shared_data("data/articles/scrapinghub/ground-truth.json").read_text("utf-8"))
    out = []
    for item in sorted(truth.values(), key=lambda i: i["url"]):
        ps = [p.strip() for p in item["articleBody"].split("\n") if len(p.strip()) > 80]
        if 6 <= len(ps) <= 25:
            out.append(ps)
    return out[:n]


def publish_stories(server: ScriptedServer) -> tuple[str, str, int]:
    """Outlet A publishes STORIES articles; outlet B republishes each a day later with one
    paragraph of its own added: STORIES findings expected."""
    pool = real_articles(STORIES + 1)
    assert len(pool) == STORIES + 1, "the shared corpus has too few articles of the right length"
    items_a, items_b = [], []
    for i, ps in enumerate(pool[:STORIES]):
        # A paragraph of another article that states something: what an alert is sent for.
        extra = next(p for p in pool[(i + 1) % len(pool)][2:] if states_something(p) and word_count(p) >= 15)
        a = Document.from_blocks([Block("paragraph", p) for p in ps])
        b = Document.from_blocks([Block("paragraph", p) for p in ps[:3]] + [Block("heading", "Reaction"), Block("paragraph", extra)]
                                 + [Block("paragraph", p) for p in ps[3:]])
        server.route(f"/a/{i}", Reply(200, article_html(f"Story {i}", a, date="2025-03-01")))
        server.route(f"/b/{i}", Reply(200, article_html(f"Story {i} (B)", b, date="2025-03-02")))
        items_a.append({"title": f"Story {i}", "link": server.url(f"/a/{i}"), "published": datetime(2025, 3, 1, i, tzinfo=UTC)})
        items_b.append({"title": f"Story {i} (B)", "link": server.url(f"/b/{i}"), "published": datetime(2025, 3, 2, i, tzinfo=UTC)})
    feed_a = server.route("/a.xml", Reply(200, rss("A", items_a), {"Content-Type": "application/rss+xml"}))
    feed_b = server.route("/b.xml", Reply(200, rss("B", items_b), {"Content-Type": "application/rss+xml"}))
    return feed_a, feed_b, STORIES


class HeldPage:
    """A page that answers normally, except that once armed it holds its next request
    unanswered until released. While a request is held, the process that sent it is certainly
    mid-run: waiting on this page."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.lock = threading.Lock()
        self.armed = False
        self.reached = threading.Event()
        self.released = threading.Event()

    def arm(self) -> None:
        with self.lock:
            self.armed = True
            self.reached.clear()
            self.released.clear()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            held, self.armed = self.armed, False
        if held:
            self.reached.set()
            self.released.wait(300)  # released once the process is killed; the bound only frees the thread
        return self.reply


def ingest_process(config: Path, env: dict[str, str], stdout: int = subprocess.DEVNULL) -> subprocess.Popen:
    """`newsdelta ingest` in a session of its own: killing its process group kills the run and
    its extraction workers, as stopping a container or a service does."""
    exe = Path(sys.executable).with_name("newsdelta")
    return subprocess.Popen([str(exe), "ingest", "--config", str(config)], env=env, stdout=stdout, stderr=subprocess.PIPE,
                            start_new_session=True)


def rows(db: Path, table: str) -> int:
    """Rows in `table` as another process sees them; 0 while the database or table is not there yet."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0


def counts(db: Path) -> dict[str, int]:
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        out = {m.__name__: s.exec(select(func.count()).select_from(m)).one() for m in (Article, ArticleVersion, Story, Finding, Alert)}
    engine.dispose()
    return out


@pytest.mark.prefect
def test_sigkill_mid_fetch_and_before_delivery_then_rerun_leaves_no_duplicates_and_every_alert(prefect_server: str, server, tmp_path: Path) -> None:
    feed_a, feed_b, expected_findings = publish_stories(server)
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    # timeout_s: a held page must stay held until the kill, however slow this machine is.
    # semantic = false: this test is about faults, so which findings the stories yield is pinned
    # to the word-based matching, whatever the sentence model's default and verdicts.
    config.write_text(f'[newsdelta]\nallow_hosts = ["127.0.0.1"]\nper_host_delay_s = 0.0\nconcurrency = 2\ntimeout_s = 240\nsemantic = false\n\n'
                      f'[alerts]\nconsole = true\n\n[[feeds]]\nurl = "{feed_a}"\noutlet = "A"\n\n[[feeds]]\nurl = "{feed_b}"\noutlet = "B"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDELTA_")}
    env.update(PREFECT_API_URL=prefect_server, NEWSDELTA_HOME=str(home))
    db = home / "newsdelta.db"
    first_page = HeldPage(server.routes["/a/0"])  # type: ignore[arg-type]
    newest_page = HeldPage(server.routes[f"/b/{STORIES - 1}"])  # type: ignore[arg-type]
    server.route("/a/0", first_page)
    server.route(f"/b/{STORIES - 1}", newest_page)

    def kill_while_held(page: HeldPage, stored_first: int) -> None:
        """Run ingest until it waits on `page` and has stored `stored_first` versions, then SIGKILL it
        (its process group: the run and its extraction workers)."""
        page.arm()
        process = ingest_process(config, env)
        try:
            wait_until(lambda: page.reached.is_set() and rows(db, "article_version") >= stored_first or process.poll() is not None,
                       f"the run to ask for the held page with {stored_first} versions stored")
            assert process.poll() is None, f"the run ended before the kill: {process.communicate()[1].decode()[-2000:]}"
            os.killpg(process.pid, signal.SIGKILL)
            assert process.wait(timeout=60) == -signal.SIGKILL
        finally:
            page.released.set()
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=60)

    # 1. Mid-fetch: the feeds are polled, the first batch's pages are being fetched.
    kill_while_held(first_page, stored_first=0)
    assert rows(db, "article") == 2 * STORIES and rows(db, "article_version") == 0
    # 2. Before delivery: the first batch (all but the newest article) is stored with its findings
    # and their alerts queued; the run waits on the newest page, delivery still to come.
    kill_while_held(newest_page, stored_first=2 * STORIES - 1)
    assert rows(db, "article_version") == 2 * STORIES - 1 and rows(db, "alert") == expected_findings - 1

    final = ingest_process(config, env, stdout=subprocess.PIPE)
    out, err = final.communicate(timeout=240)
    assert final.returncode == 0, err.decode()[-2000:]

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_article = conn.execute("SELECT article_id, COUNT(*) FROM article_version GROUP BY article_id").fetchall()
        alerts_per_finding = conn.execute("SELECT f.id, COUNT(a.id) FROM finding f LEFT JOIN alert a ON a.finding_id = f.id GROUP BY f.id").fetchall()
        statuses = [status for (status,) in conn.execute("SELECT status FROM alert")]
    got = counts(db)
    assert got["Article"] == 2 * STORIES and got["Story"] == STORIES
    assert all(n == 1 for _, n in per_article) and len(per_article) == 2 * STORIES
    assert got["Finding"] == expected_findings
    assert all(n == 1 for _, n in alerts_per_finding), "every finding has exactly its one (console) alert"
    assert statuses == ["sent"] * expected_findings
    assert out.decode().count("=== ALERT") == expected_findings, "the last run delivered every alert, the killed ones none"


def test_locked_sqlite_waits_then_fails_the_unit_cleanly_and_the_next_run_picks_it_up(server, settings, fetcher, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from newsdelta.storage.db import migrate

    db = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    pool = real_articles(1)[0]
    feed = server.route("/f.xml", Reply(200, rss("O", [{"title": "T", "link": server.url("/p")}]), {"Content-Type": "application/rss+xml"}))
    server.route("/p", Reply(200, article_html("T", Document.from_blocks([Block("paragraph", p) for p in pool]))))
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(feed)])
    poll.poll_feed(engine, fetcher, feed_id)
    [aid] = run_stage.articles_due(engine, 10, [feed_id])
    [fetched] = fetch_stage.fetch_batch(engine, fetcher, [aid], parallel=False, threads=1)

    @contextmanager
    def exclusive_lock() -> Iterator[None]:
        """Another connection holds the write lock for as long as the block runs."""
        conn = sqlite3.connect(db, timeout=1, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()

    # A lock that ends while the unit waits on it: the busy timeout (30 s) waits it out and the
    # unit succeeds. The lock is held SHORT_LOCK_S past the moment the unit issues its first
    # write: the length of the lock is the scenario, not a guess at how long anything takes.
    writing = threading.Event()

    def on_statement(conn, cursor, statement: str, *_):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writing.set()

    outcome: list[object] = []

    def store() -> None:
        try:
            outcome.extend(run_stage.store_batch(engine, [fetched], settings, ["console"]))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(exc)

    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        with exclusive_lock():
            worker = threading.Thread(target=store)
            worker.start()
            assert writing.wait(120), "the unit never got to its first write"
            time.sleep(SHORT_LOCK_S)
        worker.join(120)
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
    assert not worker.is_alive()
    [result] = outcome
    assert isinstance(result, run_stage.ArticleResult) and result.status == "stored", result

    # A lock held longer than the busy timeout (here: until the unit has given up): the unit
    # fails with a clear error, nothing half-written.
    from sqlmodel import create_engine

    impatient = create_engine(f"sqlite:///{db}", connect_args={"timeout": 0.3})  # no 30 s busy_timeout pragma
    run_stage.add_urls(impatient, [server.url("/p2")])
    server.route("/p2", Reply(200, article_html("T2", Document.from_blocks([Block("paragraph", p + " (2)") for p in pool]))))
    [aid2] = [a for a in run_stage.articles_due(impatient, 10) if a != aid]
    [fetched2] = fetch_stage.fetch_batch(engine, fetcher, [aid2], parallel=False, threads=1)
    with exclusive_lock(), pytest.raises(OperationalError, match="locked"):
        run_stage.store_batch(impatient, [fetched2], settings, ["console"])
    assert counts(db)["ArticleVersion"] == 1, "nothing of the failed unit was written"
    assert aid2 in run_stage.articles_due(engine, 10), "still due: the next run picks it up"
    assert run_stage.store_batch(engine, [fetched2], settings, ["console"])[0].status == "stored"
    assert counts(db)["ArticleVersion"] == 2


@pytest.mark.prefect
def test_alert_channel_down_for_a_whole_run_delivers_on_the_next(prefect_server: str, server, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from newsdelta.cli import app

    hook = server.route("/hook", Reply(503, b"maintenance"))
    monkeypatch.setenv("NEWSDELTA_SLACK_WEBHOOK_URL", hook)
    runner = CliRunner()
    data = tmp_path / "demo"
    first = runner.invoke(app, ["demo", "--data-dir", str(data)])
    assert first.exit_code == 0, first.output
    assert "1 failed" in first.output
    monkeypatch.setenv("NEWSDELTA_HOME", str(data))
    listed = json.loads(runner.invoke(app, ["alerts", "--json"]).output)
    slack = [a for a in listed if a["channel"] == "slack"]
    assert slack[0]["status"] == "failed" and "HTTP 503" in slack[0]["last_error"]
    failed_posts = server.hits("/hook")
    assert failed_posts and all(r.body == failed_posts[0].body for r in failed_posts), "the run tried, and only this alert"
    server.route("/hook", Reply(200, b"ok"))
    retried = runner.invoke(app, ["alerts", "--retry"])
    assert retried.exit_code == 0 and "retried: 1 sent" in retried.output
    posts = server.hits("/hook")
    assert len(posts) == len(failed_posts) + 1, "the retry posted once, and was answered 200"
    assert json.loads(posts[-1].body) == json.loads(failed_posts[0].body), "the same alert, delivered"
    rerun = runner.invoke(app, ["demo", "--data-dir", str(data)])
    assert rerun.exit_code == 0, rerun.output
    assert len(server.hits("/hook")) == len(posts), "the rerun finds nothing new and sends nothing again"
    listed = json.loads(runner.invoke(app, ["alerts", "--json"]).output)
    assert [a["status"] for a in listed if a["channel"] == "slack"] == ["sent"]
