"""Prefect flows and the CLI, run against one Prefect test server for the whole session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from newsdelta.cli import app
from newsdelta.storage.db import make_engine
from newsdelta.storage.models import Alert, ArticleVersion, Finding
from tests.conftest import seed_text
from tests.httpserver import Reply

pytestmark = pytest.mark.prefect
SIGNAL = "Signal Chat Controversy Overshadows Trip"


@pytest.fixture
def cli(prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("NEWSDELTA_HOME", str(tmp_path / "home"))
    return CliRunner()


def counts(database: Path) -> tuple[int, int, int]:
    engine = make_engine(f"sqlite:///{database}")
    with Session(engine) as s:
        out = tuple(s.exec(select(func.count()).select_from(m)).one() for m in (ArticleVersion, Finding, Alert))
    engine.dispose()
    return out  # type: ignore[return-value]


def test_demo_twice_with_one_data_dir_alerts_once(cli: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "demo"
    first = cli.invoke(app, ["demo", "--data-dir", str(data)])
    assert first.exit_code == 0, first.output
    assert "=== ALERT" in first.output and SIGNAL in first.output
    assert "Harbor Times" in first.output and "Meridian Post" in first.output
    assert "China’s foreign ministry has not yet issued a statement" in first.output
    assert first.output.count("=== ALERT") == 1
    assert counts(data / "newsdelta.db") == (2, 1, 1)
    second = cli.invoke(app, ["demo", "--data-dir", str(data)])
    assert second.exit_code == 0, second.output
    assert "=== ALERT" not in second.output and "Nothing new." in second.output
    assert counts(data / "newsdelta.db") == (2, 1, 1)


def test_ingest_flow_leaves_a_markdown_artifact(prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from newsdelta.demo import start_site, write_demo_config

    monkeypatch.setenv("NEWSDELTA_HOME", str(tmp_path))
    from newsdelta.flows.ingest import ingest

    with start_site(tmp_path) as site:
        state = ingest(config_path=str(write_demo_config(tmp_path, site.base)), return_state=True)
    summary = state.result()
    assert len(summary["findings"]) == 1 and summary["alerts"]["sent"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["newsdelta-ingest"]), flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    assert len(artifacts) == 1
    assert "## Findings: 1" in artifacts[0].data and "## Alerts: 1 sent" in artifacts[0].data


def test_ingest_single_feed_without_config_and_the_read_commands(cli: CliRunner, server, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.builders import article_html, rss
    from textdelta import parse_plain_text

    monkeypatch.setenv("NEWSDELTA_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("NEWSDELTA_PER_HOST_DELAY_S", "0")
    doc = parse_plain_text(seed_text("000_"))
    feed = server.route("/feed.xml", Reply(200, rss("Harbor", [{"title": "Japan", "link": server.url("/japan")}]), {"Content-Type": "application/rss+xml"}))
    server.route("/japan", Reply(200, article_html("Hegseth in Japan", doc)))
    server.route("/broken.xml", Reply(500, b"down"))
    result = cli.invoke(app, ["ingest", "--feed", feed, "--feed", server.url("/broken.xml")])
    assert result.exit_code == 0, result.output
    assert "HTTP 500" in result.output and "stored" in result.output

    feeds = json.loads(cli.invoke(app, ["feeds", "--json"]).output)
    assert {f["url"]: f["healthy"] for f in feeds} == {feed: True, server.url("/broken.xml"): False}
    stories = json.loads(cli.invoke(app, ["stories", "--json"]).output)
    assert len(stories) == 1 and stories[0]["title"] == "Hegseth in Japan"
    shown = json.loads(cli.invoke(app, ["show", str(stories[0]["id"]), "--json"]).output)
    assert shown["articles"][0]["url"] == server.url("/japan") and shown["findings"] == []
    assert cli.invoke(app, ["show", "999"]).exit_code == 1


def test_track_one_url(cli: CliRunner, server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.builders import article_html
    from textdelta import parse_plain_text

    monkeypatch.setenv("NEWSDELTA_ALLOW_HOSTS", "127.0.0.1")
    doc = parse_plain_text(seed_text("002_"))
    url = server.route("/rewrite", Reply(200, article_html("Hegseth reaffirms Japan role", doc)))
    result = cli.invoke(app, ["track", url])
    assert result.exit_code == 0, result.output
    assert "stored" in result.output and "newsdelta show" in result.output


def test_ingest_without_feeds_is_a_configuration_error(cli: CliRunner) -> None:
    result = cli.invoke(app, ["ingest"])
    assert result.exit_code == 2 and "no feeds configured" in result.output


def test_readme_first_command_runs_the_demo_as_a_user_would(prefect_server: str, tmp_path: Path) -> None:
    """The real console script in a subprocess, pointed at the session's Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDELTA_")}
    env["PREFECT_API_URL"] = prefect_server
    exe = Path(sys.executable).with_name("newsdelta")
    done = subprocess.run([str(exe), "demo"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert SIGNAL in done.stdout and "1 finding(s)" in done.stdout
