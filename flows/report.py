"""The markdown artifact an ingest run leaves in the Prefect UI."""

from __future__ import annotations

from typing import Any


def ingest_markdown(summary: dict[str, Any]) -> str:
    lines = ["# newsdelta ingest", "", "## Feeds polled", "", "| feed | status | entries | new | error |", "|---|---|---|---|---|"]
    for f in summary["feeds"]:
        lines.append(f"| {_cell(f['url'])} | {f['status']} | {f['entries_seen']} | {f['new_entries']} | {_cell(f.get('error') or '')} |")
    stored = [a for a in summary["articles"] if a["status"] in ("stored", "feed_only")]
    lines += ["", f"## Articles: {len(summary['articles'])} checked, {len(stored)} new versions stored", ""]
    lines += ["| article | status | story | error |", "|---|---|---|---|"]
    for a in summary["articles"]:
        lines.append(f"| {_cell(a['url'])} | {a['status']} | {a['track'].get('story_id') or ''} | {_cell(a.get('error') or '')} |")
    lines += ["", f"## Findings: {len(summary['findings'])}", ""]
    lines += [f"- finding {f}" for f in summary["findings"]]
    alerts = summary["alerts"]
    lines += ["", f"## Alerts: {len(alerts['sent'])} sent, {len(alerts['failed'])} failed", ""]
    lines += [f"- alert {i}: {_cell(err)}" for i, err in alerts["failed"].items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:200]
