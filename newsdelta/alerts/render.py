"""Templates per channel (Jinja2; a user may override any of them), with escaping per channel:
article text is untrusted and must never ping a workspace, forge a link or inject markup."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape

from newsdelta.alerts.message import AlertMessage

_SLACK_MARKUP = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MRKDWN_CONTROL = re.compile(r"([*_~`])")


def slack_escape(text: object) -> str:
    """Slack's three control characters, plus formatting marks made literal, so `<!channel>`,
    `<@U123>` and `<https://evil|click>` arrive as text."""
    escaped = str(text).translate(_SLACK_MARKUP)
    return _MRKDWN_CONTROL.sub("\u200b\\1\u200b", escaped)


def slack_link(url: str, label: str) -> str:
    """A link we build ourselves: URL and label are escaped so neither can close the link early."""
    safe_url = url.replace("|", "%7C").translate(_SLACK_MARKUP)
    return f"<{safe_url}|{slack_escape(label).replace('|', '¦')}>"


def environment(templates_dir: Path | None = None) -> Environment:
    loaders: list[BaseLoader] = [PackageLoader("newsdelta.alerts", "templates")]
    if templates_dir is not None:
        loaders.insert(0, FileSystemLoader(str(templates_dir)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["slack"] = slack_escape
    env.filters["slack_link"] = lambda ref: slack_link(ref.url, ref.outlet)
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.filters["quote"] = lambda text: "\n".join("> " + line for line in str(text).splitlines() or [""])
    env.filters["when"] = lambda dt: dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "date unknown"
    return env


def render(env: Environment, name: str, message: AlertMessage) -> str:
    return env.get_template(name).render(m=message)


def render_slack(env: Environment, message: AlertMessage) -> dict[str, Any]:
    payload = json.loads(render(env, "slack.json.j2", message))
    if not isinstance(payload, dict) or "text" not in payload:
        raise ValueError("slack.json.j2 must render a JSON object with a 'text' fallback")
    return payload
