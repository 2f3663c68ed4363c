"""How well the shipped ingest run groups a labelled set of articles into stories, and what
findings it records on the way. A measurement, not a test: it prints figures, it asserts nothing.

    newsdelta evaluate --grouping                     (the packaged hand-written set, figures only)
    python scripts/grouping_eval.py DIR [--json] [--findings] [--window-days 7] [--no-semantic]

The set is read from the directory given (its text is never copied into the repository), in
one of two formats:
- `*.txt` files: header lines `event:`, `outlet:`, `published:` (ISO), `title:`, then `---`,
  then the body, one paragraph per line; a short line without final punctuation is a subheading.
- `articles/NNN.json` files {"id", "url", "site", "title", "published": "YYYY-MM-DD", "event",
  "text"}; each line is a paragraph (no subheadings guessed in scraped text: short lines there
  are mostly captions, credits and list items). The site is the outlet. A date has no time, so
  articles of one day are published at 12:00 UTC plus their id in minutes (file order).

Each article becomes an HTML page (h1 title, h2 subheadings, p paragraphs, author and
published-time meta, nav and footer around it) and each outlet an RSS feed; a local server
serves them and the run (newsdelta.stages.run.ingest with plain_steps, no Prefect) reads all
feeds at once into a fresh SQLite database, processing articles in publication order.

Measured, with the label "same event" as truth:
- pairwise same-story precision / recall / F1 over article pairs, and the adjusted Rand index
  (an article the run did not store counts as a story of its own);
- per event, how many stories its articles ended in; stories holding several events (merges);
- candidate-retrieval recall: for each article that is not the first of its event, whether a
  story holding an earlier article of its event (other outlet) was among the candidates.
  `at_match`: the candidates the run's matching actually read (repo.candidate_stories is
  wrapped during the run). `after_run`: the same lookup redone after the run with the stored
  terms and match.py's min_hits rule, over stories holding earlier-published articles; it
  over-counts hits (later articles of a story are indexed too), so it only approximates.
  Articles whose event's story was retrieved but not joined were refused by the comparison;
- extraction: how many of the set's paragraphs the run stored verbatim, and which it lost;
- the findings: each new paragraph a telling was said to add, for a person to judge
  (new / restatement / furniture).
"""

from __future__ import annotations

import argparse
import html
import inspect
import json
import math
import re
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from newsdelta.errors import ConfigError
from newsdelta.http_client import Fetcher
from newsdelta.seeds.server import SiteServer
from newsdelta.settings import FeedConfig, Settings, load_settings
from newsdelta.stages import run
from newsdelta.storage import repo
from newsdelta.storage.db import make_engine, migrate, session_scope
from newsdelta.storage.models import Alert, Article, ArticleTerm, ArticleVersion, Finding
from textdelta.compare import MIN_SHARED_TERMS
from textdelta.furniture import states_something

SUBHEADING_MAX_CHARS = 80
DATE_PREFIX = re.compile(r"^\s*date \d{4}-\d{2}-\d{2}\s*")
FINAL_PUNCTUATION = re.compile(r"[.!?:;\"'”’)]$")


@dataclass
class Item:
    key: str
    event: str
    outlet: str
    published: datetime
    title: str
    blocks: list[tuple[str, str]]  # ("h2" | "p", text)
    path: str = ""  # where the page is served


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def is_heading(line: str) -> bool:
    return len(line) <= SUBHEADING_MAX_CHARS and not FINAL_PUNCTUATION.search(line)


def read_set(root: Path) -> list[Item]:
    items = []
    for path in sorted(root.glob("*.txt")):
        head, sep, body = path.read_text("utf-8").partition("\n---\n")
        if not sep:
            continue
        meta = dict(line.split(":", 1) for line in head.splitlines() if ":" in line)
        meta = {k.strip(): v.strip() for k, v in meta.items()}
        published = datetime.fromisoformat(meta["published"].replace("Z", "+00:00"))
        published = published.replace(tzinfo=UTC) if published.tzinfo is None else published.astimezone(UTC)
        items.append(Item(path.stem, meta.get("event") or path.stem.split("__")[0], meta["outlet"], published,
                          meta["title"], [("h2" if is_heading(p) else "p", p) for p in (x.strip() for x in body.splitlines()) if p]))
    for path in sorted((root / "articles").glob("*.json")):
        d = json.loads(path.read_text("utf-8"))
        published = datetime.fromisoformat(d["published"]).replace(hour=12, tzinfo=UTC) + timedelta(minutes=int(d["id"]))
        text = DATE_PREFIX.sub("", d["text"])
        items.append(Item(d["id"], d["event"], d["site"], published, d["title"], [("p", p.strip()) for p in text.splitlines() if p.strip()]))
    return items


