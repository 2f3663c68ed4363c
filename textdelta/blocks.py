"""Documents as ordered blocks, because sections (headings and the paragraphs under them)
are the unit a reader cares about when something is added to a story."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["heading", "paragraph"]

# A line this short without closing punctuation reads as a subhead in plain-text input.
_HEADING_MAX_WORDS = 14
_HEADING_MAX_CHARS = 120  # scripts written without spaces (Japanese, Chinese) have no "words"
_CLOSING_PUNCTUATION = ".!?:;…\"'”’)。！？．」』"


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class Document:
    blocks: tuple[Block, ...]
    title: str = ""

    @classmethod
    def from_blocks(cls, blocks: list[Block] | tuple[Block, ...], title: str = "") -> Document:
        return cls(blocks=tuple(b for b in blocks if b.text.strip()), title=title)

    @classmethod
    def from_dicts(cls, blocks: list[dict[str, str]], title: str = "") -> Document:
        return cls.from_blocks([Block(kind="heading" if b["kind"] == "heading" else "paragraph", text=b["text"]) for b in blocks], title)

    def to_dicts(self) -> list[dict[str, str]]:
        return [b.to_dict() for b in self.blocks]

    @property
    def paragraphs(self) -> list[str]:
        return [b.text for b in self.blocks if b.kind == "paragraph"]

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)

    def sections(self) -> Iterator[tuple[str | None, list[int]]]:
        """Yield (heading, indices of the paragraph blocks under it) in order."""
        heading: str | None = None
        indices: list[int] = []
        for i, block in enumerate(self.blocks):
            if block.kind == "heading":
                if indices or heading is not None:
                    yield heading, indices
                heading, indices = block.text, []
            else:
                indices.append(i)
        if indices or heading is not None:
            yield heading, indices


def looks_like_heading(line: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped[-1] in _CLOSING_PUNCTUATION:
        return False
    return len(stripped.split()) <= _HEADING_MAX_WORDS and len(stripped) <= _HEADING_MAX_CHARS


def parse_plain_text(text: str, title: str = "") -> Document:
    """One paragraph per line; a short line without final punctuation is a heading."""
    blocks = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        kind: BlockKind = "heading" if looks_like_heading(line) else "paragraph"
        blocks.append(Block(kind=kind, text=line))
    return Document.from_blocks(blocks, title=title)
