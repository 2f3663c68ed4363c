"""The command line as a user meets it: mistakes are one line and exit status 2, read commands
leave nothing behind, --json is one document, a run that reads no feed says so with its own
status, progress is shown, and `deliver` with nothing due starts no Prefect."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsdelta import progress
from newsdelta.cli import EXIT_ALL_FEEDS_FAILED, EXIT_CONFIG, app
from newsdelta.http_client import Fetcher, HostThrottle
from newsdelta.settings import FeedConfig, Settings
from tests.conftest import wait_until
from tests.httpserver import Reply

DEAD_FEED = "http://127.0.0.1:9/feed.xml"  # never reached: each test fails before fetching


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), f"a traceback: {result.exception!r}"
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code: int, stdout: str, stderr: str) -> str:
    assert code == EXIT_CONFIG, (code, stdout, stderr)
    assert stdout == "" and len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    return stderr.strip()


def unwritable_directory(tmp_path: Path) -> Path:
    """A directory that takes no new file, even for root (who ignores permission bits)."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        return locked
    if not Path("/sys").is_dir():
        pytest.skip("running as root without a read-only /sys: no directory here refuses root a file")
    return Path("/sys")


@pytest.mark.parametrize("case", ["a file", "under a file", "unwritable"])
def test_a_data_directory_that_cannot_hold_the_database_is_one_line(tmp_path: Path, case: str) -> None:
    (tmp_path / "afile").write_text("x")
    home = {"a file": tmp_path / "afile", "under a file": tmp_path / "afile" / "sub", "unwritable": unwritable_directory(tmp_path)}[case]
    message = one_line_error(*invoke(["ingest", "--feed", DEAD_FEED], {"NEWSDELTA_HOME": str(home)}))
    assert message.startswith("configuration error: data directory") and str(home) in message and "NEWSDELTA_HOME" in message


@pytest.mark.parametrize(("url", "expected"), [
    ("nonsense", "NEWSDELTA_DATABASE_URL: not a database URL"),
    ("foo://bar/db", "NEWSDELTA_DATABASE_URL: unknown database kind 'foo'"),
    ("postgresql://u:hunter2@127.0.0.1:9/db", "newsdelta uses psycopg 3: write postgresql+psycopg://u:***@127.0.0.1:9/db"),
    ("postgresql+asyncpg://u@127.0.0.1:9/db", "asyncpg is an asynchronous driver"),
])
def test_a_database_url_mistake_is_one_line_saying_what_to_write(tmp_path: Path, url: str, expected: str) -> None:
    if url.startswith("postgresql://"):
        pytest.importorskip("psycopg", reason="newsdelta's PostgreSQL driver")
        if any(Path(p, "psycopg2").is_dir() for p in sys.path):
            pytest.skip("psycopg2 is installed here, so postgresql:// has its driver")
    for command in (["stories"], ["settings"], ["ingest", "--feed", DEAD_FEED]):
        message = one_line_error(*invoke(command, {"NEWSDELTA_HOME": str(tmp_path / "home"), "NEWSDELTA_DATABASE_URL": url}))
        assert expected in message and "hunter2" not in message
    assert not (tmp_path / "home").exists()


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    import psycopg

    try:
        psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3").close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must be reachable under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {exc}")
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:5432/newsdelta_no_such_database"
    for command in (["stories"], ["ingest", "--feed", DEAD_FEED]):
        message = one_line_error(*invoke(command, {"NEWSDELTA_HOME": str(tmp_path), "NEWSDELTA_DATABASE_URL": url}))
        assert 'database "newsdelta_no_such_database" does not exist' in message and "hunter2" not in message


def test_read_commands_create_no_database_nor_data_directory(tmp_path: Path) -> None:
    home = tmp_path / "mistyped-home"
    env = {"NEWSDELTA_HOME": str(home)}
    code, out, _ = invoke(["stories", "--json"], env)
    assert (code, json.loads(out)) == (0, [])
    assert invoke(["show", "1"], env)[0] == 1
    assert invoke(["feeds", "--json"], env)[:2] == (0, "[]\n")
    assert invoke(["alerts", "--json"], env)[:2] == (0, "[]\n")
    assert invoke(["settings"], env)[0] == 0
    result = CliRunner().invoke(app, ["web", "--port", "0"], env=env)
    assert result.exit_code != 0 and "no database at" in str(result.exception)
    assert not home.exists()


def test_a_feed_argument_that_is_not_a_url_is_refused_and_never_listed(tmp_path: Path) -> None:
    env = {"NEWSDELTA_HOME": str(tmp_path)}
    message = one_line_error(*invoke(["ingest", "--feed", "not-a-url"], env))
    assert message == "configuration error: --feed not-a-url: not an http(s) URL"
    assert invoke(["feeds", "--json"], env)[:2] == (0, "[]\n")


