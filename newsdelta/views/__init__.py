"""Read-only views of what newsdelta knows, as plain data (for --json and the web view's /api)
and as text. The web view's pages are in pages.py, its server in web/."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from newsdelta.stages.alerts import substance
from newsdelta.stages.store import stored_doc
from newsdelta.storage import browse, repo
from newsdelta.storage.db import session_scope
from newsdelta.storage.models import ArticleVersion, Finding, Story
from textdelta.furniture import mark_furniture


def feeds_view(engine: Engine) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        return [
            {"id": f.id, "url": f.url, "outlet": f.outlet, "status": f.last_status, "http_status": f.last_http_status,
             "last_polled_at": _iso(f.last_polled_at), "next_poll_at": _iso(f.next_poll_at), "entries_seen": f.entries_seen,
             "new_entries": f.new_entries, "consecutive_failures": f.consecutive_failures, "total_polls": f.total_polls,
             "total_failures": f.total_failures, "error": f.last_error,
             "healthy": f.last_status in ("ok", "not_modified", "unchanged") and f.consecutive_failures == 0}
            for f in repo.feeds(session)
        ]


def stories_view(engine: Engine, limit: int = 50, where: browse.StoryFilter | None = None,
                 after: browse.Cursor | None = None) -> list[dict[str, Any]]:
    """Stories, most recent activity first (the shape `newsdelta stories --json` prints and
    /api/stories serves)."""
    return [story_json(row) for row in stories_page(engine, where or browse.StoryFilter(), after, limit)[0]]


def stories_page(engine: Engine, where: browse.StoryFilter, after: browse.Cursor | None = None,
                 limit: int = 50) -> tuple[list[browse.StoryRow], browse.Cursor | None]:
    with session_scope(engine) as session:
        return browse.list_stories(session, where, after, limit)


def story_json(row: browse.StoryRow) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "articles": row.articles, "outlets": [name for name, _ in row.outlets],
            "findings": row.findings, "updated_at": _iso(row.updated_at)}


def story_view(engine: Engine, story_id: int, template_stories: int = 3) -> dict[str, Any] | None:
    """A story's tellings and findings. For each telling, `set_aside`: the paragraphs of its
    latest version that were taken as page furniture (kept in the stored version, not matched
    or quoted), with their kind, for a person to check. For each finding, whether it was
    alerted and how much it adds."""
    with session_scope(engine) as session:
        story = session.get(Story, story_id)
        if story is None:
            return None
        members = repo.story_articles(session, story_id)
        templates = repo.template_keys(session, {a.outlet for a in members}, template_stories)
        articles = []
        for a in members:
            versions = repo.versions(session, repo.row_id(a))
            articles.append({"id": a.id, "outlet": a.outlet, "url": a.url, "title": a.title, "byline": a.byline,
                             "published_at": _iso(a.published_at), "status": a.status, "versions": len(versions),
                             "source": a.source, "error": a.last_error,
                             "set_aside": _set_aside(versions[-1], templates.get(a.outlet, frozenset())) if versions else []})
        found = repo.findings(session, story_id)
        alerted = repo.alerted_findings(session, [repo.row_id(f) for f in found])
        findings = [{**_finding(f), "alerted": f.id in alerted, "adds": substance(f).describe()} for f in found]
        return {"id": story.id, "title": story.title, "articles": articles, "findings": findings}


def _set_aside(version: ArticleVersion, templates: frozenset[str]) -> list[dict[str, str]]:
    doc = stored_doc(version.title, version.blocks)
    return [{"kind": mark, "text": block.text} for block, mark in zip(doc.blocks, mark_furniture(doc.blocks, templates), strict=True) if mark]


def alerts_view(engine: Engine, status: str | None = None) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = []
        for alert in repo.alerts(session, status=status):
            finding = session.get(Finding, alert.finding_id)
            story = session.get(Story, finding.story_id) if finding else None
            rows.append({"id": alert.id, "channel": alert.channel, "status": alert.status, "attempts": alert.attempts,
                         "finding": alert.finding_id, "story": story.title if story else None, "story_id": story.id if story else None,
                         "created_at": _iso(alert.created_at), "sent_at": _iso(alert.sent_at),
                         "next_attempt_at": _iso(alert.next_attempt_at) if alert.status != "sent" else None,
                         "last_error": alert.last_error})
        return rows


def _finding(f: Finding) -> dict[str, Any]:
    return {"id": f.id, "kind": f.kind, "outlet": f.outlet, "compared_outlets": json.loads(f.compared_outlets),
            "score": f.score, "article_id": f.article_id, "version_id": f.version_id, "created_at": _iso(f.created_at),
            "new_sections": json.loads(f.new_sections), "new_sentences": json.loads(f.new_sentences)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def story_text(story: dict[str, Any], furniture: bool = False) -> str:
    """The story as text; the furniture set aside from each telling is one line of counts,
    or listed in full with `furniture`."""
    lines = [f"Story #{story['id']}: {story['title']}", ""]
    for a in story["articles"]:
        lines.append(f"  [{a['outlet']}] {a['title']}  ({a['published_at'] or 'date unknown'}, {a['versions']} version(s), {a['status']})")
        lines.append(f"      {a['url']}")
        if a.get("set_aside"):
            kinds = Counter(p["kind"] for p in a["set_aside"])
            lines.append(f"      set aside as page furniture: {len(a['set_aside'])} paragraph(s) ("
                         + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")" + ("" if furniture else "; --furniture lists them"))
            if furniture:
                lines += [f"        - [{p['kind']}] {p['text']}" for p in a["set_aside"]]
    lines.append("")
    if not story["findings"]:
        lines.append("  No new material found yet.")
    for f in story["findings"]:
        compared = ", ".join(f["compared_outlets"]) or "earlier versions"
        lines.append(f"  Finding #{f['id']}: {f['outlet']} adds material not in {compared} (score {f['score']:.2f}; {f['adds']}"
                     + ("" if f["alerted"] else "; not alerted: too little to interrupt anyone") + ")")
        for s in f["new_sections"]:
            title = s.get("heading") or ("new paragraphs" + (f" under \"{s['under_heading']}\"" if s.get("under_heading") else ""))
            lines.append(f"    ## {title}")
            lines += [f"      {p}" for p in s["paragraphs"]]
    return "\n".join(lines)
