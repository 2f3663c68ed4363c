"""The web view's speed, printed, run by hand (a benchmark, not a test).

    python benchmarks/web.py [--stories 100000] [--database-url URL] [--rounds 20] [--json]

The pages are served by `newsdelta web`'s own application and server (uvicorn, in a thread of
this process) from a read-only engine, and requested over HTTP on 127.0.0.1. "Server time" is
what the application reports in its Server-Timing header: from the request reaching the
application to the response's first byte (the wall time seen by the client is printed beside).

1. Story page, a story of 50 tellings (50 outlets, 62 stored versions: every fifth telling was
   edited once and every 25th twice) and 20 findings, the tellings made from the seed articles
   with paragraphs of the labelled set's texts added. Cold: the first request after the
   process's comparison and sentence caches are emptied (each finding's article is compared
   with everything the story had before it, as matching did); warm: the same page again.
   Target: <= 300 ms.
2. The list page over 100,000 stories (200,000 articles from 40 outlets, findings on every
   tenth story, activity spread over a year): the first page, a page 50,000 stories down
   (keyset cursor), a text filter, an outlet filter, a date range, and all three filters
   together. Target: <= 200 ms.

A database given by URL is emptied before and after (its schema stays, migrated to head).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

from newsdelta.seeds import seed_text
from newsdelta.stages.store import stored_doc
from newsdelta.storage.browse import read_only_engine
from newsdelta.storage.db import make_engine, migrate
from newsdelta.storage.models import Story, utcnow
from newsdelta.views import pages
from newsdelta.views.web.app import base_url, bind, create_app, server
from textdelta import clear_caches, parse_plain_text

TELLINGS, FINDINGS = 50, 20
OUTLETS = [f"Outlet {chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(40)]
WORDS = ("council budget storm harbour election strike court museum rail hospital energy market school river bridge trial "
         "festival mayor police fire league bank airport union minister tram port vote flood drought study").split()


def added_paragraphs() -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) from the labelled set's texts: material no seed article has."""
    out = []
    for entry in sorted((resources.files("newsdelta") / "evaluation" / "data" / "handwritten").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".txt"):
            continue
        body = entry.read_text("utf-8").split("--- new", 1)[-1].splitlines()
        lines = [line.strip() for line in body if len(line.strip()) > 80]
        if len(lines) >= 2:
            out.append((body[1].strip()[:80] or entry.name, lines[:2]))
    return out


TABLES = ("article_term", "alert", "finding", "article_version", "article", "story", "feed_poll", "feed")