def test_a_feed_served_as_text_xml_and_read_whole_is_healthy(server, engine, fetcher, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """text/xml without a charset declares us-ascii, which a UTF-8 feed contradicts: feedparser
    flags it, yet every entry is read. `newsdelta feeds` calls it ok, not SICK."""
    from newsdelta.stages import poll
    from tests.builders import rss

    items = [{"title": f"Café n°{i}", "link": server.url(f"/a{i}")} for i in range(20)]
    url = server.route("/feed.xml", Reply(200, rss("Le Monde à côté", items), {"Content-Type": "text/xml"}))
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url)])
    assert poll.poll_feed(engine, fetcher, feed_id).new_entries == 20
    code, out, _ = invoke(["feeds", "--json"], {"NEWSDELTA_HOME": str(settings.home)})
    [shown] = json.loads(out)
    assert (code, shown["status"], shown["healthy"], shown["error"]) == (0, "ok", True, None)


def test_deliver_with_nothing_due_starts_no_prefect(tmp_path: Path) -> None:
    """Prefect's start-up (a temporary server on a machine without one) is the whole cost of
    sending nothing; with an empty outbox it is not paid."""
    from newsdelta.storage.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'newsdelta.db'}")
    migrate(engine)  # a database, no alerts
    engine.dispose()
    script = ("import sys\nfrom typer.testing import CliRunner\nfrom newsdelta.cli import app\n"
              "result = CliRunner().invoke(app, ['deliver'])\nprint(result.exit_code, repr(result.output), 'prefect' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDELTA_")} | {"NEWSDELTA_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip() == "0 '0 sent, 0 failed (nothing due)\\n' False", done.stdout + done.stderr[-2000:]


def test_progress_is_a_live_line_on_a_terminal_naming_the_hosts_held_by_spacing(settings: Settings) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    throttle = HostThrottle(delay_s=30.0)
    with Fetcher(settings, throttle), progress.show(screen, interval_s=0.01, width=200):
        progress.begin()
        progress.planned(articles=3, batches=1)
        progress.fetched_one()
        for _ in range(3):  # the first goes now, the two after it wait 30 s and 60 s
            throttle.reserve("slow.example")
        wait_until(lambda: "per-host spacing holds slow.example (60s queued)" in screen.getvalue(), "the live line")
        progress.batch_stored(["stored", "stored", "unchanged"], findings=1)
        wait_until(lambda: "batch 1/1 stored: 2 new, 1 unchanged, 0 failed, 1 finding(s)" in screen.getvalue(), "the batch")
        progress.end()
    drawn = screen.getvalue()
    assert "1/3 article(s) fetched" in drawn and "\n" not in drawn, "one line, redrawn in place"
    assert drawn.endswith("\r"), "the line is cleared when the run ends"


@pytest.mark.prefect
def test_a_run_where_every_feed_failed_exits_3_and_a_refused_loopback_feed_names_allow_hosts(
        prefect_server: str, server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.builders import rss

    feed = server.route("/feed.xml", Reply(200, rss("Local", []), {"Content-Type": "application/rss+xml"}))
    code, out, err = invoke(["ingest", "--feed", feed], {"NEWSDELTA_HOME": str(tmp_path), "NEWSDELTA_SEMANTIC": "false"})
    assert code == EXIT_ALL_FEEDS_FAILED, (out, err)
    assert "NEWSDELTA_ALLOW_HOSTS" in out, "the refused feed's error says how to allow it"
    assert "every feed failed (1 of 1)" in err and "Nothing new" not in out + err
    assert server.requests == [], "refused before connecting"


@pytest.mark.prefect
def test_ingest_json_is_exactly_one_document_on_stdout_with_console_alerts_on_stderr(prefect_server: str, tmp_path: Path) -> None:
    """The real console script, as a user runs it: no Prefect lines, no alert, nothing but the JSON."""
    from newsdelta.demo import start_site, write_demo_config

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDELTA_", "PREFECT_LOGGING"))}
    env.update(PREFECT_API_URL=prefect_server, NEWSDELTA_HOME=str(tmp_path), NEWSDELTA_SEMANTIC="false")
    exe = Path(sys.executable).with_name("newsdelta")
    started = time.monotonic()
    with start_site(tmp_path) as site:
        config = write_demo_config(tmp_path, site.base)  # console alerts on
        done = subprocess.run([str(exe), "ingest", "--config", str(config), "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert len(summary["findings"]) == 1 and summary["alerts"]["sent"], f"took {time.monotonic() - started:.0f}s"
    assert "=== ALERT" in done.stderr, "the console alert went to stderr"
    assert "progress: 2/2 article(s) fetched; batch 1/1 stored: 2 new" in done.stderr, "a line per batch off a terminal"
