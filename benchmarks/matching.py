"""Matching speed, printed, run by hand (a benchmark, not a test).

    python benchmarks/matching.py [--sizes 1000 10000 100000] [--database-url URL] [--json]

1. `compare` on pairs of ~1,000-word articles (real text from ../shared scrapinghub ground
   truth: each article against a lightly edited copy of itself with a paragraph from
   another article inserted), median and p95 in ms, words only (no sentence model).
2. Candidate retrieval (`newsdelta.storage.repo.candidate_stories`) for one new article with N stored
   articles in the candidate index: each stored article gets the 40 signature terms of a real
   article with a quarter of them replaced by terms of its own, and a publication time spread
   over a year by default (`--spread-days`; the 7-day match window then covers about 2% of them).
3. Full match of one new article (`newsdelta.stages.match.find_story`, what the pipeline runs):
   retrieval, loading each candidate story's stored versions, and comparing the article with
   each, with the per-sentence analysis cache cleared first (cold). Every stored article has
   a version holding the real text its terms came from, so candidates are genuine look-alikes.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text
from sqlmodel import Session

from newsdelta.stages.match import find_story
from newsdelta.storage import repo
from newsdelta.storage.db import make_engine, migrate
from newsdelta.storage.models import utcnow
from textdelta import Block, Document, clear_caches, compare, signature_terms

TRUTH = Path(__file__).resolve().parents[2] / "shared/data/articles/scrapinghub/ground-truth.json"


def articles() -> list[list[str]]:
    raw = json.loads(TRUTH.read_text("utf-8"))
    out = []
    for item in raw.values():
        ps = [p.strip() for p in item["articleBody"].split("\n") if len(p.strip()) > 60]
        if len(ps) >= 5:
            out.append(ps)
    return out


def percentile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * q / 100 + 0.5) - 1)], 2)


def doc_of(paragraphs: list[str]) -> Document:
    return Document.from_blocks([Block("paragraph", p) for p in paragraphs])


def thousand_words(ps: list[str], pool: list[list[str]], rng: random.Random) -> list[str]:
    out: list[str] = []
    while sum(len(p.split()) for p in out) < 1000:
        out += ps if not out else rng.choice(pool)
    return out


def bench_compare(pool: list[list[str]], pairs: int = 60) -> dict[str, float]:
    """Cold: the per-sentence analysis cache cleared before each pair (a story seen for the
    first time). Warm: the same pairs again (the pipeline re-reads a story's sentences)."""
    rng = random.Random(1)
    timings, warm = [], []
    for ps in pool[:pairs]:
        old = thousand_words(ps, pool, rng)
        new = list(old)
        new.insert(len(new) // 2, rng.choice(rng.choice(pool)))
        new[1] = new[1].replace(" the ", " this ", 1)
        a, b = doc_of(old), doc_of(new)
        clear_caches()
        started = time.perf_counter()
        compare(a, b)
        timings.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        compare(a, b)
        warm.append((time.perf_counter() - started) * 1000)
    words = statistics.median(len(" ".join(thousand_words(ps, pool, random.Random(1))).split()) for ps in pool[:10])
    return {"pairs": len(timings), "words_per_article_median": words, "p50_ms": percentile(timings, 50),
            "p95_ms": percentile(timings, 95), "warm_p50_ms": percentile(warm, 50)}


def fill_index(engine, count: int, signatures: list[list[str]], start: int, bodies: list[str] | None = None,  # type: ignore[no-untyped-def]
               spread_days: float = 365.0) -> None:
    """`count` stored articles, one story each, in the candidate index; with `bodies` (blocks
    JSON, one per signature), each also gets a stored version, so a full match can run."""
    rng = random.Random(start)
    now = utcnow()
    rows_article, rows_story, rows_term, rows_version = [], [], [], []
    for i in range(start, start + count):
        if bodies is not None:
            rows_version.append({"article_id": i + 1, "number": 1, "content_hash": f"bench{i}", "title": "",
                                 "blocks": bodies[i % len(bodies)], "source": "page", "fetched_at": now})
        rows_story.append({"id": i + 1, "title": f"story {i}", "created_at": now, "updated_at": now})
        rows_article.append({"id": i + 1, "url": f"https://bench.example/{i}", "outlet": f"outlet{i % 50}", "title": "", "story_id": i + 1,
                             "status": "ok", "first_seen_at": now, "check_count": 0, "fetch_failures": 0})
        published = now - timedelta(days=rng.uniform(0, spread_days))
        terms = list(signatures[i % len(signatures)])
        for k in rng.sample(range(len(terms)), len(terms) // 4):
            terms[k] = f"t{i}x{k}"
        rows_term += [{"term": t, "article_id": i + 1, "story_id": i + 1, "outlet": f"outlet{i % 50}", "published_at": published} for t in dict.fromkeys(terms)]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO story (id, title, created_at, updated_at) VALUES (:id, :title, :created_at, :updated_at)"), rows_story)
        conn.execute(text("INSERT INTO article (id, url, outlet, title, story_id, status, first_seen_at, check_count, fetch_failures) "
                          "VALUES (:id, :url, :outlet, :title, :story_id, :status, :first_seen_at, :check_count, :fetch_failures)"), rows_article)
        if rows_version:
            conn.execute(text("INSERT INTO article_version (article_id, number, content_hash, title, blocks, source, fetched_at) "
                              "VALUES (:article_id, :number, :content_hash, :title, :blocks, :source, :fetched_at)"), rows_version)
        for chunk in range(0, len(rows_term), 50_000):
            conn.execute(text("INSERT INTO article_term (term, article_id, story_id, outlet, published_at) "
                              "VALUES (:term, :article_id, :story_id, :outlet, :published_at)"), rows_term[chunk : chunk + 50_000])


def bench_retrieval(database_url: str | None, sizes: list[int], pool: list[list[str]], spread_days: float = 365.0) -> dict[str, dict[str, float]]:
    tmp = tempfile.TemporaryDirectory()
    url = database_url or f"sqlite:///{tmp.name}/bench.db"
    engine = make_engine(url)
    migrate(engine)
    if database_url:
        _empty(engine)  # the index is filled with explicit ids: rows left by another run would collide
    signatures = [signature_terms("\n".join(ps)) for ps in pool]
    bodies = [json.dumps([{"kind": "paragraph", "text": p} for p in ps]) for ps in pool]
    queries = list(zip(map(doc_of, pool[::3]), signatures[::3]))
    out: dict[str, dict[str, float]] = {}
    stored = 0
    try:
        for size in sorted(sizes):
            for start in range(stored, size, 5_000):  # in chunks: the rows are held in memory until inserted
                fill_index(engine, min(5_000, size - start), signatures, start, bodies, spread_days)
            stored = size
            if engine.dialect.name == "postgresql":
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            timings, full, candidates = [], [], []
            since = utcnow() - timedelta(days=7)
            with Session(engine) as session:
                for _doc, terms in queries * 3:
                    started = time.perf_counter()
                    candidates.append(len(repo.candidate_stories(session, terms, since, "new-outlet", None)))
                    timings.append((time.perf_counter() - started) * 1000)
                for doc, terms in queries:
                    clear_caches()  # cold: the candidates' sentences are analysed within the timing
                    started = time.perf_counter()
                    find_story(session, doc, terms, since, "new-outlet", None)
                    full.append((time.perf_counter() - started) * 1000)
            out[str(size)] = {"p50": percentile(timings, 50), "p95": percentile(timings, 95),  # ms
                              "full_match_p50": percentile(full, 50), "full_match_p95": percentile(full, 95),
                              "candidates_median": statistics.median(candidates)}
            r = out[str(size)]
            print(f"  {size:>7} stored articles: retrieval p50 {r['p50']:.2f} ms, p95 {r['p95']:.2f} ms; full match "
                  f"({r['candidates_median']:.0f} candidate stories compared) p50 {r['full_match_p50']:.1f} ms, p95 {r['full_match_p95']:.1f} ms", file=sys.stderr)
    finally:
        if database_url:
            _empty(engine)
        engine.dispose()
        tmp.cleanup()
    return out


def _empty(engine: Engine) -> None:
    """Every row of a database given by URL, children before parents (the schema stays)."""
    with engine.begin() as conn:
        for table in ("article_term", "alert", "finding", "article_version", "article", "story", "feed_poll", "feed"):
            conn.execute(text(f"DELETE FROM {table}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--database-url", help="default: a temporary SQLite file (a database given here is emptied before and after)")
    parser.add_argument("--spread-days", type=float, default=365.0,
                        help="stored articles' publication times are spread over this many days before now (7: all inside the match window, the worst case)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pool = articles()
    result = {"compare_1000_words": bench_compare(pool), "retrieval": bench_retrieval(args.database_url, args.sizes, pool, args.spread_days),
              "spread_days": args.spread_days,
              "database": (args.database_url or "sqlite (temporary file)").split("://")[0]}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    c = result["compare_1000_words"]
    print(f"compare, ~{c['words_per_article_median']:.0f}-word articles, {c['pairs']} pairs, cold: p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms; "
          f"warm: p50 {c['warm_p50_ms']} ms (target p50 <= 20 ms)")
    for size, r in result["retrieval"].items():
        print(f"{int(size):>7} stored articles ({result['database']}): candidate retrieval p50 {r['p50']} ms, p95 {r['p95']} ms "
              f"(target p50 <= 20 ms at 100,000); full match, retrieval + comparing {r['candidates_median']:.0f} candidate stories: "
              f"p50 {r['full_match_p50']} ms, p95 {r['full_match_p95']} ms")


if __name__ == "__main__":
    main()
