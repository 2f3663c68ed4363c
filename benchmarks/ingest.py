"""End-to-end ingest throughput, printed, run by hand (a benchmark, not a test).

    python benchmarks/ingest.py [--articles N] [--feeds K] [--database-url URL] [--json]
                                [--match-sizes 1000 10000 100000]

The 181 real pages of ../shared/data/articles/scrapinghub/html are replicated to N articles
(distinct URLs, each with its text lightly varied so every one is a distinct version), listed
in K RSS feeds and served over HTTP on 127.0.0.1 by a separate process. Then, in this order:

1. bare `trafilatura.extract` over the same pages, sequentially in one process: pages/s, the
   median of three passes before the runs and three after;
2. the real ingest flow (Prefect) on an empty database: articles/s end to end, the ratio to (1),
   time per stage (summed over threads: poll, fetch, store, match, alert; extract is the time
   spent inside trafilatura in whichever process ran it);
3. the same stages without Prefect (same batches, thread pool and extraction workers, arranged
   as the flow arranges them) on another empty database: Prefect's overhead is the flow's extra
   wall time as a share of its wall time;
4. peak resident memory (this process and, separately, the largest extraction worker);
5. candidate-retrieval latency with 1k, 10k and 100k stored articles (benchmarks/matching.py).

Articles per second counts articles stored; Prefect's temporary server is started (and warmed
by a trivial flow) before anything is timed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAGES = ROOT.parent / "shared/data/articles/scrapinghub/html"


def load_pages() -> list[bytes]:
    return [gzip.decompress(p.read_bytes()) for p in sorted(PAGES.glob("*.html.gz"))]


def vary(page: bytes, i: int) -> bytes:
    """Lightly varied text: a short note appended to the first paragraph."""
    return re.sub(rb"</p>", f" (Edition {i}.)</p>".encode(), page, count=1)


def build_site(root: Path, pages: list[bytes], articles: int, feeds: int) -> None:
    (root / "p").mkdir(parents=True)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    items: list[list[str]] = [[] for _ in range(feeds)]
    for i in range(articles):
        (root / "p" / f"{i}.html").write_bytes(vary(pages[i % len(pages)], i))
        published = format_datetime(start + timedelta(minutes=i))
        items[i % feeds].append(f"<item><title>Article {i}</title><link>{{BASE}}/p/{i}.html</link><guid>a{i}</guid><pubDate>{published}</pubDate></item>")
    for k, entries in enumerate(items):
        (root / f"feed{k}.xml").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {k}</title><link>http://x/</link>'
                                           f'<description>d</description>{"".join(entries)}</channel></rss>', "utf-8")


def serve(root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    for feed in root.glob("feed*.xml"):
        feed.write_text(feed.read_text("utf-8").replace("{BASE}", base), "utf-8")
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, base


def bare_extract(pages: list[bytes], passes: int = 3) -> list[float]:
    """Pages per second of each pass, after one warm-up page (the first call loads trafilatura's
    data files). Several passes: on this virtual machine one pass varies by ±30%."""
    import trafilatura

    trafilatura.extract(pages[0])
    rates = []
    for _ in range(passes):
        started = time.perf_counter()
        for page in pages:
            trafilatura.extract(page)
        rates.append(len(pages) / (time.perf_counter() - started))
    return rates


def prefill(database_url: str, count: int) -> None:
    """`count` stored articles in the candidate index, published in the week before the
    benchmark's articles (inside their match window: the worst case for retrieval)."""
    from sqlalchemy import text

    from benchmarks.matching import articles as match_articles
    from benchmarks.matching import fill_index
    from newsdelta.storage.db import engine_for
    from textdelta import signature_terms

    engine = engine_for(database_url)
    signatures = [signature_terms("\n".join(ps)) for ps in match_articles()]
    for start in range(0, count, 2_000):  # small chunks: the rows must not raise this process's peak memory
        fill_index(engine, min(2_000, count - start), signatures, start)
    with engine.begin() as conn:
        conn.execute(text("UPDATE article_term SET published_at = :t"), {"t": datetime(2024, 12, 29, tzinfo=UTC)})
        if engine.dialect.name == "postgresql":
            for table in ("article", "story"):  # the rows above were inserted with explicit ids
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))  # planner statistics for every table, as autovacuum would gather them


def config_for(home: Path, base: str, feeds: int, articles: int) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    lines = [f'[newsdelta]\nallow_hosts = ["127.0.0.1"]\nper_host_delay_s = 0.0\nconcurrency = 8\narticles_per_run = {articles}\n\n[alerts]\nconsole = false\n']
    lines += [f'[[feeds]]\nurl = "{base}/feed{k}.xml"\noutlet = "Outlet {k}"\n' for k in range(feeds)]
    path = home / "config.toml"
    path.write_text("\n".join(lines), "utf-8")
    return path


