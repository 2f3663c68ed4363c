"""HTML fragments (feed content, summaries) to heading and paragraph blocks."""

from __future__ import annotations

import lxml.html
from lxml.etree import ParserError

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = _HEADINGS | {"p", "li", "blockquote", "div"}


def html_to_blocks(html: str) -> list[dict[str, str]]:
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ParserError, ValueError):
        return [{"kind": "paragraph", "text": t} for t in _lines(html)]
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    blocks: list[dict[str, str]] = []
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag not in _BLOCKS:
            continue
        if el.tag == "div" and any(isinstance(c.tag, str) and c.tag in _BLOCKS for c in el):
            continue  # a wrapper: its children are the blocks
        text = " ".join(el.text_content().split())
        if text:
            blocks.append({"kind": "heading" if el.tag in _HEADINGS else "paragraph", "text": text})
    if not blocks:
        text = " ".join(root.text_content().split())
        if text:
            blocks.append({"kind": "paragraph", "text": text})
    return blocks


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
