"""A database for the web view's tests, filled by the real ingest (tests.builders.run: the
shipped run without Prefect) over real HTTP on 127.0.0.1, and the web view served from it by
its own application and server in a thread.

What it holds:
- the seed outlets' story (Harbor Times, then Meridian Post adding the Signal section);
- an article edited once: version 2 adds a sentence (a finding of kind new_version);
- a hostile article whose title and text carry markup that would run script if it were not
  escaped (`<script>`, `<img onerror>`, a `javascript:` link), and whose edit adds more of it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from newsdelta.http_client import Fetcher
from newsdelta.seeds.server import SiteServer
from newsdelta.settings import FeedConfig, Settings, load_settings
from newsdelta.stages import run as run_stage
from newsdelta.storage.db import make_engine, migrate
from newsdelta.storage.models import Article, Finding
from tests.builders import article_html, rss, run, store_one
from tests.httpserver import Reply, ScriptedServer
from textdelta import parse_plain_text

SIGNAL = "Signal Chat Controversy Overshadows Trip"
CHINA = "China’s foreign ministry has not yet issued a statement on these developments."
ADDED = "Officials said the heat health alert would be reviewed on Thursday after a second night above 25C in the capital."
SCRIPT = '<script>document.title="pwned";alert("script ran")</script>'
IMG = '<img src=x onerror=alert("img ran")>'
HOSTILE_TITLE = f"{SCRIPT} Velmont clinic ruling {IMG}"
HOSTILE_ADDED = f'Campaigners posted <a href="javascript:alert(1)">this link</a> and {IMG} on the trust\'s page, and {SCRIPT} too.'
CHROMIUM = Path("/usr/bin/chromium")
# Flags for Chromium in a container with no display and no network of its own to call home on.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


# Two articles of their own, unrelated to the seeds and to each other (a headline, then paragraphs).
HEATWAVE = """Heatwave sets new June record at Corran Airport
Temperatures reached 38.4 degrees Celsius at Corran Airport on Tuesday, the highest June reading ever recorded in the southern province, the Meteorological Office said.
The previous June record of 37.1C was set at Lessing in 2003, and forecasters had expected it to stand for at least another decade.
The Met Office extended its amber heat health alert until Friday, warning that overnight temperatures in cities would stay above 22C, making it hard for people to cool down.
Hospitals in Corran reported a 15 percent rise in emergency admissions over the weekend, mostly elderly patients with dehydration and breathing problems.
Water company Southvale asked customers to avoid using hosepipes and said demand had risen by a third since the start of the month.
Forecasters expect a band of thunderstorms to bring cooler air from Saturday, although they warned of flash flooding on parched ground.""".splitlines()
CLINICS = """Judge blocks Velmont's plan to close three rural clinics
A judge on Thursday temporarily blocked the Velmont Health Trust from closing three rural clinics, ruling that the trust had failed to consult patients properly before making the decision.
Justice Imran Sethi granted an injunction sought by a residents' group from the villages of Oakhurst, Pennow and Little Sedge, where the clinics serve about 9,000 registered patients.
The trust announced in September that it would merge the clinics into a new health centre in the market town of Brackley, 14 miles away, saying the move would save 1.1 million pounds a year.
Campaigners argued that many elderly residents do not drive and that the bus service to Brackley runs only twice a day.
A spokesperson for the trust said it was disappointed and was considering whether to appeal. The injunction remains in place until a full hearing, which has not yet been scheduled.""".splitlines()


@dataclass(frozen=True)
class WebData:
    hegseth_story: int
    harbor_article: int
    meridian_article: int
    edited_story: int
    edited_article: int
    hostile_story: int
    hostile_article: int


def fill(engine: Engine, settings: Settings) -> WebData:
    """Ingest the seed outlets, then the edited and the hostile article, each twice."""
    weather, courts = HEATWAVE, CLINICS
    edited_v1 = parse_plain_text("\n".join(weather[1:]))
    edited_v2 = parse_plain_text("\n".join([*weather[1:4], ADDED, *weather[4:]]))
    hostile_lines = [f"{courts[1]} {SCRIPT}", *courts[2:4], f"Residents shared {IMG} in the group.", *courts[4:]]
    hostile_v1 = parse_plain_text("\n".join(hostile_lines))
    hostile_v2 = parse_plain_text("\n".join([*hostile_lines, HOSTILE_ADDED]))
    scripted = ScriptedServer().start()
    try:
        with SiteServer() as site, Fetcher(settings) as fetcher:
            run(engine, fetcher, settings, [FeedConfig(site.url("harbor-times/feed.xml"), "Harbor Times"),
                                            FeedConfig(site.url("meridian-post/feed.xml"), "Meridian Post")])
            feed = scripted.route("/desk.xml", Reply(200, rss("Corran Desk", [
                {"title": weather[0], "link": scripted.url("/weather")},
                {"title": HOSTILE_TITLE, "link": scripted.url("/clinics")},
            ]), {"Content-Type": "application/rss+xml"}))
            scripted.route("/weather", [Reply(200, article_html(weather[0], edited_v1)), Reply(200, article_html(weather[0], edited_v2))])
            scripted.route("/clinics", [Reply(200, article_html(HOSTILE_TITLE, hostile_v1)), Reply(200, article_html(HOSTILE_TITLE, hostile_v2))])
            run(engine, fetcher, settings, [FeedConfig(feed, "Corran Desk")])
            edited, hostile = run_stage.add_urls(engine, [scripted.url("/weather"), scripted.url("/clinics")])
            for article_id in (edited, hostile):
                assert store_one(engine, fetcher, settings, article_id).status == "stored"
    finally:
        scripted.stop()
    with Session(engine) as session:
        articles = {a.outlet: a for a in session.exec(select(Article)).all() if a.outlet in ("Harbor Times", "Meridian Post")}
        by_id = {a.id: a for a in session.exec(select(Article)).all()}
        findings = session.exec(select(Finding)).all()
    assert len(findings) == 3, [f.new_sections for f in findings]
    return WebData(
        hegseth_story=int(articles["Harbor Times"].story_id or 0), harbor_article=int(articles["Harbor Times"].id or 0),
        meridian_article=int(articles["Meridian Post"].id or 0),
        edited_story=int(by_id[edited].story_id or 0), edited_article=edited,
        hostile_story=int(by_id[hostile].story_id or 0), hostile_article=hostile,
    )


def filled_sqlite(home: Path) -> tuple[str, WebData]:
    """A SQLite database in `home` filled by the ingest: its URL and what is in it."""
    settings = web_settings(home)
    engine = make_engine(settings.database_url)
    migrate(engine)
    data = fill(engine, settings)
    engine.dispose()
    return settings.database_url, data


def web_settings(home: Path, **overrides: object) -> Settings:
    return load_settings(env={"NEWSDELTA_HOME": str(home)}).with_overrides(
        allow_hosts=("127.0.0.1",), per_host_delay_s=0.0, timeout_s=10.0, max_bytes=2_000_000, **overrides)


@contextmanager
def serving(engine: Engine, allowed_hosts: list[str] | None = None) -> Iterator[str]:
    """The web view over `engine`, served by uvicorn in a thread on a port the system picks: its base URL."""
    from newsdelta.views.web.app import base_url, bind, create_app, server

    sock = bind("127.0.0.1", 0)
    web = server(create_app(engine, allowed_hosts))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not web.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.01)
    try:
        yield base_url(sock)
    finally:
        web.should_exit = True
        thread.join(30)
        sock.close()


def required(reason: str) -> None:
    """Skip for want of a tool the machine lacks; under CI=true, where it must be there, fail."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)
