"""Documents from files, for `newsdelta compare`: HTML pages are extracted as the pipeline does,
anything else is plain text with one paragraph per line."""

from __future__ import annotations

from pathlib import Path

from textdelta import Document, parse_plain_text

_HTML_MARKERS = (b"<html", b"<!doctype html", b"<body", b"<article", b"<p>")


def load_document(path: Path) -> Document:
    raw = path.read_bytes()
    if any(marker in raw[:4096].lower() for marker in _HTML_MARKERS):
        from newsdelta.stages.extract import extract_article

        extracted = extract_article(raw, f"file://{path.resolve()}")
        return Document.from_dicts(extracted.blocks, title=extracted.title)
    return parse_plain_text(raw.decode("utf-8", errors="replace"))
