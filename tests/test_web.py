"""The web view over HTTP (`newsdelta web`'s application and server, from a read-only engine),
on a database filled by the real ingest: what each page and its JSON say, the security headers,
that hostile text is escaped, that nothing secret is shown and nothing is written; the same on
PostgreSQL. What a browser does with the pages is tests/test_web_browser.py."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select
from typer.testing import CliRunner

from newsdelta.alerts.message import build_message
from newsdelta.alerts.render import environment as alert_templates
from newsdelta.alerts.render import render, render_slack
from newsdelta.cli import app
from newsdelta.errors import ConfigError
from newsdelta.flows.report import ingest_markdown
from newsdelta.settings import load_settings
from newsdelta.storage.browse import DatabaseUnavailable, read_only_engine
from newsdelta.storage.db import make_engine, migrate
from newsdelta.storage.models import Alert, Feed, Finding
from newsdelta.views import alerts_view, feeds_view, stories_view, story_view
from tests.conftest import ROOT
from tests.web_support import ADDED, CHINA, HOSTILE_ADDED, SIGNAL, WebData, fill, filled_sqlite, serving, web_settings

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECRET = "s3cr3t-feed-password"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, WebData]:
    url, data = filled_sqlite(tmp_path_factory.mktemp("web-home"))
    writer = make_engine(url)
    with Session(writer) as session:  # a feed whose address and error carry a password, and a failed alert
        session.add(Feed(url=f"https://desk:{SECRET}@feeds.example.com/private.xml", outlet="Private Desk", last_status="error",
                         last_error=f"HTTP 401 from https://desk:{SECRET}@feeds.example.com/private.xml", consecutive_failures=2))
        alert = session.exec(select(Alert)).first()
        assert alert is not None
        alert.status, alert.last_error, alert.attempts = "failed", "webhook answered HTTP 500", 1
        session.add(alert)
        session.commit()
    writer.dispose()
    return url, data


@pytest.fixture(scope="module")
def site(filled: tuple[str, WebData]) -> Iterator[tuple[httpx.Client, WebData]]:
    url, data = filled
    engine = read_only_engine(url)
    with serving(engine) as base, httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        yield client, data
    engine.dispose()


def get(client: httpx.Client, path: str, status: int = 200) -> httpx.Response:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response


def test_the_json_is_what_the_cli_prints(site: tuple[httpx.Client, WebData], filled: tuple[str, WebData]) -> None:
    client, data = site
    engine = make_engine(filled[0])
    expected = json.loads(json.dumps(stories_view(engine), default=str))
    assert get(client, "/api/stories").json() == expected, "/api/stories is `newsdelta stories --json`"
    assert [s["id"] for s in expected][-1] == data.hegseth_story, "most recent activity first: the seed story was ingested first"
    show = json.loads(json.dumps(story_view(engine, data.hegseth_story), default=str))
    assert get(client, f"/api/stories/{data.hegseth_story}").json() == show, "/api/stories/N is `newsdelta show N --json`"
    assert get(client, "/api/stories/999999", 404).json() == {"error": "no story 999999"}
    feeds = get(client, "/api/feeds").json()
    assert [f["outlet"] for f in feeds] == [f["outlet"] for f in feeds_view(engine)]
    alerts = get(client, "/api/alerts").json()
    assert [a["id"] for a in alerts] == [a["id"] for a in alerts_view(engine)]
    assert [a["status"] for a in get(client, "/api/alerts?status=failed").json()] == ["failed"]
    engine.dispose()


def test_the_story_page_has_the_timeline_and_the_new_section_in_place(site: tuple[httpx.Client, WebData]) -> None:
    client, data = site
    page = get(client, f"/api/stories/{data.hegseth_story}/page").json()
    assert [a["outlet"] for a in page["timeline"]] == ["Harbor Times", "Meridian Post"], "tellings in publication order"
    assert [len(a["versions"]) for a in page["timeline"]] == [1, 1]
    [finding] = page["findings"]
    assert (finding["outlet"], finding["compared_outlets"]) == ("Meridian Post", ["Harbor Times"])
    sections = {s["heading"]: s for s in finding["sections"]}
    signal = sections[SIGNAL]
    assert signal["new"] and all(p["new"] for p in signal["paragraphs"])
    china = [s for p in signal["paragraphs"] for s in p["sentences"] if s["text"] == CHINA]
    assert [s["status"] for s in china] == ["new"]
    assert all(p["first"]["here"] and p["first"]["outlet"] == "Meridian Post" for p in signal["paragraphs"]), "first published by the rewrite"
    restated = [p for s in finding["sections"] for p in s["paragraphs"] if p["text"].startswith("Emphasizing Japan")]
    [paragraph] = restated
    assert not paragraph["new"]
    assert any(o["text"].startswith("Hegseth said Japan is a “cornerstone") and o["outlet"] == "Harbor Times" for o in paragraph["beside"])
    assert paragraph["first"]["outlet"] == "Harbor Times" and not paragraph["first"]["here"], "first published by the original"
    changed = [s for sec in finding["sections"] for p in sec["paragraphs"] for s in p["sentences"] if s["status"] == "changed"]
    assert changed and all(s["old"] for s in changed), "a reworded sentence carries its old wording"

    html = get(client, f"/stories/{data.hegseth_story}").text
    assert html.count('class="telling"') == 2 and "Harbor Times" in html and "Meridian Post" in html
    assert re.search(rf'<section class="sec new">\s*<h4>{SIGNAL} <span class="badge">new section</span></h4>', html)
    assert f'<mark class="s new">{CHINA}</mark>' in html


def test_the_article_page_diffs_any_two_versions(site: tuple[httpx.Client, WebData]) -> None:
    client, data = site
    article = get(client, f"/api/articles/{data.edited_article}").json()
    assert [v["number"] for v in article["versions"]] == [1, 2]
    diff = article["diff"]
    assert (diff["old"], diff["new"], diff["added"], diff["removed"]) == (1, 2, [ADDED], [])
    assert get(client, f"/api/articles/{data.edited_article}?from=2&to=1").json()["diff"]["removed"] == [ADDED], "either way round"
    html = get(client, f"/articles/{data.edited_article}?from=1&to=2").text
    assert f'<ins class="s added">{ADDED}</ins>' in html
    single = get(client, f"/api/articles/{data.harbor_article}").json()
    assert single["diff"] is None and single["text"]["number"] == 1, "one version: its text, no diff"
    get(client, "/articles/999999", 404)


def test_the_list_filters_and_pages(site: tuple[httpx.Client, WebData]) -> None:
    client, data = site

    def ids(query: str) -> list[int]:
        return [s["id"] for s in get(client, "/api/stories" + query).json()]

    everything = ids("")
    assert sorted(everything) == sorted([data.hegseth_story, data.edited_story, data.hostile_story])
    assert ids("?q=HEGSETH") == [data.hegseth_story], "text in the headline, any case"
    assert ids("?q=100%25") == [] and ids("?q=_") == [], "% and _ are text, not patterns"
    assert ids("?outlet=Meridian+Post") == [data.hegseth_story]
    assert sorted(ids("?outlet=Corran+Desk")) == sorted([data.edited_story, data.hostile_story])
    today = datetime.now(UTC).date()
    assert sorted(ids(f"?from={today - timedelta(days=1)}&to={today}")) == sorted(everything)
    assert ids(f"?from={today + timedelta(days=1)}") == [] and ids(f"?to={today - timedelta(days=1)}") == []
    pages, link = [], "/api/stories?n=1"
    while link:
        response = get(client, link)
        pages += [s["id"] for s in response.json()]
        link = response.links.get("next", {}).get("url", "")
    assert pages == everything, "one story a page, following the Link headers, gives every story once, in order"
    html = get(client, "/?n=1").text
    assert 'rel="next"' in html and html.count('class="story"') == 1
    for bad in ("?from=yesterday", "?to=2025-13-01", "?after=garbage", "?n=many", "?from=2025-02-01&to=2025-01-01"):
        assert "error" in get(client, "/api/stories" + bad, 400).json()
        assert "Cannot read that address" in get(client, "/" + bad, 400).text


def test_every_response_carries_a_strict_policy_and_no_page_has_script(site: tuple[httpx.Client, WebData]) -> None:
    client, data = site
    paths = ["/", f"/stories/{data.hegseth_story}", f"/stories/{data.hostile_story}", f"/articles/{data.hostile_article}",
             f"/articles/{data.edited_article}", "/feeds", "/alerts", "/alerts?status=failed", "/api/stories", "/static/style.css",
             "/nowhere", "/?from=x"]
    for path in paths:
        response = client.get(path)
        assert response.headers["content-security-policy"] == CSP, path
        assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-frame-options"] == "DENY"
        if response.headers["content-type"].startswith("text/html"):
            assert "<script" not in response.text.lower() and not re.search(r"<[^>]*\son\w+=", response.text), path
    assert client.post("/").status_code == 405, "nothing to post to"


def test_hostile_text_is_shown_as_text(site: tuple[httpx.Client, WebData]) -> None:
    client, data = site
    for path in ("/", f"/stories/{data.hostile_story}", f"/articles/{data.hostile_article}"):
        html = get(client, path).text
        assert "&lt;script&gt;document.title=&#34;pwned&#34;;alert(&#34;script ran&#34;)&lt;/script&gt;" in html, path
        assert "&lt;img src=x onerror=alert(&#34;img ran&#34;)&gt;" in html, path
        assert "<img" not in html and 'href="javascript' not in html
    page = get(client, f"/api/stories/{data.hostile_story}/page").json()
    [finding] = page["findings"]
    assert [p["text"] for s in finding["sections"] for p in s["paragraphs"] if p["new"]] == [HOSTILE_ADDED]


def test_no_secret_is_shown(site: tuple[httpx.Client, WebData]) -> None:
    client, _ = site
    for path in ("/feeds", "/api/feeds"):
        body = get(client, path).text
        assert SECRET not in body and "Private Desk" in body and "***@feeds.example.com" in body
    assert "webhook answered HTTP 500" in get(client, "/alerts?status=failed").text


def test_the_web_view_cannot_write(filled: tuple[str, WebData], tmp_path: Path) -> None:
    engine = read_only_engine(filled[0])
    with pytest.raises(DBAPIError, match="readonly|read-only|read only"), engine.begin() as conn:
        conn.execute(text("UPDATE story SET title = 'changed'"))
    engine.dispose()
    with pytest.raises(DatabaseUnavailable, match="no database at"):
        read_only_engine(f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists(), "a missing database is not created"
    empty = tmp_path / "empty.db"
    create_engine(f"sqlite:///{empty}").connect().close()
    with pytest.raises(DatabaseUnavailable, match="no newsdelta tables"):
        read_only_engine(f"sqlite:///{empty}")
    with socket.socket() as closed:  # bound, never listening: the connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"postgresql+psycopg://desk:{SECRET}@127.0.0.1:{closed.getsockname()[1]}/news"
        with pytest.raises(DatabaseUnavailable, match="cannot read postgresql") as caught:
            read_only_engine(url)
    assert SECRET not in str(caught.value)


def test_hosts_other_than_the_machine_and_the_public_address_are_refused(filled: tuple[str, WebData]) -> None:
    """DNS rebinding: a page elsewhere that makes its own name point at 127.0.0.1 must not read the view."""
    from newsdelta.views.web.app import allowed_hosts_for

    hosts = allowed_hosts_for("127.0.0.1", "https://news.example.org/desk")
    assert hosts == ["127.0.0.1", "localhost", "news.example.org"]
    engine = read_only_engine(filled[0])
    with serving(engine, hosts) as base, httpx.Client(base_url=base, trust_env=False) as client:
        assert client.get("/").status_code == 200
        assert client.get("/", headers={"Host": "news.example.org"}).status_code == 200
        assert client.get("/api/stories", headers={"Host": "attacker.example"}).status_code == 400
    engine.dispose()


def test_newsdelta_web_serves_the_data_dir_without_prefect(filled: tuple[str, WebData]) -> None:
    """The command as a user runs it, with Prefect made unimportable: the web view is a process that only reads."""
    home = Path(filled[0].removeprefix("sqlite:///")).parent
    code = ("import sys; sys.modules['prefect'] = None; from newsdelta.cli import main; "
            f"sys.argv = ['newsdelta', 'web', '--data-dir', {str(home)!r}, '--port', '0']; main()")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDELTA_")}
    env["NEWSDELTA_DATABASE_URL"] = "sqlite:////nonexistent/elsewhere.db"  # --data-dir wins, as in the demo
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("newsdelta web: http://127.0.0.1:"), first + (process.stderr.read() if process.poll() is not None else "")
        base = first.split()[2].rstrip("/")
        response = httpx.get(base + "/api/stories", trust_env=False, timeout=30)
        assert response.status_code == 200 and any(s["title"].startswith("Hegseth") for s in response.json())
    finally:
        process.terminate()
        process.wait(30)
    missing = CliRunner().invoke(app, ["web", "--data-dir", str(home / "nothing-here")])
    assert isinstance(missing.exception, DatabaseUnavailable), "main() prints it as `error: ...` and exits 1"
    assert "no database at" in str(missing.exception) and "newsdelta ingest" in str(missing.exception)


# --- links to the web view from alerts, the run's artifact and the demo ------------------------

def test_alerts_link_to_the_story_page_when_the_public_url_is_set(filled: tuple[str, WebData]) -> None:
    engine = make_engine(filled[0])
    with Session(engine) as session:
        finding = session.exec(select(Finding).where(Finding.outlet == "Meridian Post")).one()
        plain = build_message(session, finding)
        linked = build_message(session, finding, public_url="https://news.example.org/desk/")
    engine.dispose()
    page = f"https://news.example.org/desk/stories/{finding.story_id}#finding-{finding.id}"
    assert plain.story_url is None and linked.story_url == page
    templates = alert_templates()
    assert "story page" not in json.dumps(render_slack(templates, plain)).lower()
    buttons = [e for b in render_slack(templates, linked)["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [{"type": "button", "text": {"type": "plain_text", "text": "Open the story page"}, "url": page}]
    assert f'<a href="{page}">' in render(templates, "email.html.j2", linked)
    assert f"Story page: {page}" in render(templates, "email.txt.j2", linked)
    assert f"Story page: {page}" in render(templates, "console.txt.j2", linked)
    assert "Story page" not in render(templates, "console.txt.j2", plain)


def test_the_public_url_is_a_setting_and_must_be_http() -> None:
    assert load_settings(env={"NEWSDELTA_HOME": "/tmp/x", "NEWSDELTA_PUBLIC_URL": "https://n.example"}).page_url("stories/3") == "https://n.example/stories/3"
    with pytest.raises(ConfigError, match="public_url must be an http"):
        load_settings(env={"NEWSDELTA_HOME": "/tmp/x", "NEWSDELTA_PUBLIC_URL": "javascript:alert(1)"})


def test_the_run_artifact_links_to_the_stories_it_touched() -> None:
    summary: dict[str, Any] = {
        "feeds": [], "alerts": {"sent": [], "failed": {}}, "findings": [7],
        "articles": [{"url": "https://a.example/1", "status": "stored", "error": None, "track": {"story_id": 3, "finding_id": 7}},
                     {"url": "https://a.example/2", "status": "unchanged", "error": None, "track": {"story_id": 4}}],
    }
    linked = ingest_markdown(summary, "https://news.example.org")
    assert "## Stories touched: 1" in linked and "- story [#3](https://news.example.org/stories/3)" in linked
    assert "- finding 7 in story [#3](https://news.example.org/stories/3#finding-7)" in linked
    plain = ingest_markdown(summary)
    assert "- story #3" in plain and "NEWSDELTA_PUBLIC_URL" in plain


def test_the_demo_ends_with_the_story_page_and_how_to_serve_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from newsdelta.cli import _how_to_open

    stories = [{"id": 2, "findings": 0}, {"id": 1, "findings": 1}]
    _how_to_open(stories, tmp_path / "my demo", kept=True)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/stories/1" in out
    assert f"newsdelta web --data-dir '{tmp_path / 'my demo'}'" in out and f"NEWSDELTA_HOME='{tmp_path / 'my demo'}' newsdelta web" in out
    _how_to_open(stories, tmp_path, kept=False)
    assert "newsdelta demo --data-dir DIR" in capsys.readouterr().out


# --- PostgreSQL ------------------------------------------------------------------------------

PG_ADMIN = os.environ.get("NEWSDELTA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def pg_filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, WebData]]:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - whatever stops the connection, the reason is shown
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must be reachable under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN}: {type(exc).__name__}")
    name = f"newsdelta_web_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        settings = web_settings(tmp_path_factory.mktemp("web-pg"), database_url=url)
        engine = make_engine(url)
        migrate(engine)
        data = fill(engine, settings)
        engine.dispose()
        yield url, data
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_the_pages_on_postgresql(pg_filled: tuple[str, WebData]) -> None:
    url, data = pg_filled
    engine = read_only_engine(url)
    with pytest.raises(DBAPIError, match="read-only transaction"), engine.begin() as conn:
        conn.execute(text("UPDATE story SET title = 'changed'"))
    writer = make_engine(url)
    with serving(engine) as base, httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        assert get(client, "/api/stories").json() == json.loads(json.dumps(stories_view(writer), default=str))
        assert get(client, f"/api/stories/{data.hegseth_story}").json() == json.loads(json.dumps(story_view(writer, data.hegseth_story), default=str))
        html = get(client, f"/stories/{data.hegseth_story}").text
        assert f'<mark class="s new">{CHINA}</mark>' in html and html.count('class="telling"') == 2
        assert get(client, f"/api/articles/{data.edited_article}").json()["diff"]["added"] == [ADDED]
        assert [s["id"] for s in get(client, "/api/stories?q=HeGsEtH").json()] == [data.hegseth_story]
        assert [s["id"] for s in get(client, "/api/stories?outlet=Meridian+Post").json()] == [data.hegseth_story]
        pages, link = [], "/api/stories?n=1"
        while link:
            response = get(client, link)
            pages += [s["id"] for s in response.json()]
            link = response.links.get("next", {}).get("url", "")
        assert pages == [s["id"] for s in stories_view(writer)]
        for path in ("/", "/feeds", "/alerts", f"/articles/{data.hostile_article}", f"/stories/{data.hostile_story}"):
            assert "<script" not in get(client, path).text
    writer.dispose()
    engine.dispose()
