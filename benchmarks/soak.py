"""A long-running `newsdelta serve`, watched run by run (a benchmark, not a test).

    python benchmarks/soak.py [--runs N] [--every SECONDS] [--feeds K] [--lexical] [--stall S] [--keep DIR]

Starts the real command, `newsdelta serve --port 0 --cron '* * * * * */SECONDS'` (a cron with
a seconds field: Prefect's own scheduler creates the runs), in a data directory and a Prefect
home of its own, over K local feeds served by this process on 127.0.0.1: every poll of a feed
lists one story more (the last 10 kept). A story is one of the labelled set's real articles
with a later version adding paragraphs (newsdelta/evaluation/data/generated.jsonl, the 136
version_added cases): outlet 0 publishes the first version, outlet 1 the one adding
paragraphs, the others copy the first; so each run stores articles, matches them into
stories, records a finding and queues and "sends" a console alert. After 136 stories they
come round again under new addresses, and join the stories told before. The feeds are due at
every run (interval_minutes below the cron's spacing), as `serve`'s deployment polls only due
feeds.

After each flow run of `newsdelta-ingest/scheduled` ends, it prints one line: the run's state,
its duration and how late it started (seconds after its scheduled time), and the resident
memory and open file descriptors of the serve process, of the Prefect server it started, and
of the whole tree (serve and all its descendants; the flow run processes Prefect starts, one
per run, are in it while they start or exit: `procs` counts them). It stops once the first N
runs the scheduler created (by scheduled time) have all ended, or when no run has ended for
--stall seconds, and counts those N by state through the Prefect API: any that did not
complete is reported as lost. A run that waits for the one before it (the deployment's
concurrency limit of 1) starts late but is not lost.

Linux only (it reads /proc)."""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

NEWSDELTA = Path(sys.executable).with_name("newsdelta")
PAGE = os.sysconf("SC_PAGE_SIZE")
BASE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = 10  # stories listed in a feed
ENDED = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def cases() -> list[dict[str, Any]]:
    """Real articles, each with a later version adding paragraphs (the labelled set's
    version_added cases): one news event each."""
    with (resources.files("newsdelta.evaluation") / "data" / "generated.jsonl").open(encoding="utf-8") as f:
        return [case for line in f if (case := json.loads(line))["kind"] == "version_added"]


CASES = cases()


def story(i: int, outlet: int) -> tuple[str, list[str]]:
    """Story i as outlet `outlet` tells it: the article as first published by outlet 0 and
    copied by outlets 2 and on, the version adding paragraphs by outlet 1."""
    case = CASES[i % len(CASES)]
    title = " ".join(case["old"][0].split()[:12])
    return title, case["new"] if outlet == 1 else case["old"]


class FeedSite:
    """K feeds on 127.0.0.1, one story more at every poll of each."""

    def __init__(self, feeds: int) -> None:
        self.polls = [0] * feeds
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, kind = site.answer(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple[bytes, str]:
        if m := re.fullmatch(r"/feed/(\d+)\.xml", path):
            k = int(m[1])
            with self.lock:
                self.polls[k] += 1
                latest = self.polls[k]
            return self.feed(k, range(max(0, latest - WINDOW), latest)), "application/rss+xml; charset=utf-8"
        if m := re.fullmatch(r"/a/(\d+)/(\d+)\.html", path):
            title, paragraphs = story(int(m[2]), int(m[1]))
            body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
            page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
                    f"<body><article><h1>{html.escape(title)}</h1>{body}</article></body></html>")
            return page.encode(), "text/html; charset=utf-8"
        return b"", "text/plain"

    def feed(self, k: int, stories: range) -> bytes:
        items = []
        for i in stories:
            title, paragraphs = story(i, k)
            link = f"{self.base}/a/{k}/{i}.html"
            items.append(f"<item><title>{html.escape(title)}</title><link>{link}</link><guid>{link}</guid>"
                         f"<pubDate>{format_datetime(BASE_DATE + timedelta(minutes=10 * i + k))}</pubDate>"
                         f"<description>{html.escape(paragraphs[0])}</description></item>")
        return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Outlet {k}</title>"
                f"<link>{self.base}/</link><description>soak</description>{''.join(items)}</channel></rss>").encode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = [int(c) for c in (task / "children").read_text().split()]
                out += kids
                todo += kids
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return 0


def server_pid(serve: int) -> int | None:
    for p in descendants(serve):
        try:
            if b"prefect.server.api.server:create_app" in Path(f"/proc/{p}/cmdline").read_bytes():
                return p
        except FileNotFoundError:
            pass
    return None


