"""The extraction worker processes (newsdelta/stages/workers.py) outlive nothing: when the run
that spawned them is killed with SIGKILL, they exit too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from newsdelta.stages import workers
from newsdelta.storage.db import make_engine, migrate
from tests.builders import article_html, rss
from tests.conftest import ROOT, wait_until
from tests.httpserver import Reply, Request, ScriptedServer
from textdelta import parse_plain_text


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (every thread's children, from /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """Running: a process that exited but was not reaped yet (a zombie) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_extraction_worker(pid: int) -> bool:
    try:
        return b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def test_extraction_workers_exit_when_the_run_that_started_them_is_killed(tmp_path: Path, server: ScriptedServer) -> None:
    """A real ingest run (tests/concurrent_worker.py: the shipped run without Prefect) over
    enough articles to extract in worker processes, killed with SIGKILL while it waits on a page
    the test holds, with its extraction workers started: they exit within a few seconds."""
    count = workers.MIN_ARTICLES_FOR_POOL + 2
    held, release = threading.Event(), threading.Event()

    def hold(_request: Request, body: bytes) -> Reply:
        held.set()
        release.wait(120)
        return Reply(200, body)

    items = []
    for i in range(count):
        body = article_html(f"Harbour strike day {i}", parse_plain_text(
            f"Dock workers at berth {i} walked off the job on Wednesday in a dispute over automation at the port.\n"
            f"The union said talks over berth {i} with the port authority had broken down after three weeks of meetings.\n"
            "Ships were diverted to other harbours along the coast while the strike lasted, officials said."))
        path = f"/strike/{i}"
        server.route(path, (lambda request, body=body: hold(request, body)) if i == count - 1 else Reply(200, body))
        items.append({"title": f"Harbour strike day {i}", "link": server.url(path)})
    feed = server.route("/feed.xml", Reply(200, rss("Port news", items), {"Content-Type": "application/rss+xml"}))

    url = f"sqlite:///{tmp_path / 'n.db'}"
    migrate(make_engine(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDELTA_")}
    errors = tmp_path / "stderr"
    with errors.open("wb") as err:
        run = subprocess.Popen([sys.executable, "-m", "tests.concurrent_worker", url, str(tmp_path), feed],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)

    def ready() -> bool:
        if run.poll() is not None:
            pytest.fail(f"the run ended before it was killed: {errors.read_text()[-2000:]}")
        return held.is_set() and any(_is_extraction_worker(c) for c in _children(run.pid))

    started: list[int] = []
    try:
        wait_until(ready, "the run waiting on the held page with its extraction workers started")
        started += [c for c in _children(run.pid) if _alive(c)]
        assert any(_is_extraction_worker(c) for c in started)
        run.send_signal(signal.SIGKILL)
        run.wait(30)
        wait_until(lambda: not any(_alive(c) for c in started), "the killed run's worker processes to exit", timeout_s=20)
    finally:
        release.set()
        run.kill()
        run.wait(30)
        for c in started:  # what the test failed on must not outlive it
            if _alive(c):
                os.kill(c, signal.SIGKILL)
