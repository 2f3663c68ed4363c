"""Sentence splitting tuned for news copy: abbreviations such as "U.S.", "Gen." and initials
must not end a sentence, quoted speech must stay with its attribution."""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "sgt", "capt", "maj", "adm", "gov", "sen",
    "rep", "st", "jr", "sr", "inc", "ltd", "co", "corp", "no", "vs", "etc", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.g",
    "i.e", "a.m", "p.m", "dept", "est", "approx", "fig", "mt", "ft", "rev", "hon", "pres",
}
# A candidate boundary: end punctuation, optional closing quotes/brackets, whitespace, then an
# opening quote, bracket, digit or capital letter.
_BOUNDARY = re.compile(r"([.!?…]+[\"'”’»)\]]*)\s+(?=[\"'“‘«(\[]?[A-Z0-9À-Ý])")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


# Chinese and Japanese end a sentence with a full-width mark and no space after it; a closing
# bracket or quote mark that follows stays with the sentence.
_CJK_BOUNDARY = re.compile(r"[。！？]+[」』）”’]*")


def split_sentences(text: str) -> list[str]:
    return [piece for part in _split_cjk(text.strip()) for piece in _split_latin(part)]


def _split_cjk(text: str) -> list[str]:
    parts, start = [], 0
    for match in _CJK_BOUNDARY.finditer(text):
        parts.append(text[start : match.end()].strip())
        start = match.end()
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _split_latin(text: str) -> list[str]:
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1)
        if _is_abbreviation(text[start : match.start(1) + 1]):
            continue
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _is_abbreviation(chunk: str) -> bool:
    """True when the full stop closing `chunk` belongs to an abbreviation or an initial."""
    if not chunk.endswith("."):
        return False
    found = _WORD_BEFORE.search(chunk[:-1])
    if not found:
        return False
    word = found.group(1).lower().strip(".")
    if word in _ABBREVIATIONS:
        return True
    # Single capital initials ("John F. Kennedy") and dotted acronyms ("U.S.", "D.C.").
    return len(word) == 1 or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))