def page(item: Item) -> str:
    e = html.escape
    body = "\n".join(f"<{tag}>{e(text)}</{tag}>" for tag, text in item.blocks)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{e(item.title)} | {e(item.outlet)}</title>'
            f'<meta name="author" content="Staff Reporter"><meta property="article:published_time" content="{item.published.isoformat()}">'
            f"</head><body><nav><a href='/'>{e(item.outlet)}</a> <a href='/news'>News</a> <a href='/sport'>Sport</a> "
            f"<a href='/subscribe'>Subscribe</a></nav><main><article><h1>{e(item.title)}</h1>\n{body}\n</article></main>"
            f"<footer><p>© {e(item.outlet)}. All rights reserved.</p><a href='/privacy'>Privacy</a> <a href='/contact'>Contact</a></footer>"
            "</body></html>")


def feed(outlet: str, items: list[Item], base: str) -> str:
    e = html.escape
    entries = "".join(f"<item><title>{e(i.title)}</title><link>{base}/{i.path}</link><guid>{base}/{i.path}</guid>"
                      f"<pubDate>{format_datetime(i.published)}</pubDate></item>" for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{e(outlet)}</title>'
            f"<link>{base}/</link><description>{e(outlet)}</description>{entries}</channel></rss>")


def ari(gold: list[str], pred: list[str]) -> float:
    """Adjusted Rand index (Hubert and Arabie) from the contingency table."""
    def pairs(n: int) -> float:
        return n * (n - 1) / 2
    cells = sum(pairs(c) for c in Counter(zip(gold, pred)).values())
    rows, cols = sum(pairs(c) for c in Counter(gold).values()), sum(pairs(c) for c in Counter(pred).values())
    expected = rows * cols / pairs(len(gold)) if len(gold) > 1 else 0.0
    top = (rows + cols) / 2 - expected
    return 1.0 if top == 0 else (cells - expected) / top


def evaluate(items: list[Item], window_days: float | None, semantic: bool | None) -> dict[str, Any]:
    by_outlet: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        item.path = f"{slug(item.outlet)}/{slug(item.key)}.html"
        by_outlet[item.outlet].append(item)
    recorded: dict[int, list[int]] = {}  # article id -> candidate stories the run's matching read
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        for item in items:
            (site / item.path).parent.mkdir(parents=True, exist_ok=True)
            (site / item.path).write_text(page(item), "utf-8")
        for outlet, its in by_outlet.items():
            (site / slug(outlet) / "feed.xml").write_text(feed(outlet, its, "{{BASE}}"), "utf-8")
        overrides: dict[str, Any] = {"articles_per_run": max(500, len(items))}
        if window_days:
            overrides["match_window_days"] = window_days
        if semantic is not None:
            overrides["semantic"] = semantic
        try:
            settings = load_settings(env={"NEWSDELTA_HOME": str(Path(tmp) / "home")}, **overrides).with_overrides(
                allow_hosts=("127.0.0.1",), per_host_delay_s=0.0)
        except ConfigError as exc:
            raise ValueError(f"settings refused: {exc}") from None
        engine = make_engine(settings.database_url)
        migrate(engine)
        lookup = repo.candidate_stories

        def recording(session: Session, terms: list[str], since: datetime, outlet: str | None, article_id: int | None,
                      *args: Any, **kwargs: Any) -> list[tuple[int, int]]:
            found: list[tuple[int, int]] = lookup(session, terms, since, outlet, article_id, *args, **kwargs)
            if article_id is not None:
                recorded.setdefault(article_id, [s for s, _ in found])
            return found

        repo.candidate_stories = recording  # type: ignore[assignment]  # measuring what the run's lookup returned
        try:
            with SiteServer(site) as server, Fetcher(settings) as fetcher, \
                    run.plain_steps(settings, engine, fetcher, deliver=False, channels=["console"]) as steps:
                feeds = [FeedConfig(server.url(f"{slug(o)}/feed.xml"), o) for o in by_outlet]
                summary = run.ingest(settings, engine, steps, feeds=feeds)
        finally:
            repo.candidate_stories = lookup
        try:
            with session_scope(engine) as session:
                return measure(session, items, summary, settings, recorded)
        finally:
            engine.dispose()