def _empty(engine: Engine) -> None:
    """Every row of a database given by URL (the schema stays)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # DELETE checked every foreign key row by row: minutes for 200,000 articles
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
            return
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))


def insert(engine: Engine, **rows: list[dict[str, Any]]) -> None:
    """Rows into tables (in the order given), through the tables' column types: times are
    stored exactly as the ingest stores them."""
    with engine.begin() as conn:
        for table, values in rows.items():
            if values:
                conn.execute(SQLModel.metadata.tables[table].insert(), values)


def fill_story(engine: Engine, story_id: int, first_article: int) -> None:
    """One story of TELLINGS tellings and FINDINGS findings, inserted as the ingest stores them."""
    rng = random.Random(7)
    bases = [parse_plain_text(seed_text("000_")), parse_plain_text(seed_text("002_"))]
    extra = added_paragraphs()
    now = utcnow()
    start = now - timedelta(days=2)
    articles, versions, findings = [], [], []
    finding_tellings = set(range(1, TELLINGS, 2)[:FINDINGS]) if FINDINGS else set()
    version_id = 0
    with engine.begin() as conn:
        version_id = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM article_version")).scalar_one())
    for i in range(TELLINGS):
        article_id = first_article + i
        published = start + timedelta(minutes=40 * i)
        blocks = [{"kind": b.kind, "text": b.text} for b in bases[i % 2].blocks]
        blocks[0]["text"] = blocks[0]["text"].replace("Hegseth", rng.choice(["Hegseth", "Pete Hegseth", "Defense Secretary Hegseth"]), 1)
        new_sections = []
        if i in finding_tellings:
            heading, paragraphs = extra[i % len(extra)]
            blocks += [{"kind": "heading", "text": heading}] + [{"kind": "paragraph", "text": p} for p in paragraphs]
            new_sections = [{"heading": heading, "under_heading": None, "paragraphs": paragraphs}]
        articles.append({"id": article_id, "url": f"https://bench.example/{OUTLETS[i % len(OUTLETS)]}/{i}", "outlet": f"Outlet {i:02d}",
                         "title": f"Telling {i} of the Hegseth story", "story_id": story_id, "status": "ok", "first_seen_at": published,
                         "published_at": published, "check_count": 1, "fetch_failures": 0})
        edits = 2 if i % 25 == 24 else 1 if i % 5 == 4 else 0
        for number in range(1, edits + 2):
            version_id += 1
            text_blocks = list(blocks) + [{"kind": "paragraph", "text": f"Update {n}: officials said more details would follow on day {n}."}
                                          for n in range(1, number)]
            versions.append({"id": version_id, "article_id": article_id, "number": number, "content_hash": f"bench-{article_id}-{number}",
                             "title": f"Telling {i}", "blocks": json.dumps(text_blocks, ensure_ascii=False), "source": "page",
                             "fetched_at": published + timedelta(minutes=5 + 30 * (number - 1))})
            if number == 1 and new_sections:
                findings.append({"story_id": story_id, "article_id": article_id, "version_id": version_id, "kind": "new_outlet",
                                 "outlet": f"Outlet {i:02d}", "compared_outlets": json.dumps([f"Outlet {k:02d}" for k in range(i)]),
                                 "score": 0.8, "new_sections": json.dumps(new_sections), "new_sentences": "[]",
                                 "content_key": f"bench-{article_id}", "created_at": published + timedelta(minutes=5)})
    insert(engine, story=[{"id": story_id, "title": "Hegseth announces plan for US command upgrades in Japan to deter China",
                           "created_at": start, "updated_at": now}],
           article=articles, article_version=versions, finding=findings)


def fill_stories(engine: Engine, count: int, first_id: int) -> None:
    """`count` stories of two articles each (findings on every tenth), in chunks."""
    rng = random.Random(11)
    now = utcnow()
    insert(engine, feed=[{"url": f"https://bench.example/{o}/feed.xml", "outlet": o, "poll_interval_s": 900, "last_status": "ok", "entries_seen": 0,
                          "new_entries": 0, "consecutive_failures": 0, "total_polls": 0, "total_failures": 0, "created_at": now} for o in OUTLETS])
    article_id = 1_000_000
    for chunk in range(0, count, 10_000):
        stories, articles, versions, findings = [], [], [], []
        for k in range(chunk, min(count, chunk + 10_000)):
            story_id = first_id + k
            created = now - timedelta(days=rng.uniform(0, 365))
            updated = created + timedelta(hours=rng.uniform(0, 72))
            title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize() + f" ({story_id})"
            stories.append({"id": story_id, "title": title, "created_at": created, "updated_at": updated})
            for n in range(2):
                article_id += 1
                articles.append({"id": article_id, "url": f"https://bench.example/a/{article_id}", "outlet": OUTLETS[(story_id + 7 * n) % len(OUTLETS)],
                                 "title": title, "story_id": story_id, "status": "ok", "first_seen_at": created, "published_at": created,
                                 "check_count": 1, "fetch_failures": 0})
                if k % 10 == 0 and n == 1:
                    versions.append({"id": article_id, "article_id": article_id, "number": 1, "content_hash": f"b{article_id}", "title": title,
                                     "blocks": "[]", "source": "page", "fetched_at": updated})
                    findings.append({"story_id": story_id, "article_id": article_id, "version_id": article_id, "kind": "new_outlet",
                                     "outlet": articles[-1]["outlet"], "compared_outlets": "[]", "score": 0.5, "new_sections": "[]",
                                     "new_sentences": "[]", "content_key": f"b{article_id}", "created_at": updated})
        insert(engine, story=stories, article=articles, article_version=versions, finding=findings)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        with engine.begin() as conn:  # the bench's explicit ids moved no sequence: a later insert must not collide
            for table in ("story", "article", "article_version", "finding", "feed"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"))


@contextmanager
def serving(engine: Engine) -> Iterator[str]:
    sock = bind("127.0.0.1", 0)
    web = server(create_app(engine))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not web.started:
        time.sleep(0.01)
    try:
        yield base_url(sock)
    finally:
        web.should_exit = True
        thread.join(10)


def timed(client: httpx.Client, url: str) -> tuple[float, float, float]:
    """(server ms, client wall ms, CPU ms of this whole process) of one GET, which must succeed.
    The server runs in this process, so the CPU time is the server's plus the client's small
    share: on a machine busy with other work it says what wall times cannot."""
    cpu, started = time.process_time(), time.perf_counter()
    response = client.get(url)
    wall, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
    response.raise_for_status()
    timing = response.headers["server-timing"]
    return float(timing.split("dur=")[1]), wall, cpu


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)], 1)


def bench(database_url: str | None, stories: int, rounds: int) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory()
    url = database_url or f"sqlite:///{tmp.name}/bench.db"
    writer = make_engine(url)
    migrate(writer)
    if database_url:
        _empty(writer)
    out: dict[str, Any] = {"database": url.split("://")[0].split("+")[0], "stories": stories, "cpus": os.cpu_count()}
    try:
        started = time.perf_counter()
        fill_stories(writer, stories, first_id=2)
        fill_story(writer, story_id=1, first_article=1)
        out["fill_s"] = round(time.perf_counter() - started, 1)
        engine = read_only_engine(url)
        with serving(engine) as base, httpx.Client(base_url=base, trust_env=False, timeout=60) as client:
            timed(client, "/feeds")  # templates compiled, connections opened
            cold = []
            for _ in range(3):
                pages.COMPARISONS.items.clear()  # nothing of the story read or compared before
                stored_doc.cache_clear()
                clear_caches()
                pages._split.cache_clear()
                cold.append(timed(client, "/stories/1"))
            warm = [timed(client, "/stories/1") for _ in range(rounds)]
            body = client.get("/stories/1").text
            out["story_page"] = {"tellings": body.count('class="telling"'), "findings": body.count('class="finding"'),
                                 "cold_ms": p50([s for s, _, _ in cold]), "cold_wall_ms": p50([w for _, w, _ in cold]),
                                 "cold_cpu_ms": p50([c for _, _, c in cold]),
                                 "warm_p50_ms": p50([s for s, _, _ in warm]), "warm_p95_ms": p95([s for s, _, _ in warm]),
                                 "warm_wall_p50_ms": p50([w for _, w, _ in warm]), "warm_cpu_p50_ms": p50([c for _, _, c in warm])}
            # A cursor 50,000 stories down: read from the JSON pages' Link headers would take 1,000 requests; ask the database.
            with writer.connect() as conn:
                row = conn.execute(text("SELECT updated_at, id FROM story ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET :n"),
                                   {"n": min(50_000, max(0, stories - 1))}).one()
            with Session(writer) as session:  # the stored time, read back as the application reads it
                story = session.get(Story, row[1])
                assert story is not None
                deep = f"{story.updated_at.isoformat()},{story.id}"
            today = utcnow().date()
            cases = {
                "first page": "/",
                "page 1,000 (50,000 down)": "/?" + str(httpx.QueryParams({"after": deep})),
                "text filter (common word)": "/?q=harbour",
                "text filter (rare)": "/?q=%28" + str(stories // 2) + "%29",
                "outlet filter": "/?outlet=Outlet+AM",
                "date range (one week)": f"/?from={today - timedelta(days=120)}&to={today - timedelta(days=113)}",
                "text + outlet + dates": f"/?q=court&outlet=Outlet+AC&from={today - timedelta(days=200)}&to={today - timedelta(days=100)}",
                "JSON, first page": "/api/stories",
            }
            out["list_page"] = {}
            for name, path in cases.items():
                timed(client, path)
                runs = [timed(client, path) for _ in range(rounds)]
                found = client.get(path).text.count('class="story"') if not path.startswith("/api/") else len(client.get(path).json())
                out["list_page"][name] = {"p50_ms": p50([s for s, _, _ in runs]), "p95_ms": p95([s for s, _, _ in runs]),
                                          "wall_p50_ms": p50([w for _, w, _ in runs]), "cpu_p50_ms": p50([c for _, _, c in runs]), "rows": found}
        engine.dispose()
        out["load"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    finally:
        if database_url:
            _empty(writer)
        writer.dispose()
        tmp.cleanup()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: a temporary SQLite file (a database given here is emptied before and after)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench(args.database_url, args.stories, args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    s = result["story_page"]
    print(f"database: {result['database']}; {result['stories']:,} stories filled in {result['fill_s']} s; load average {result['load']}")
    print(f"story page, {s['tellings']} tellings and {s['findings']} findings (target <= 300 ms server time):")
    print(f"  cold  server {s['cold_ms']} ms, wall {s['cold_wall_ms']} ms, CPU {s['cold_cpu_ms']} ms")
    print(f"  warm  server p50 {s['warm_p50_ms']} ms, p95 {s['warm_p95_ms']} ms, wall p50 {s['warm_wall_p50_ms']} ms, CPU p50 {s['warm_cpu_p50_ms']} ms")
    print(f"list page over {result['stories']:,} stories (target <= 200 ms server time):")
    for name, r in result["list_page"].items():
        print(f"  {name:<28} server p50 {r['p50_ms']:>6} ms, p95 {r['p95_ms']:>6} ms; wall p50 {r['wall_p50_ms']:>6} ms; CPU p50 {r['cpu_p50_ms']:>6} ms; {r['rows']} rows")


if __name__ == "__main__":
    main()