def fresh_database(url: str | None, home: Path) -> str:
    if not url:
        return f"sqlite:///{home / 'bench.db'}"
    from sqlalchemy import text

    from newsdelta.storage.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu() -> dict[str, float]:
    """CPU seconds used so far by this process and each live process below it, by role (Linux
    /proc): on two cores the run is bound by the CPU all of them use together, and the page
    server and Prefect's server are part of that."""
    table: dict[int, tuple[int, float, str]] = {}
    if not Path("/proc/self/stat").exists():
        return {}  # not Linux: the figures are left out
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK, cmd)
    roles: dict[str, float] = {}

    def walk(pid: int, role: str) -> None:
        roles[role] = roles.get(role, 0.0) + table[pid][1]
        for child, (parent, _, cmd) in table.items():
            if parent == pid:
                walk(child, "page server (benchmark)" if "http.server" in cmd else "extraction workers" if "multiprocessing" in cmd
                     else "prefect server" if "prefect" in cmd or "uvicorn" in cmd else role if role != "flow process" else "other")

    walk(os.getpid(), "flow process")
    return roles


def run_flow(config: Path) -> tuple[float, dict]:
    from newsdelta import metrics
    from newsdelta.flows.ingest import ingest

    metrics.reset()
    started = time.perf_counter()
    summary = ingest(config_path=str(config), deliver=True)
    wall = time.perf_counter() - started
    stored = sum(1 for a in summary["articles"] if a["status"] == "stored")
    return wall, {"stored": stored, "stages": metrics.snapshot()}