def measure(session: Session, items: list[Item], summary: run.RunSummary, settings: Settings, recorded: dict[int, list[int]]) -> dict[str, Any]:
    by_path = {i.path: i for i in items}
    rows = {by_path[a.url.split("/", 3)[3]].key: a for a in session.exec(select(Article)) if a.url.split("/", 3)[3] in by_path}
    status = {r.url.split("/", 3)[3]: r.status for r in summary.articles if r.url}
    unstored = [{"article": i.key, "outlet": i.outlet, "status": status.get(i.path, "not fetched"),
                 "error": rows[i.key].last_error if i.key in rows else "not in any feed"}
                for i in items if i.key not in rows or rows[i.key].story_id is None]
    story = {i.key: (rows[i.key].story_id if i.key in rows else None) for i in items}
    gold, pred = [i.event for i in items], [f"s{story[i.key]}" if story[i.key] is not None else f"none-{i.key}" for i in items]
    tp = fp = fn = 0
    for (g1, p1), (g2, p2) in combinations(zip(gold, pred), 2):
        tp, fp, fn = tp + (g1 == g2 and p1 == p2), fp + (g1 != g2 and p1 == p2), fn + (g1 == g2 and p1 != p2)
    precision, recall = (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)
    events: dict[str, list[Item]] = defaultdict(list)
    stories: dict[int, list[Item]] = defaultdict(list)
    for i in sorted(items, key=lambda i: (i.published, i.key)):
        events[i.event].append(i)
        if (story_id := story[i.key]) is not None:
            stories[story_id].append(i)
    per_event = {}
    for e, its in sorted(events.items()):
        groups: dict[object, list[str]] = defaultdict(list)
        for i in its:
            groups[story[i.key] or f"none-{i.key}"].append(i.key)
        per_event[e] = {"articles": len(its), "stories": len(groups), "groups": list(groups.values())}
    merges = [{"story": s, "events": {e: [i.key for i in its if i.event == e] for e in sorted({i.event for i in its})}}
              for s, its in sorted(stories.items()) if len({i.event for i in its}) > 1]
    checks = retrieval(session, items, events, rows, story, settings, recorded)
    at_match = [c["at_match"] for c in checks if c["at_match"] is not None]
    return {
        "articles": len(items), "events": len(events), "stories": len(stories), "stored": len(items) - len(unstored),
        "match_window_days": settings.match_window_days, "semantic": getattr(settings, "semantic", None),
        "pairs": {"same_event": tp + fn, "same_story": tp + fp, "tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4),
                  "recall": round(recall, 4), "f1": round(2 * precision * recall / (precision + recall) if precision + recall else 0.0, 4)},
        "ari": round(ari(gold, pred), 4),
        "per_event": per_event, "merges": merges, "unstored": unstored, "extraction": extraction(session, items, rows),
        "retrieval": {"checked": len(checks), "after_run": sum(c["after_run"] for c in checks),
                      "recall_after_run": round(sum(c["after_run"] for c in checks) / len(checks), 4) if checks else None,
                      "at_match_checked": len(at_match), "at_match": sum(at_match),
                      "recall_at_match": round(sum(at_match) / len(at_match), 4) if at_match else None,
                      "joined_its_event": sum(c["joined_its_event"] for c in checks),
                      "misses": [c for c in checks if not c["after_run"] or c["at_match"] is False],
                      "retrieved_not_joined": [c["article"] for c in checks if (c["at_match"] or c["after_run"]) and not c["joined_its_event"]]},
        "findings": findings(session, by_path),
    }


