"""Shared fixtures: real HTTP servers on 127.0.0.1, real SQLite files, one Prefect test server.

PREFECT_HOME is isolated in a temporary directory before Prefect is imported anywhere."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="newsdelta-prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
for _var in [v for v in os.environ if v.startswith("NEWSDELTA_")]:
    del os.environ[_var]  # a developer's own configuration must not leak into tests

import pytest  # noqa: E402

from newsdelta.seeds import seed_text  # noqa: E402,F401 - tests import it from here
from newsdelta.settings import FeedConfig, Settings, load_settings  # noqa: E402
from tests.httpserver import ScriptedServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TEXTS_DIR = Path(__file__).resolve().parent / "data" / "texts"
EVALUATION_TEXTS = ROOT / "newsdelta" / "evaluation" / "data" / "texts"


def shared_data(relative: str) -> Path:
    """A corpus under ../shared (beside the project, not in it). Without it the tests that need
    it skip, saying why; under CI=true, where it is always there, its absence fails them."""
    path = SHARED / relative
    if path.exists():
        return path
    reason = f"{path} is not here: these tests need the shared corpora beside the project (CI has them)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer().start()
    yield s
    s.stop()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 where a connection is refused for certain: bound by this process
    for the whole test (so nothing else can take it) and never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 120.0) -> None:
    """Poll `condition` until it holds. `timeout_s` is only a safety net against a hung test,
    far above what the condition should ever take; reaching it fails the test."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={"NEWSDELTA_HOME": str(tmp_path)}).with_overrides(
        allow_hosts=("127.0.0.1",), per_host_delay_s=0.0, timeout_s=5.0, max_bytes=2_000_000,
    )


@pytest.fixture
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    from newsdelta.storage.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def fetcher(settings: Settings):  # type: ignore[no-untyped-def]
    from newsdelta.http_client import Fetcher

    with Fetcher(settings) as f:
        yield f


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One Prefect test server for the whole session (it takes 20-30 s to start here)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield PREFECT_API_URL.value()


def feed_config(url: str, outlet: str = "") -> FeedConfig:
    return FeedConfig(url=url, outlet=outlet)
