"""Documents from files, for `newsdelta compare`: HTML pages are extracted as the pipeline does,
anything else is plain text with one paragraph per line. Either way the page's furniture is set
aside, as the pipeline sets it aside before matching."""

from __future__ import annotations

from pathlib import Path

from textdelta import Document, parse_plain_text
from textdelta.furniture import content_blocks

_HTML_MARKERS = (b"<html", b"<!doctype html", b"<body", b"<article", b"<p>")


def load_document(path: Path) -> Document:
    raw = path.read_bytes()
    if any(marker in raw[:4096].lower() for marker in _HTML_MARKERS):
        from newsdelta.stages.extract import extract_article

        extracted = extract_article(raw, f"file://{path.resolve()}")
        return content_blocks(Document.from_dicts(extracted.blocks, title=extracted.title))
    return content_blocks(parse_plain_text(raw.decode("utf-8", errors="replace")))
