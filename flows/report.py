"""The markdown artifact an ingest run leaves in the Prefect UI."""

from __future__ import annotations

from typing import Any

from newsdelta.settings import public_page


def ingest_markdown(summary: dict[str, Any], public_url: str | None = None) -> str:
    """The run's feeds, articles, findings and alerts; with `public_url` (the web view's
    address), every story the run touched links to its page there."""

    def story(story_id: int | None, anchor: str = "") -> str:
        if not story_id:
            return ""
        url = public_page(public_url, f"stories/{story_id}{anchor}")
        return f"[#{story_id}]({url})" if url else f"#{story_id}"

    lines = ["# newsdelta ingest", "", "## Feeds polled", "", "| feed | status | entries | new | error |", "|---|---|---|---|---|"]
    for f in summary["feeds"]:
        lines.append(f"| {_cell(f['url'])} | {f['status']} | {f['entries_seen']} | {f['new_entries']} | {_cell(f.get('error') or '')} |")
    stored = [a for a in summary["articles"] if a["status"] in ("stored", "feed_only")]
    lines += ["", f"## Articles: {len(summary['articles'])} checked, {len(stored)} new versions stored", ""]
    lines += ["| article | status | story | error |", "|---|---|---|---|"]
    for a in summary["articles"]:
        lines.append(f"| {_cell(a['url'])} | {a['status']} | {story(a['track'].get('story_id'))} | {_cell(a.get('error') or '')} |")
    touched = sorted({a["track"]["story_id"] for a in stored if a["track"].get("story_id")})
    lines += ["", f"## Stories touched: {len(touched)}", ""]
    lines += [f"- story {story(s)}" for s in touched]
    if touched and not public_url:
        lines += ["", "(set NEWSDELTA_PUBLIC_URL to the address of `newsdelta web` to link each story to its page)"]
    finding_story = {a["track"]["finding_id"]: a["track"].get("story_id") for a in summary["articles"] if a["track"].get("finding_id")}
    lines += ["", f"## Findings: {len(summary['findings'])}", ""]
    lines += [f"- finding {f}" + (f" in story {story(finding_story.get(f), f'#finding-{f}')}" if finding_story.get(f) else "")
              for f in summary["findings"]]
    alerts = summary["alerts"]
    lines += ["", f"## Alerts: {len(alerts['sent'])} sent, {len(alerts['failed'])} failed", ""]
    lines += [f"- alert {i}: {_cell(err)}" for i, err in alerts["failed"].items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:200]
