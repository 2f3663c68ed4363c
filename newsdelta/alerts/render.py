"""Templates per channel (Jinja2; a user may override any of them), with escaping per channel:
article text is untrusted and must never ping a workspace, forge a link or inject markup."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape

from newsdelta.alerts.message import AlertMessage

_SLACK_MARKUP = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MRKDWN_CONTROL = re.compile(r"([*_~`])")

# Slack's documented limits for one message (Block Kit reference): a message over any of them
# is refused whole (HTTP 400 invalid_blocks).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_URL = 3000
MAX_FALLBACK_TEXT = 4000  # the notification text: Slack advises keeping it under this
# Not in the reference, but Slack also refuses messages whose blocks add up to much more
# text than this (msg_blocks_too_long); an alert longer than that is not read in Slack anyway.
MAX_TOTAL_TEXT = 12_000


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
    """The Block Kit payload, within Slack's limits whatever the finding holds: sections are
    left out from the end until the rest fits, with a closing line that says how many and
    links to where they can be read; any text still too long is shortened (the template may
    be the user's own, so the limits are applied here, not trusted to it)."""
    sections = message.sections
    payload = _fit_texts(_render_slack_json(env, message))
    shown = len(sections)
    while shown and not _fits(_with_note(payload, message, len(sections) - shown)):
        shown -= 1
        payload = _fit_texts(_render_slack_json(env, replace(message, sections=sections[:shown])))
    payload = _with_note(payload, message, len(sections) - shown)
    if not _fits(payload):  # too much besides the sections (a user's template, a story told by many outlets)
        closing = _context("_Shortened to fit in one Slack message._ " + _where_to_read(message))
        while len(payload["blocks"]) > 1 and not _fits({**payload, "blocks": [*payload["blocks"], closing]}):
            payload["blocks"].pop()
        payload["blocks"].append(closing)
    return payload


def _render_slack_json(env: Environment, message: AlertMessage) -> dict[str, Any]:
    payload = json.loads(render(env, "slack.json.j2", message))
    if not isinstance(payload, dict) or "text" not in payload:
        raise ValueError("slack.json.j2 must render a JSON object with a 'text' fallback")
    if not isinstance(payload.setdefault("blocks", []), list):
        raise ValueError("slack.json.j2 must render 'blocks' as a list")
    return payload


def _fits(payload: dict[str, Any]) -> bool:
    return len(payload["blocks"]) <= MAX_BLOCKS and _text_length(payload["blocks"]) <= MAX_TOTAL_TEXT


def _with_note(payload: dict[str, Any], message: AlertMessage, omitted: int) -> dict[str, Any]:
    """`payload` closed by a line saying how many sections were left out, if any were."""
    if not omitted:
        return payload
    noun = "section" if omitted == 1 else "sections"
    note = _context(f"…and {omitted} more new {noun}, not shown here. {_where_to_read(message)}")
    return {**payload, "blocks": [*payload["blocks"], note]}


def _text_length(value: Any) -> int:
    if isinstance(value, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _text_length(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_text_length(v) for v in value)
    return 0


def _where_to_read(message: AlertMessage) -> str:
    if message.story_url:
        return "All of it: " + slack_link(message.story_url, "the story page")
    return "All of it: " + slack_link(message.article.url, message.article.outlet or "the article")


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip_slack_text(text, MAX_SECTION_TEXT)}]}


def _fit_texts(payload: dict[str, Any]) -> dict[str, Any]:
    """Each text and list of the payload cut to Slack's limit for its place."""
    if isinstance(payload.get("text"), str):
        payload["text"] = clip_slack_text(payload["text"], MAX_FALLBACK_TEXT)
    for block in payload["blocks"]:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            _clip_text_object(block.get("text"), MAX_HEADER_TEXT)
        elif kind == "section":
            _clip_text_object(block.get("text"), MAX_SECTION_TEXT)
            if isinstance(block.get("fields"), list):
                del block["fields"][MAX_FIELDS:]
                for f in block["fields"]:
                    _clip_text_object(f, MAX_FIELD_TEXT)
        elif kind == "context" and isinstance(block.get("elements"), list):
            del block["elements"][MAX_CONTEXT_ELEMENTS:]
            for element in block["elements"]:
                _clip_text_object(element, MAX_SECTION_TEXT)
        elif kind == "actions" and isinstance(block.get("elements"), list):
            block["elements"] = [e for e in block["elements"][:MAX_ACTIONS_ELEMENTS]
                                 if not (isinstance(e, dict) and len(str(e.get("url", ""))) > MAX_URL)]
            for element in block["elements"]:
                if isinstance(element, dict):
                    _clip_text_object(element.get("text"), MAX_BUTTON_TEXT)
    return payload


def _clip_text_object(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = clip_slack_text(obj["text"], limit)


def clip_slack_text(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, ending in "…" when cut; never inside a link
    (`<url|label>`) or an entity (`&amp;`), which Slack would show as broken markup."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    amp = cut.rfind("&")
    if amp > cut.rfind(";") and len(cut) - amp < len("&amp;"):
        cut = cut[:amp]
    return cut + "…"
