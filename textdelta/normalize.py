"""Normalisation that decides when two texts are "the same version": typography, whitespace
and markup noise must not create versions, real edits must."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from textdelta.blocks import Document

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "", "\ufeff": "",
        "\u00ad": "",
    }
)
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Typography-insensitive form of a text: NFKC, straight quotes, plain dashes, one space."""
    return _normalize_short(text) if len(text) <= CACHED_CHARS else _normalize(text)


CACHED_CHARS = 1000  # sentences and most paragraphs; whole articles would make the cache big


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return _SPACE.sub(" ", text).strip()


# Reading a sentence normalises it three times (for its terms, its facts, its quotations), and a
# story's sentences are read again with every new telling: short texts are normalised once.
_normalize_short = lru_cache(maxsize=16384)(_normalize)


def folded(text: str) -> str:
    """The form in which two texts count as the same words: typography and case aside."""
    return normalize_text(text).casefold()


def content_hash(document: Document) -> str:
    """Hash of the body as a reader sees it: block kinds and normalised, case-folded text."""
    digest = hashlib.sha256()
    for block in document.blocks:
        text = folded(block.text)
        if text:
            digest.update(f"{block.kind}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def text_key(text: str) -> str:
    """Short stable key for a piece of text, used to deduplicate findings and alerts."""
    return hashlib.sha256(folded(text).encode()).hexdigest()[:32]
