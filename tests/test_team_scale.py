"""Team scale: the same code on PostgreSQL, two workers at once on one database, and schema
migrations that upgrade an earlier release's database without losing rows.

PostgreSQL tests use the server on 127.0.0.1:5432 (user postgres, trust auth) and create and
drop their own database. Where none answers they skip, except under CI=true, where they fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, func, select

from newsdelta.seeds.server import SiteServer
from newsdelta.settings import FeedConfig
from newsdelta.stages import poll
from newsdelta.stages import run as run_stage
from newsdelta.storage.db import make_engine, migrate
from newsdelta.storage.models import Alert, Article, ArticleVersion, Finding, Story
from tests.builders import run, store_one
from tests.conftest import ROOT
from tests.httpserver import Reply, ScriptedServer

PG_ADMIN = os.environ.get("NEWSDELTA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SIGNAL = "Signal Chat Controversy Overshadows Trip"


def _admin_engine():  # type: ignore[no-untyped-def]
    return create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@pytest.fixture(scope="module")
def pg_available() -> str:
    try:
        with _admin_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must be reachable under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN}: {type(exc).__name__}")
    return PG_ADMIN


@pytest.fixture
def pg_url(pg_available: str) -> Iterator[str]:
    name = f"newsdelta_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one() for m in (Article, ArticleVersion, Story, Finding, Alert)}


def seed_feeds(site: SiteServer) -> list[FeedConfig]:
    return [FeedConfig(site.url("harbor-times/feed.xml"), "Harbor Times"), FeedConfig(site.url("meridian-post/feed.xml"), "Meridian Post")]


@pytest.mark.postgres
def test_migrations_create_the_schema_on_postgresql(pg_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = make_engine(pg_url)
    migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    engine.dispose()


@pytest.mark.postgres
def test_full_ingest_on_postgresql_and_rerun_adds_nothing(pg_url: str, settings, fetcher) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(pg_url)
    migrate(engine)
    s = settings.with_overrides(database_url=pg_url)
    with SiteServer() as site:
        run(engine, fetcher, s, seed_feeds(site))
        assert counts(engine) == {"Article": 2, "ArticleVersion": 2, "Story": 1, "Finding": 1, "Alert": 1}
        with Session(engine) as session:
            finding = session.exec(select(Finding)).one()
        assert json.loads(finding.new_sections)[0]["heading"] == SIGNAL
        assert run(engine, fetcher, s, seed_feeds(site)) == []
        assert counts(engine)["ArticleVersion"] == 2
    engine.dispose()


def _two_workers_at_once(database_url: str, home: Path, server: ScriptedServer) -> list[str]:
    """Two worker processes over the seed outlets, provably at once: their feeds are served by
    `server`, which holds each worker's request for the first feed until the other worker has
    asked for it too."""
    both_polling = threading.Barrier(2, timeout=120)
    with SiteServer() as site:
        feeds = []
        for i, feed in enumerate(seed_feeds(site)):
            reply = Reply(200, httpx.get(feed.url, trust_env=False).content, {"Content-Type": "application/rss+xml"})

            def meet(_request, reply: Reply = reply) -> Reply:  # type: ignore[no-untyped-def]
                both_polling.wait()  # raises, and the request fails, if the other worker never comes
                return reply

            feeds.append(server.route(f"/feed{i}.xml", meet if i == 0 else reply))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDELTA_")}
        args = [sys.executable, "-m", "tests.concurrent_worker", database_url, str(home), *feeds]
        workers = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = []
        for worker in workers:
            out, err = worker.communicate(timeout=180)
            assert worker.returncode == 0, err[-3000:]
            outputs.append(out.strip())
    assert len(server.hits("/feed0.xml")) == 2 and not both_polling.broken, "both workers were polling at the same time"
    return outputs


def _check_once(engine) -> None:  # type: ignore[no-untyped-def]
    assert counts(engine) == {"Article": 2, "ArticleVersion": 2, "Story": 1, "Finding": 1, "Alert": 1}


@pytest.mark.postgres
def test_two_workers_at_once_on_postgresql_store_everything_once(pg_url: str, tmp_path: Path, server: ScriptedServer) -> None:
    engine = make_engine(pg_url)
    migrate(engine)
    _two_workers_at_once(pg_url, tmp_path, server)
    _check_once(engine)
    engine.dispose()


def test_two_workers_at_once_on_sqlite_store_everything_once(tmp_path: Path, server: ScriptedServer) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    migrate(engine)
    _two_workers_at_once(url, tmp_path, server)
    _check_once(engine)


def _upgrade_from_first_release(url: str) -> None:
    engine = make_engine(url)
    migrate(engine, "0001")
    assert "tracking_lock" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO feed (url, outlet, poll_interval_s, last_status, entries_seen, new_entries, consecutive_failures, "
                          "total_polls, total_failures, created_at) VALUES ('https://a.example/feed', 'A', 900, 'ok', 3, 1, 0, 5, 0, :t)"),
                     {"t": "2025-01-01 00:00:00+00:00"})
        conn.execute(text("INSERT INTO story (title, created_at, updated_at) VALUES ('S', :t, :t)"), {"t": "2025-01-01 00:00:00+00:00"})
        conn.execute(text("INSERT INTO article (url, feed_id, outlet, title, story_id, status, first_seen_at, check_count, fetch_failures) "
                          "VALUES ('https://a.example/1', 1, 'A', 'T', 1, 'ok', :t, 1, 0)"), {"t": "2025-01-01 00:00:00+00:00"})
        conn.execute(text("INSERT INTO article_version (article_id, number, content_hash, title, blocks, source, fetched_at) "
                          "VALUES (1, 1, 'abc', 'T', '[]', 'page', :t)"), {"t": "2025-01-01 00:00:00+00:00"})
    migrate(engine)  # to head
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ArticleVersion)).one() == 1
        assert session.exec(select(Article)).one().url == "https://a.example/1"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT counter FROM tracking_lock WHERE id = 1")).scalar_one() == 0
        assert conn.execute(text("SELECT title FROM feed")).scalar_one() is None
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head_revision(engine)
    engine.dispose()


def _head_revision(engine) -> str:  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    from newsdelta.storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None and head > "0001"
    return head


def test_database_of_the_first_release_upgrades_without_losing_rows_sqlite(tmp_path: Path) -> None:
    _upgrade_from_first_release(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_database_of_the_first_release_upgrades_without_losing_rows_postgresql(pg_url: str) -> None:
    _upgrade_from_first_release(pg_url)


@pytest.mark.postgres
def test_postgresql_dropping_every_connection_mid_run_costs_nothing(pg_url: str, settings, fetcher) -> None:  # type: ignore[no-untyped-def]
    """What clients see when the server restarts: every connection cut. The next unit of work
    reconnects (pool_pre_ping) and the run completes with nothing lost or doubled."""
    engine = make_engine(pg_url)
    migrate(engine)
    s = settings.with_overrides(database_url=pg_url)
    name = pg_url.rsplit("/", 1)[1]
    with SiteServer() as site:
        ids = poll.sync_feeds(engine, seed_feeds(site))
        for feed_id in ids:
            poll.poll_feed(engine, fetcher, feed_id)
        due = run_stage.articles_due(engine, 10, ids)
        for aid in due:
            with _admin_engine().connect() as admin:
                cut = admin.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                                    {"d": name}).scalar_one()
            assert cut >= 1, "the engine's pooled connections were cut"
            assert store_one(engine, fetcher, s, aid).status == "stored"
    _check_once(engine)
    engine.dispose()


def test_a_fresh_data_directory_is_created_for_the_sqlite_file(tmp_path: Path) -> None:
    """Flows started by a worker (not the CLI) must not depend on someone creating NEWSDELTA_HOME."""
    url = f"sqlite:///{tmp_path / 'not' / 'yet' / 'there' / 'newsdelta.db'}"
    engine = make_engine(url)
    migrate(engine)
    assert (tmp_path / "not" / "yet" / "there" / "newsdelta.db").exists()
    engine.dispose()
