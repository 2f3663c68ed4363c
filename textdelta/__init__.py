"""Pure text logic for newsdelta: documents, normalisation, matching, alignment, diffing.

Nothing here touches the network, a database or Prefect, so every rule about
"is this the same story" and "what is new" can be used and tested on plain text.
"""

from textdelta.blocks import Block, Document, parse_plain_text
from textdelta.compare import (
    Alignment,
    ChangedSentence,
    Comparison,
    NewSection,
    Thresholds,
    clear_caches,
    compare,
    compare_to_story,
)
from textdelta.normalize import content_hash, normalize_text
from textdelta.terms import signature_terms

__all__ = [
    "Alignment",
    "Block",
    "ChangedSentence",
    "Comparison",
    "Document",
    "NewSection",
    "Thresholds",
    "clear_caches",
    "compare",
    "compare_to_story",
    "content_hash",
    "normalize_text",
    "parse_plain_text",
    "signature_terms",
]