def flow_runs(api: str, deployment_id: str) -> list[dict[str, Any]]:
    runs, offset = [], 0
    while True:
        page = httpx.post(f"{api}/flow_runs/filter", trust_env=False, timeout=30, json={
            "deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 200, "offset": offset,
        }).json()
        runs += page
        if len(page) < 200:
            return runs
        offset += 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="stop after this many flow runs have ended (default 20; 200 for the soak)")
    parser.add_argument("--every", type=int, default=15, help="seconds between scheduled runs (a divisor of 60)")
    parser.add_argument("--feeds", type=int, default=3)
    parser.add_argument("--lexical", action="store_true", help="words only (semantic = false): no sentence model in each run")
    parser.add_argument("--stall", type=int, default=600, help="give up when no run has ended for this many seconds")
    parser.add_argument("--keep", type=Path, help="keep the data directory and Prefect home here (default: a temporary one, deleted)")
    args = parser.parse_args()
    if 60 % args.every:
        parser.error("--every must divide 60 (a cron seconds field)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop serve and the feeds on the way out
    home = args.keep or Path(tempfile.mkdtemp(prefix="newsdelta-soak-"))
    home.mkdir(parents=True, exist_ok=True)
    site = FeedSite(args.feeds)
    config = home / "config.toml"
    config.write_text(
        "[newsdelta]\nallow_hosts = [\"127.0.0.1\"]\nper_host_delay_s = 0.0\n"
        f"semantic = {'false' if args.lexical else 'true'}\n"
        + "".join(f"\n[[feeds]]\nurl = \"{site.base}/feed/{k}.xml\"\noutlet = \"Outlet {k}\"\ninterval_minutes = {args.every / 120}\n"
                  for k in range(args.feeds)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDELTA_", "PREFECT_"))}
    env.update(NEWSDELTA_HOME=str(home / "data"), NEWSDELTA_CONFIG=str(config), PREFECT_HOME=str(home / "prefect"),
               PREFECT_RUNNER_POLL_FREQUENCY="2", PREFECT_LOGGING_LEVEL="WARNING")
    cron = f"* * * * * */{args.every}"
    log = (home / "serve.log").open("w")
    serve = subprocess.Popen([str(NEWSDELTA), "serve", "--port", "0", "--cron", cron], env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  newsdelta serve --port 0 --cron '{cron}', {args.feeds} feeds, "
          f"semantic={'off' if args.lexical else 'on'}, cpus={os.cpu_count()}, log {home / 'serve.log'}", flush=True)
    try:
        api = None
        while api is None:
            if serve.poll() is not None:
                sys.exit(f"newsdelta serve exited with {serve.returncode}: see {home / 'serve.log'}")
            m = re.search(r"Starting a local Prefect server at (http://\S+/api)", (home / "serve.log").read_text())
            api = m[1] if m else None
            time.sleep(0.5)
        deployment = None
        while deployment is None:
            try:
                found = httpx.post(f"{api}/deployments/filter", trust_env=False, timeout=10,
                                   json={"deployments": {"name": {"any_": ["scheduled"]}}}).json()
                deployment = found[0]["id"] if found else None
            except httpx.HTTPError:
                pass
            time.sleep(1)
        server = server_pid(serve.pid)
        print(f"# API {api}; serve pid {serve.pid}, Prefect server pid {server}", flush=True)
        print(f"{'run':>4} {'state':<10} {'secs':>5} {'late':>6}  {'serve MB':>8} {'fds':>4}  {'server MB':>9} {'fds':>4}  "
              f"{'tree MB':>7} {'fds':>5} {'procs':>5}", flush=True)
        reported: set[str] = set()
        ended: list[dict[str, Any]] = []
        first: list[dict[str, Any]] = []  # the first N runs the scheduler created, by scheduled time
        progress = time.monotonic()
        while not (len(first) == args.runs and all(r["state_type"] in ENDED for r in first)):
            if serve.poll() is not None:
                sys.exit(f"newsdelta serve exited with {serve.returncode}: see {home / 'serve.log'}")
            if time.monotonic() - progress > args.stall:
                print(f"# no run ended for {args.stall} s: stopping", flush=True)
                break
            runs = flow_runs(api, deployment)
            first = runs[: args.runs]
            for run in sorted((r for r in runs if r["state_type"] in ENDED and r["id"] not in reported), key=lambda r: r["end_time"]):
                reported.add(run["id"])
                ended.append(run)
                progress = time.monotonic()
                tree = [serve.pid, *descendants(serve.pid)]
                late = datetime.fromisoformat(run["start_time"]) - datetime.fromisoformat(run["expected_start_time"])
                print(f"{len(ended):>4} {run['state_name']:<10} {run['total_run_time']:>5.1f} {late.total_seconds():>6.0f}  "
                      f"{rss_mb(serve.pid):>8.1f} {fds(serve.pid):>4}  {rss_mb(server or 0):>9.1f} {fds(server or 0):>4}  "
                      f"{sum(map(rss_mb, tree)):>7.1f} {sum(map(fds, tree)):>5} {len(tree):>5}", flush=True)
            time.sleep(1)
        for pid in descendants(serve.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except FileNotFoundError:
                continue
            print(f"# under serve at the end: {pid} {rss_mb(pid):.1f} MB {fds(pid)} fds  {cmd[:110]}")
        states = Counter(r["state_name"] for r in first)
        lost = [r for r in first if r["state_type"] != "COMPLETED"]
        print(f"# the first {len(first)} scheduled runs, by state: {dict(states)}; lost (not completed): {len(lost)}"
              + "".join(f"\n#   {r['name']} {r['state_name']} scheduled {r['expected_start_time']}" for r in lost))
        print(f"# every run of the deployment by state: {dict(Counter(r['state_name'] for r in flow_runs(api, deployment)))}")
        if ended:
            durations = sorted(r["total_run_time"] for r in ended)
            lateness = sorted((datetime.fromisoformat(r["start_time"]) - datetime.fromisoformat(r["expected_start_time"])).total_seconds()
                              for r in ended)
            print(f"# flow run time: median {durations[len(durations) // 2]:.1f} s, max {durations[-1]:.1f} s; "
                  f"start after its scheduled time: median {lateness[len(lateness) // 2]:.0f} s, max {lateness[-1]:.0f} s; "
                  f"polls per feed {site.polls}")
        with sqlite3.connect(f"file:{home / 'data' / 'newsdelta.db'}?mode=ro", uri=True) as db:
            stored = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("article", "article_version", "story", "finding", "alert")}
        print(f"# stored: {stored}")
    finally:
        # SIGTERM, as a service manager stops it (SIGINT may be ignored in a background job):
        # serve pauses its deployments and stops its server.
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            for pid in [*descendants(serve.pid), serve.pid]:  # the server runs in a session of its own
                os.kill(pid, signal.SIGKILL)
        site.close()
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
