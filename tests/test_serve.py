"""`newsdelta serve` as a user starts it: the installed command, its own local Prefect server on
a port other than 4200, the deployments it serves, and Prefect's UI in a real headless Chromium
(Debian's /usr/bin/chromium, driven by Playwright).

One `newsdelta serve` for the module (a Prefect server takes 15-25 s to start). Without
Chromium or Playwright the browser test skips, saying why; under CI=true it fails instead."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_until
from tests.web_support import CHROMIUM, CHROMIUM_ARGS, required

NEWSDELTA = Path(sys.executable).with_name("newsdelta")


@dataclass
class Served:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def said(self, pattern: str) -> re.Match[str] | None:
        return next((m for line in list(self.lines) if (m := re.search(pattern, line))), None)

    @property
    def api_url(self) -> str:
        started = self.said(r"Starting a local Prefect server at (http://\S+/api)")
        assert started, self.lines
        return started[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`newsdelta serve --port 0` (any free port: never 4200) in a home and a Prefect home of
    its own, on a schedule that will not fire during the tests; ready once its deployments are
    registered with the server it started."""
    home = tmp_path_factory.mktemp("serve-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDELTA_", "PREFECT_API_URL", "PREFECT_UI_", "PREFECT_SERVER_UI_"))}
    env.update(NEWSDELTA_HOME=str(home / "newsdelta"), PREFECT_HOME=str(home / "prefect"),
               # The run triggered by hand below reads the seed outlets served on 127.0.0.1.
               NEWSDELTA_ALLOW_HOSTS="127.0.0.1", NEWSDELTA_PER_HOST_DELAY_S="0")
    process = subprocess.Popen([str(NEWSDELTA), "serve", "--port", "0", "--cron", "0 0 1 1 *"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    served = Served(process)

    def read() -> None:
        for line in process.stdout or ():
            served.lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def registered() -> bool:
        if process.poll() is not None:
            pytest.fail(f"newsdelta serve exited with {process.returncode}:\n" + "".join(served.lines)[-3000:])
        if not served.said("Trigger by hand"):
            return False
        found = httpx.post(f"{served.api_url}/deployments/filter", json={}, trust_env=False, timeout=10).json()
        return {d["name"] for d in found} >= {"scheduled", "on-demand"}

    try:
        wait_until(registered, "newsdelta serve to start its Prefect server and register its deployments", timeout_s=180)
        yield served
    finally:
        # As a service manager stops it (Ctrl-C may be ignored where the tests run in the
        # background): serve pauses its deployments and stops its server on the way out.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
        reader.join(10)
        if served.said("Starting a local Prefect server"):
            with pytest.raises(httpx.ConnectError):  # and the server it started is gone with it
                httpx.get(f"{served.api_url}/health", trust_env=False, timeout=10)


def test_the_ui_of_a_server_started_on_another_port_is_told_that_port(served: Served) -> None:
    assert not served.api_url.endswith(":4200/api")
    ui = served.api_url.removesuffix("/api")
    settings = httpx.get(f"{ui}/ui-settings", trust_env=False, timeout=10).json()
    assert settings["api_url"] == served.api_url


def test_the_trigger_hint_names_the_server_it_started(served: Served) -> None:
    """The hint is run from another shell, where PREFECT_API_URL is not this server's."""
    hint = served.said(r"^\s*(PREFECT_API_URL=\S+) prefect deployment run 'newsdelta-ingest/scheduled'")
    assert hint and hint[1] == f"PREFECT_API_URL={served.api_url}"


def test_the_prefect_ui_shows_the_deployments_in_a_browser(served: Served) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        required("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        required(f"{CHROMIUM} is not installed (apt-get install chromium)")
    ui = served.api_url.removesuffix("/api")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for path in ("/deployments", "/v2/deployments"):  # Prefect's two UIs (v2 is the default one)
                page.goto(f"{ui}{path}")
                # Listed only if the UI reached the API: the rows come from it.
                expect(page.get_by_text("newsdelta-ingest")).to_be_visible(timeout=60_000)
                expect(page.get_by_text("scheduled", exact=True)).to_be_visible()
                expect(page.get_by_text("newsdelta-deliver")).to_be_visible()
                body = page.inner_text("body")
                assert "connect to Server API" not in body and "Unable to connect" not in body, path
        finally:
            browser.close()


def test_a_run_triggered_by_hand_completes_and_its_report_is_seen_in_the_ui(served: Served) -> None:
    """As the hint says: a run of the scheduled deployment with parameters of one's own, run by
    serve's own runner, then its Prefect artifact (the run's report) in the UI."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        required("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        required(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from newsdelta.seeds.server import SiteServer

    api = served.api_url
    with SiteServer() as site:
        deployments = httpx.post(f"{api}/deployments/filter", json={}, trust_env=False, timeout=10).json()
        scheduled = next(d for d in deployments if d["name"] == "scheduled")
        parameters = {"feed_urls": [site.url("harbor-times/feed.xml")], "only_due": False, "deliver": False}
        run = httpx.post(f"{api}/deployments/{scheduled['id']}/create_flow_run", json={"parameters": parameters},
                         trust_env=False, timeout=10).json()

        def finished() -> bool:
            state = httpx.get(f"{api}/flow_runs/{run['id']}", trust_env=False, timeout=10).json()["state"]
            if state["type"] in ("FAILED", "CRASHED", "CANCELLED"):
                pytest.fail(f"the run ended {state['type']}: {state.get('message')}\n" + "".join(served.lines)[-3000:])
            return bool(state["type"] == "COMPLETED")

        wait_until(finished, "serve's runner to run the triggered ingest", timeout_s=240)
    artifacts = httpx.post(f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}},
                           trust_env=False, timeout=10).json()
    [report] = [a for a in artifacts if a["key"] == "newsdelta-ingest"]
    assert "harbor-times/feed.xml" in report["data"] and "Stories touched: 1" in report["data"]
    ui = api.removesuffix("/api")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{ui}/artifacts/artifact/{report['id']}")
            expect(page.get_by_text("Stories touched: 1")).to_be_visible(timeout=60_000)
            assert "connect to Server API" not in page.inner_text("body")
        finally:
            browser.close()


def test_a_port_in_use_is_a_one_line_error_before_any_server_starts() -> None:
    """Before, the server failed in the background and serve waited two minutes for it."""
    from newsdelta.errors import NewsdeltaError
    from newsdelta.serve import start_local_server

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(NewsdeltaError, match=f"cannot start a Prefect server on 127.0.0.1:{port}: Address already in use"):
            process, _ = start_local_server(port)
            process.terminate()  # reached only when the test fails: no server left behind
            process.wait(30)
