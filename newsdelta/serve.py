"""`newsdelta serve`: the one-command way to run on a schedule.

Uses the configured Prefect server, or starts a local one (SQLite-backed) and waits until it
answers, then serves the ingest deployment (cron, one run at a time) and the delivery
deployment until interrupted."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, cast

import httpx

from newsdelta.errors import NewsdeltaError

if TYPE_CHECKING:  # Prefect is imported when serving starts, not when the CLI loads
    from prefect.deployments.runner import RunnerDeployment

STARTUP_TIMEOUT_S = 120


def wait_for_server(api_url: str, timeout_s: float = STARTUP_TIMEOUT_S, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise NewsdeltaError(f"the local Prefect server exited with status {process.returncode} before answering at {api_url}")
        try:
            if httpx.get(f"{api_url.rstrip('/')}/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise NewsdeltaError(f"Prefect server at {api_url} did not answer within {timeout_s:.0f}s")


def start_local_server(port: int, host: str = "127.0.0.1") -> tuple[subprocess.Popen[bytes], str]:
    """Prefect's server (what `prefect server start --background` runs) on a socket bound here
    and handed to it: a port in use is an error now rather than a server that never answers,
    port 0 takes a free one, and the port is known before the server starts, so its UI is told
    where its API is (by default the UI would look for it on port 4200, whatever the port)."""
    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        raise NewsdeltaError(f"cannot start a Prefect server on {host}:{port}: {exc.strerror or exc}") from None
    with sock:
        port = sock.getsockname()[1]
        api_url = f"http://{host}:{port}/api"
        env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_API_HOST": host,
               "PREFECT_SERVER_API_PORT": str(port), "PREFECT__SERVER_FINAL": "1"}
        if not (env.get("PREFECT_SERVER_UI_API_URL") or env.get("PREFECT_UI_API_URL")):  # set on purpose (a proxy): kept
            env["PREFECT_SERVER_UI_API_URL"] = api_url
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app", "--fd", str(sock.fileno())],
            pass_fds=[sock.fileno()], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            # Out of the terminal's process group: Ctrl-C stops serve, which pauses its
            # deployments through this server and only then stops it.
            start_new_session=True,
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
        ui = api_url.removesuffix("/api")
        print(f"Starting a local Prefect server at {api_url} (UI at {ui}) …", flush=True)
    os.environ["PREFECT_API_URL"] = api_url
    # A service manager stops us with SIGTERM, whose default action ends the process at once:
    # as an interrupt it unwinds, so serve pauses its deployments and the server it started
    # (in a session of its own) is stopped with it instead of outliving us.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        wait_for_server(api_url, process=server)
        from prefect import serve

        # The other shell has its own PREFECT_API_URL (or none: Prefect's temporary server),
        # so the hint carries this one.
        print(f"Serving newsdelta-ingest/scheduled on '{cron}'. Trigger by hand from another shell with:\n"
              f"  PREFECT_API_URL={api_url} prefect deployment run 'newsdelta-ingest/scheduled' "
              "-p feed_urls='[\"https://example.com/feed.xml\"]'", flush=True)
        serve(*deployments(config, cron))
    finally:
        if server is not None:
            stop_server(server)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_server(server: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Stop the Prefect server and whatever it started (it leads a process group of its own):
    anything of the group left behind would keep the port."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(server.pid, 0)  # is anything of the group left?
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=timeout_s)
