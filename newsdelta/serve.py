"""`newsdelta serve`: the one-command way to run on a schedule.

Uses the configured Prefect server, or starts a local one (SQLite-backed) and waits until it
answers, then serves the ingest deployment (cron, one run at a time) and the delivery
deployment until interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, cast

import httpx

if TYPE_CHECKING:  # Prefect is imported when serving starts, not when the CLI loads
    from prefect.deployments.runner import RunnerDeployment

STARTUP_TIMEOUT_S = 120


def wait_for_server(api_url: str, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api_url.rstrip('/')}/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"Prefect server at {api_url} did not answer within {timeout_s:.0f}s")


def start_local_server(port: int) -> tuple[subprocess.Popen[bytes], str]:
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    return process, api_url


def deployments(config: str | None, cron: str) -> list[RunnerDeployment]:
    from newsdelta.flows.deliver import deliver_alerts
    from newsdelta.flows.ingest import ingest

    # to_deployment is typed as maybe-awaitable; called outside an event loop it returns the deployment.
    return [cast("RunnerDeployment", d) for d in (
        ingest.to_deployment(
            name="scheduled", cron=cron, concurrency_limit=1, parameters={"config_path": config, "only_due": True},
            description="Poll due feeds, track articles and stories, send alerts.", tags=["newsdelta"],
        ),
        deliver_alerts.to_deployment(
            name="on-demand", parameters={"config_path": config}, concurrency_limit=1,
            description="Send pending alerts (retry failed ones).", tags=["newsdelta"],
        ),
    )]


def serve_forever(config: str | None, cron: str, api_url: str | None, port: int) -> None:
    server = None
    api_url = api_url or os.environ.get("PREFECT_API_URL")
    if not api_url:
        server, api_url = start_local_server(port)
        print(f"Starting a local Prefect server at {api_url} (UI at http://127.0.0.1:{port}) …", flush=True)
    os.environ["PREFECT_API_URL"] = api_url
    try:
        wait_for_server(api_url)
        from prefect import serve

        print(f"Serving newsdelta-ingest/scheduled on '{cron}'. Trigger by hand with:\n"
              "  prefect deployment run 'newsdelta-ingest/scheduled' -p feed_urls='[\"https://example.com/feed.xml\"]'", flush=True)
        serve(*deployments(config, cron))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