def run_plain(config: Path) -> tuple[float, int]:
    """The same run (newsdelta.stages.run.ingest) with its stages on a thread pool instead of
    Prefect tasks: same batches, same look-ahead, then delivery."""
    from newsdelta.http_client import Fetcher
    from newsdelta.settings import load_settings
    from newsdelta.stages import run
    from newsdelta.storage.db import engine_for

    started = time.perf_counter()
    settings = load_settings(config)
    engine = engine_for(settings.database_url)
    with Fetcher(settings) as fetcher, run.plain_steps(settings, engine, fetcher) as steps:
        summary = run.ingest(settings, engine, steps)
    return time.perf_counter() - started, sum(a.status == "stored" for a in summary.articles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=362)
    parser.add_argument("--feeds", type=int, default=8)
    parser.add_argument("--database-url", help="default: SQLite files in a temporary directory (PostgreSQL: the public schema is reset!)")
    parser.add_argument("--match-sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--stored", type=int, default=0,
                        help="articles already stored (index rows, all inside the match window) before the flow runs: memory and speed against a big database")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile the run without Prefect (cProfile, printed to stderr)")
    args = parser.parse_args()

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    tmp = Path(tempfile.mkdtemp(prefix="newsdelta-bench-"))
    server = None
    try:
        pages = load_pages()
        build_site(tmp / "site", pages, args.articles, args.feeds)
        server, base = serve(tmp / "site")

        def log(*parts: object) -> None:
            print(*parts, file=sys.stderr, flush=True)

        log(f"{args.articles} articles in {args.feeds} feeds at {base}")
        bare_rates = bare_extract(pages)
        log(f"bare trafilatura.extract: {', '.join(f'{r:.1f}' for r in bare_rates)} pages/s (one process, {len(pages)} pages per pass)")

        from prefect import flow

        flow(lambda: None, name="warm-up")()  # start Prefect's temporary server before timing

        os.environ["NEWSDELTA_HOME"] = str(tmp / "flow")
        os.environ["NEWSDELTA_DATABASE_URL"] = fresh_database(args.database_url, tmp / "flow")
        if args.stored:
            prefill(os.environ["NEWSDELTA_DATABASE_URL"], args.stored)
            log(f"{args.stored} articles stored beforehand")
        cpu_before = process_cpu()
        flow_wall, flow_info = run_flow(config_for(tmp / "flow", base, args.feeds, args.articles))
        cpu_after = process_cpu()
        cpu_ms = {role: round(1000 * (cpu_after[role] - cpu_before.get(role, 0.0)) / max(1, flow_info["stored"]), 1) for role in cpu_after}
        log(f"CPU per stored article: {cpu_ms} ms")
        flow_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        log(f"flow: {flow_info['stored']} stored in {flow_wall:.1f}s; peak RSS so far {flow_rss:.0f} MB")

        from newsdelta.stages import workers

        workers.shutdown()  # the plain run spawns its own extraction workers, as the flow did
        os.environ["NEWSDELTA_HOME"] = str(tmp / "plain")
        os.environ["NEWSDELTA_DATABASE_URL"] = fresh_database(args.database_url, tmp / "plain")
        from newsdelta.stages.store import stored_content, stored_doc
        from newsdelta.storage.db import engine_for
        from textdelta import clear_caches
        from textdelta.semantic import forget_default

        engine_for.cache_clear()
        # Cold, as the flow run was: the model loads again and embeds every sentence anew.
        forget_default()
        clear_caches()
        stored_doc.cache_clear()
        stored_content.cache_clear()
        if args.stored:
            prefill(os.environ["NEWSDELTA_DATABASE_URL"], args.stored)
        cpu_before = process_cpu()
        if args.profile:
            import cProfile
            import pstats

            with cProfile.Profile() as profile:
                plain_wall, plain_stored = run_plain(config_for(tmp / "plain", base, args.feeds, args.articles))
            pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
        else:
            plain_wall, plain_stored = run_plain(config_for(tmp / "plain", base, args.feeds, args.articles))
        cpu_after = process_cpu()
        plain_cpu_ms = {role: round(1000 * (cpu_after[role] - cpu_before.get(role, 0.0)) / max(1, plain_stored), 1) for role in cpu_after}
        log(f"plain: {plain_stored} stored in {plain_wall:.1f}s; CPU per stored article: {plain_cpu_ms} ms")

        bare_rates += bare_extract(pages)  # again after the runs: the machine's speed drifts
        bare = statistics.median(bare_rates)
        log(f"bare trafilatura.extract after the runs: {', '.join(f'{r:.1f}' for r in bare_rates[3:])} pages/s; median of all {bare:.1f}")

        # The pipeline's peak, before the matching benchmark fills its own index in this process.
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        matching = {}
        if args.match_sizes:
            from benchmarks.matching import articles as match_articles
            from benchmarks.matching import bench_retrieval

            matching = bench_retrieval(None if not args.database_url else fresh_database(args.database_url, tmp), args.match_sizes, match_articles())

        articles_per_s = flow_info["stored"] / flow_wall
        result = {
            "articles": args.articles, "feeds": args.feeds,
            "database": (args.database_url or "sqlite").split("://")[0].split("+")[0],
            "articles_per_s": round(articles_per_s, 2),
            "bare_extract_pages_per_s": round(bare, 2),
            "bare_extract_passes": [round(r, 1) for r in bare_rates],
            "ratio": round(articles_per_s / bare, 3),
            "flow_wall_s": round(flow_wall, 2), "plain_wall_s": round(plain_wall, 2),
            "prefect_overhead_fraction": round(max(0.0, flow_wall - plain_wall) / flow_wall, 3),
            "stage_seconds": {k: v["seconds"] for k, v in flow_info["stages"].items()},
            "peak_rss_mb": round(self_rss, 1), "peak_rss_worker_mb": round(child_rss, 1),
            "stored_beforehand": args.stored, "peak_rss_after_flow_mb": round(flow_rss, 1),
            "match_ms": matching,
            "cpu_ms_per_article": cpu_ms, "plain_cpu_ms_per_article": plain_cpu_ms,
        }
    finally:
        if server is not None:
            server.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"ingest of {result['articles']} articles from {result['feeds']} feeds ({result['database']}):")
    print(f"  end to end (Prefect flow): {result['articles_per_s']} articles/s   bare trafilatura, one process: "
          f"{result['bare_extract_pages_per_s']} pages/s   ratio {result['ratio']} (target >= 1)")
    print(f"  Prefect overhead: {result['prefect_overhead_fraction']:.1%} of wall time (flow {result['flow_wall_s']}s, same stages without Prefect {result['plain_wall_s']}s; target < 15%)")
    print("  time per stage (summed over threads; extract: time inside trafilatura, in whichever process): " + ", ".join(f"{k} {v:.1f}s" for k, v in result["stage_seconds"].items()))
    if result["cpu_ms_per_article"]:
        print(f"  CPU per stored article during the flow run (2 cores; bare extraction is {1000 / result['bare_extract_pages_per_s']:.1f} ms/page): "
              + ", ".join(f"{k} {v} ms" for k, v in result["cpu_ms_per_article"].items()))
        print("  same, without Prefect: " + ", ".join(f"{k} {v} ms" for k, v in result["plain_cpu_ms_per_article"].items()))
    print(f"  peak RSS: {result['peak_rss_mb']} MB (this process), {result['peak_rss_worker_mb']} MB (largest child); "
          f"after the flow run, with {result['stored_beforehand']} articles stored beforehand: {result['peak_rss_after_flow_mb']} MB")
    for size, r in result["match_ms"].items():
        print(f"  match (candidate retrieval) with {int(size):>7} stored articles: p50 {r['p50']} ms, p95 {r['p95']} ms")


if __name__ == "__main__":
    main()