def retrieval(session: Session, items: list[Item], events: dict[str, list[Item]], rows: dict[str, Article], story: dict[str, int | None],
              settings: Settings, recorded: dict[int, list[int]]) -> list[dict[str, Any]]:
    """Per article that is not the first of its event: was a story holding an earlier article of
    its event (from another outlet) among the candidates, at match time and redone after the run?"""
    limit = inspect.signature(repo.candidate_stories).parameters["limit"].default
    window = timedelta(days=settings.match_window_days)
    checks = []
    for its in events.values():
        for n, item in enumerate(its[1:], 1):
            art = rows.get(item.key)
            targets = {story[i.key] for i in its[:n] if i.outlet != item.outlet and story[i.key] is not None}
            if art is None or art.story_id is None or not targets:
                continue
            terms = list(session.exec(select(ArticleTerm.term).where(ArticleTerm.article_id == art.id)))
            min_hits = max(3, math.ceil(len(terms) * MIN_SHARED_TERMS))
            earlier = {story[i.key] for i in items if i.published < item.published and story[i.key] is not None}
            since = (art.published_at or art.first_seen_at) - window
            found = [s for s, _ in repo.candidate_stories(session, terms, since, art.outlet or None, art.id, limit=10_000,
                                                          min_hits=min_hits) if s in earlier][:limit]
            checks.append({"article": item.key, "event": item.event, "terms": len(terms), "min_hits": min_hits,
                           "after_run": bool(targets & set(found)),
                           "at_match": bool(targets & set(recorded[art.id])) if art.id in recorded else None,
                           "joined_its_event": art.story_id in targets})
    return checks


def extraction(session: Session, items: list[Item], rows: dict[str, Article]) -> dict[str, Any]:
    """How much of each article's text the run stored (its first version), paragraph by paragraph."""
    def norm(t: str) -> str:
        return " ".join(t.split())
    given, lost_by_kind, lossy = 0, Counter[str](), []
    for i in items:
        art = rows.get(i.key)
        first = session.exec(select(ArticleVersion).where(ArticleVersion.article_id == art.id).order_by(col(ArticleVersion.number))).first() if art else None
        stored = {norm(b["text"]) for b in json.loads(first.blocks)} if first else set()
        lost = []
        for n, (_, text) in enumerate(i.blocks):
            if norm(text) not in stored:
                # The set's texts often open with the headline again and (excerpts) end mid-word.
                kind = "headline" if n == 0 and not FINAL_PUNCTUATION.search(text) else "cut-off" if n == len(i.blocks) - 1 and not FINAL_PUNCTUATION.search(text) else "other"
                lost.append({"kind": kind, "text": text[:80]})
                lost_by_kind[kind] += 1
        given += len(i.blocks)
        if lost:
            lossy.append({"article": i.key, "blocks": len(i.blocks), "lost": lost})
    return {"blocks": given, "kept": given - sum(lost_by_kind.values()), "lost_by_kind": dict(lost_by_kind), "articles_with_losses": lossy}


def findings(session: Session, by_path: dict[str, Item]) -> list[dict[str, Any]]:
    out = []
    for f in session.exec(select(Finding).order_by(col(Finding.id))):
        article = session.get(Article, f.article_id)
        item = by_path.get(article.url.split("/", 3)[3]) if article else None
        # "quoted": what an alert quotes of it (the paragraphs that state something).
        paragraphs = [{"heading": s.get("heading"), "text": p, "quoted": states_something(p)}
                      for s in json.loads(f.new_sections) for p in s["paragraphs"]]
        alerted = session.exec(select(Alert.id).where(Alert.finding_id == f.id)).first() is not None
        compared = json.loads(f.compared_outlets)
        told = [by_path[a.url.split("/", 3)[3]].key for a in session.exec(select(Article).where(Article.story_id == f.story_id))
                if a.id != f.article_id and a.outlet in compared and a.url.split("/", 3)[3] in by_path]
        out.append({"finding": f.id, "story": f.story_id, "kind": f.kind, "outlet": f.outlet, "article": item.key if item else None,
                    "event": item.event if item else None, "score": f.score, "alerted": alerted, "compared_articles": sorted(told),
                    "paragraphs": paragraphs})
    return out


