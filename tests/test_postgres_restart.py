"""PostgreSQL restarted in the middle of an ingest run (`pg_ctl restart -m fast`: every session
ended, the server down, then back), on a throwaway cluster of the test's own, so the shared
server on 5432 is never touched.

The cluster is made by initdb in a temporary directory, run as an unprivileged user (postgres,
else nobody, when the tests run as root), and listens only on a Unix socket in that directory:
no TCP port at all. Without initdb these tests skip, saying why; under CI=true they fail."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from newsdelta.seeds.server import SiteServer
from newsdelta.settings import FeedConfig
from newsdelta.stages import fetch
from newsdelta.stages import run as run_stage
from newsdelta.storage.db import make_engine, migrate
from newsdelta.storage.models import Alert, Article, ArticleVersion, Finding, Story
from tests.builders import run

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)


class Cluster:
    """A PostgreSQL cluster in `root`, owned and run by `user` (None: this process's user)."""

    def __init__(self, root: Path, bindir: Path, user: str | None) -> None:
        self.root, self.bindir, self.user = root, bindir, user
        self.data, self.log = root / "data", root / "server.log"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{tool} failed: {done.stderr or done.stdout}\n{self.log.read_text() if self.log.exists() else ''}"

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", self._options(), "start")

    def _options(self) -> str:
        return f"-c listen_addresses='' -c unix_socket_directories='{self.root}' -c fsync=off"

    def restart(self) -> None:
        """Every session terminated, the server shut down and started again (-w: until it is up)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-m", "fast", "-o", self._options(), "restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not PG_BINS:
        reason = "initdb is not installed (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = next(u for u in ("postgres", "nobody") if _exists(u))
    root = Path(tempfile.mkdtemp(prefix="nd-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    c = Cluster(root, PG_BINS[0].parent, user)
    try:
        c.create()
        yield c
    finally:
        if (c.data / "postmaster.pid").exists():
            c.stop()
        shutil.rmtree(root, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


@pytest.fixture
def pg_url(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    name = request.node.name.removeprefix("test_")[:40]
    admin = create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return cluster.url(name)


def counts(engine: Any) -> dict[str, int]:
    with Session(engine) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one() for m in (Article, ArticleVersion, Story, Finding, Alert)}


def versions_per_article(engine: Any) -> list[int]:
    with Session(engine) as s:
        return list(s.exec(select(func.count()).select_from(ArticleVersion).group_by(ArticleVersion.article_id)).all())


ONCE = {"Article": 2, "ArticleVersion": 2, "Story": 1, "Finding": 1, "Alert": 1}


def seed_feeds(site: SiteServer) -> list[FeedConfig]:
    return [FeedConfig(site.url("harbor-times/feed.xml"), "Harbor Times"), FeedConfig(site.url("meridian-post/feed.xml"), "Meridian Post")]


def restarting_once(cluster: Cluster, stage: Callable[..., Any], on_call: int = 1) -> tuple[Callable[..., Any], threading.Event]:
    """`stage`, except that its `on_call`th call restarts the cluster before doing its work."""
    done, lock, calls = threading.Event(), threading.Lock(), [0]

    def hooked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            calls[0] += 1
            if calls[0] == on_call:
                cluster.restart()
                done.set()
        return stage(*args, **kwargs)

    return hooked, done


def test_a_restart_between_polling_and_storing_costs_nothing(cluster: Cluster, pg_url: str, settings, fetcher,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The feeds are polled (the engine's pooled connections used), then the server restarts
    while the first article is fetched: the run reconnects and completes, everything once."""
    engine = make_engine(pg_url)
    migrate(engine)
    s = settings.with_overrides(database_url=pg_url)
    hooked, restarted = restarting_once(cluster, fetch.fetch_article)
    monkeypatch.setattr(fetch, "fetch_article", hooked)
    with SiteServer() as site:
        results = run(engine, fetcher, s, seed_feeds(site))
        assert restarted.is_set()
        assert sorted(r.status for r in results) == ["stored", "stored"]
        assert counts(engine) == ONCE
        run(engine, fetcher, s, seed_feeds(site))
    assert counts(engine) == ONCE and versions_per_article(engine) == [1, 1]
    engine.dispose()


def test_a_restart_inside_the_storing_transaction_fails_the_run_whole_and_the_rerun_stores_once(
        cluster: Cluster, pg_url: str, settings, fetcher, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The server restarts while a batch of two articles is being stored (the first stored and
    matched, the second's version written, as its story is matched): the run fails with the
    database's error and nothing of the batch is kept; the rerun, on the same engine, stores
    each article once, one finding and one alert; a third run adds nothing."""
    engine = make_engine(pg_url)
    migrate(engine)
    s = settings.with_overrides(database_url=pg_url)
    hooked, restarted = restarting_once(cluster, run_stage.match_story, on_call=2)
    monkeypatch.setattr(run_stage, "match_story", hooked)
    with SiteServer() as site:
        with pytest.raises(OperationalError, match="terminat|closed|connection"):
            run(engine, fetcher, s, seed_feeds(site))
        assert restarted.is_set()
        assert counts(engine) == {**ONCE, "ArticleVersion": 0, "Story": 0, "Finding": 0, "Alert": 0}
        results = run(engine, fetcher, s, seed_feeds(site))
        assert sorted(r.status for r in results) == ["stored", "stored"]
        assert counts(engine) == ONCE
        assert run(engine, fetcher, s, seed_feeds(site)) == []
    assert counts(engine) == ONCE and versions_per_article(engine) == [1, 1]
    with Session(engine) as session:
        assert all(a.status == "ok" for a in session.exec(select(Article)))
    engine.dispose()
