"""Faults: the ingest process killed at random points, a locked database, an alert channel
down for a whole run. Each time: nothing duplicated, nothing lost, the next run catches up."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from newsdelta.stages import fetch as fetch_stage, poll, run as run_stage
from newsdelta.settings import FeedConfig
from newsdelta.storage.db import make_engine
from newsdelta.storage.models import Alert, Article, ArticleVersion, Finding, Story
from tests.builders import article_html, rss
from tests.conftest import shared_data
from tests.httpserver import Reply, ScriptedServer
from textdelta import Block, Document

STORIES = 6


def real_articles(n: int) -> list[list[str]]:
    truth = json.loads(shared_data("data/articles/scrapinghub/ground-truth.json").read_text("utf-8"))
    out = []
    for item in sorted(truth.values(), key=lambda i: i["url"]):
        ps = [p.strip() for p in item["articleBody"].split("\n") if len(p.strip()) > 80]
        if 6 <= len(ps) <= 25:
            out.append(ps)
    return out[:n]


def publish_stories(server: ScriptedServer, delay_s: float) -> tuple[str, str, int]:
    """Outlet A publishes STORIES articles; outlet B republishes each a day later with one
    paragraph of its own added: STORIES findings expected."""
    pool = real_articles(STORIES + 1)
    items_a, items_b = [], []
    for i, ps in enumerate(pool[:STORIES]):
        extra = pool[(i + 1) % len(pool)][2]
        a = Document.from_blocks([Block("paragraph", p) for p in ps])
        b = Document.from_blocks([Block("paragraph", p) for p in ps[:3]] + [Block("heading", "Reaction"), Block("paragraph", extra)]
                                 + [Block("paragraph", p) for p in ps[3:]])
        server.route(f"/a/{i}", Reply(200, article_html(f"Story {i}", a, date="2025-03-01"), delay_s=delay_s))
        server.route(f"/b/{i}", Reply(200, article_html(f"Story {i} (B)", b, date="2025-03-02"), delay_s=delay_s))
        from datetime import datetime, timezone
        items_a.append({"title": f"Story {i}", "link": server.url(f"/a/{i}"), "published": datetime(2025, 3, 1, i, tzinfo=timezone.utc)})
        items_b.append({"title": f"Story {i} (B)", "link": server.url(f"/b/{i}"), "published": datetime(2025, 3, 2, i, tzinfo=timezone.utc)})
    feed_a = server.route("/a.xml", Reply(200, rss("A", items_a), {"Content-Type": "application/rss+xml"}))
    feed_b = server.route("/b.xml", Reply(200, rss("B", items_b), {"Content-Type": "application/rss+xml"}))
    return feed_a, feed_b, STORIES


def ingest_process(config: Path, env: dict[str, str]) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("newsdelta")
    return subprocess.Popen([str(exe), "ingest", "--config", str(config)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


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
def test_sigkill_at_random_points_then_rerun_leaves_no_duplicates_and_every_alert(prefect_server: str, server, tmp_path: Path) -> None:
    feed_a, feed_b, expected_findings = publish_stories(server, delay_s=0.15)
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    config.write_text(f'[newsdelta]\nallow_hosts = ["127.0.0.1"]\nper_host_delay_s = 0.0\nconcurrency = 2\n\n'
                      f'[alerts]\nconsole = true\n\n[[feeds]]\nurl = "{feed_a}"\noutlet = "A"\n\n[[feeds]]\nurl = "{feed_b}"\noutlet = "B"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDELTA_")}
    env.update(PREFECT_API_URL=prefect_server, NEWSDELTA_HOME=str(home))
    rng = random.Random(7)
    db = home / "newsdelta.db"
    kills = 0
    for attempt in range(3):
        process = ingest_process(config, env)
        if attempt == 0:
            # The first kill is sure to land mid-run, whatever this machine's speed: once the
            # feeds are polled (articles known, pages being fetched) or once the first batch is
            # stored (delivery still to come), after a random extra moment.
            table = rng.choice(["article", "article_version"])
            deadline = time.monotonic() + 60
            while process.poll() is None and rows(db, table) == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            time.sleep(rng.uniform(1.0, 5.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
    final = ingest_process(config, env)
    _, err = final.communicate(timeout=240)
    assert final.returncode == 0, err.decode()[-2000:]

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_article = conn.execute("SELECT article_id, COUNT(*) FROM article_version GROUP BY article_id").fetchall()
        alerts_per_finding = conn.execute("SELECT f.id, COUNT(a.id) FROM finding f LEFT JOIN alert a ON a.finding_id = f.id GROUP BY f.id").fetchall()
    got = counts(db)
    assert kills >= 1, "the test must actually kill a run"
    assert got["Article"] == 2 * STORIES and got["Story"] == STORIES
    assert all(n == 1 for _, n in per_article) and len(per_article) == 2 * STORIES
    assert got["Finding"] == expected_findings
    assert all(n == 1 for _, n in alerts_per_finding), "every finding has exactly its one (console) alert"


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

    def hold_lock(seconds: float) -> threading.Thread:
        ready = threading.Event()

        def hold() -> None:
            conn = sqlite3.connect(db, timeout=1)
            conn.execute("BEGIN EXCLUSIVE")
            ready.set()
            time.sleep(seconds)
            conn.rollback()
            conn.close()

        thread = threading.Thread(target=hold)
        thread.start()
        ready.wait()
        return thread

    # A short lock: the busy timeout waits it out and the unit succeeds.
    thread = hold_lock(1.0)
    assert run_stage.store_batch(engine, [fetched], settings, ["console"])[0].status == "stored"
    thread.join()
    # A lock longer than the busy timeout: the unit fails with a clear error, nothing half-written.
    from sqlmodel import create_engine

    impatient = create_engine(f"sqlite:///{db}", connect_args={"timeout": 0.3})  # no 30 s busy_timeout pragma
    run_stage.add_urls(impatient, [server.url("/p2")])
    server.route("/p2", Reply(200, article_html("T2", Document.from_blocks([Block("paragraph", p + " (2)") for p in pool]))))
    [aid2] = [a for a in run_stage.articles_due(impatient, 10) if a != aid]
    [fetched2] = fetch_stage.fetch_batch(engine, fetcher, [aid2], parallel=False, threads=1)
    thread = hold_lock(2.0)
    with pytest.raises(OperationalError, match="locked"):
        run_stage.store_batch(impatient, [fetched2], settings, ["console"])
    thread.join()
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
    server.route("/hook", Reply(200, b"ok"))
    retried = runner.invoke(app, ["alerts", "--retry"])
    assert retried.exit_code == 0 and "retried: 1 sent" in retried.output
    assert len([r for r in server.hits("/hook") if r.body]) >= 2
    assert runner.invoke(app, ["demo", "--data-dir", str(data)]).exit_code == 0
    ok_posts = [r for r in server.hits("/hook")]
    assert sum(1 for a in json.loads(runner.invoke(app, ["alerts", "--json"]).output) if a["channel"] == "slack" and a["status"] == "sent") == 1
    assert len(ok_posts) == len(server.hits("/hook"))