def report(r: dict[str, Any], show_findings: bool) -> None:
    p, rt, ex = r["pairs"], r["retrieval"], r["extraction"]
    print(f"articles {r['articles']}, events {r['events']}, stories {r['stories']}, stored {r['stored']} "
          f"(window {r['match_window_days']} days, semantic {r['semantic']})")
    print(f"pairs: {p['same_event']} same-event, {p['same_story']} same-story, tp {p['tp']} fp {p['fp']} fn {p['fn']}")
    print(f"precision {p['precision']:.3f}  recall {p['recall']:.3f}  F1 {p['f1']:.3f}  ARI {r['ari']:.3f}")
    print("per event (articles -> stories; split events show their groups):")
    for e, v in r["per_event"].items():
        print(f"  {e:50} {v['articles']} -> {v['stories']}" + (f"  {v['groups']}" if v["stories"] > 1 else ""))
    print(f"stories holding several events: {len(r['merges'])}")
    for m in r["merges"]:
        print(f"  story {m['story']}: " + "; ".join(f"{e} [{', '.join(k)}]" for e, k in m["events"].items()))
    print(f"not stored: {len(r['unstored'])}")
    for u in r["unstored"]:
        print(f"  {u['article']} ({u['outlet']}): {u['status']}: {u['error']}")
    print(f"extraction: {ex['kept']}/{ex['blocks']} paragraphs and headings stored verbatim; lost {ex['lost_by_kind']} "
          f"in {len(ex['articles_with_losses'])} articles (headline: a first line repeating the title; cut-off: an unfinished last line)")
    for a in ex["articles_with_losses"]:
        other = [x["text"] for x in a["lost"] if x["kind"] == "other"]
        if other:
            print(f"  {a['article']}: lost {len(other)} more of {a['blocks']}: " + " | ".join(other[:3]))
    print(f"candidate retrieval: at match {rt['at_match']}/{rt['at_match_checked']} (recall {rt['recall_at_match']}), "
          f"after run {rt['after_run']}/{rt['checked']} (recall {rt['recall_after_run']}); joined its event's story {rt['joined_its_event']}")
    for c in rt["misses"]:
        print(f"  miss {c['article']} ({c['event']}): terms {c['terms']}, min_hits {c['min_hits']}, at match {c['at_match']}, "
              f"after run {c['after_run']}, joined its event's story {c['joined_its_event']}")
    print(f"  retrieved but not joined (the comparison said no): {', '.join(rt['retrieved_not_joined']) or 'none'}")
    print(f"findings: {len(r['findings'])} ({sum(len(f['paragraphs']) for f in r['findings'])} paragraphs)")
    for f in r["findings"] if show_findings else []:
        print(f"  finding {f['finding']} story {f['story']} {f['outlet']} ({f['article']}, {f['kind']}, score {f['score']}"
              f"{'' if f['alerted'] else ', not alerted'}):")
        for par in f["paragraphs"]:
            print(f"    - {'' if par['quoted'] else '(not quoted) '}{'[' + par['heading'] + '] ' if par['heading'] else ''}{par['text']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="the labelled set (*.txt files, or articles/NNN.json)")
    parser.add_argument("--window-days", type=float, default=None, help="match window (default: the settings' default)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--findings", action="store_true", help="list each finding's new paragraphs")
    parser.add_argument("--semantic", action=argparse.BooleanOptionalAction, default=None,
                        help="settings semantic=true / false (default: the settings' default)")
    args = parser.parse_args()
    items = read_set(args.directory)
    if not items:
        sys.exit(f"no articles found in {args.directory}")
    result = evaluate(items, args.window_days, args.semantic)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        report(result, args.findings)


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of a grouping run, without the per-article detail: what `newsdelta evaluate
    --grouping` reports."""
    rt = result["retrieval"]
    return {"articles": result["articles"], "events": result["events"], "stories": result["stories"],
            "pairwise_precision": result["pairs"]["precision"], "pairwise_recall": result["pairs"]["recall"],
            "pairwise_f1": result["pairs"]["f1"], "ari": result["ari"], "stories_holding_several_events": len(result["merges"]),
            "candidate_retrieval_recall": rt["recall_at_match"], "findings": len(result["findings"]),
            "semantic": result["semantic"]}
