"""compare(old, new): is it the same story, which sentences of `new` restate `old`, and what
is genuinely new, grouped into sections.

Everything is measured against *all* the old material given, so comparing a third outlet
against a whole story reports nothing the story already had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Literal

from textdelta import align, normalize, terms
from textdelta.align import Match, OldPool, SemanticScorer, Sentence, conflicting, days, event_support, folded, make_sentence
from textdelta.blocks import Document
from textdelta.sentences import split_sentences

Status = Literal["old", "changed", "new"]
MAX_GAP = 3  # unclaimed old sentences between two anchors that a paraphrase may fill


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds. Defaults were fitted on tests/data/labelled (the `fit` split) by
    `newsdelta evaluate --fit`; the README reports figures on the held-out split."""

    aligned: float = 0.5  # weighted coverage at or above which a new sentence restates old text
    changed: float = 0.7  # Dice with one old sentence at or above which it is a small edit of it
    same_story: float = 0.284  # document score at or above which two texts tell the same story
    new_paragraph: float = 0.5  # share of a paragraph's characters in new sentences
    ambiguous: float = 0.15  # half-width of the coverage band around `aligned` the semantic scorer decides
    semantic: float = 1.1  # coverage + cosine at or above which a sentence in that band restates old text
    gap: float = 0.2  # coverage enough for a sentence that fills the gap between two aligned neighbours
    lede: float = 0.5  # factor on the story score when the two ledes report different events


@dataclass(frozen=True)
class Alignment:
    new_index: int
    new: str
    status: Status
    coverage: float
    old: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangedSentence:
    old: str
    new: str


@dataclass(frozen=True)
class NewSection:
    heading: str | None
    paragraphs: list[str]
    under_heading: str | None = None  # the enclosing heading when only part of its section is new


@dataclass
class Comparison:
    same_story: bool
    score: float
    alignments: list[Alignment] = field(default_factory=list)
    new_sections: list[NewSection] = field(default_factory=list)
    new_sentences: list[str] = field(default_factory=list)
    changed_sentences: list[ChangedSentence] = field(default_factory=list)
    lede_differs: bool = False  # the ledes report different events (see _ledes_differ)

    def to_json(self) -> dict[str, Any]:
        return {
            "same_story": self.same_story,
            "score": round(self.score, 4),
            "new_sections": [
                {k: v for k, v in asdict(s).items() if k != "under_heading" or v is not None}
                for s in self.new_sections
            ],
            "new_sentences": list(self.new_sentences),
            "changed_sentences": [asdict(c) for c in self.changed_sentences],
            "lede_differs": self.lede_differs,
            "alignment": [
                {"new": a.new, "status": a.status, "coverage": round(a.coverage, 3), "old": list(a.old)}
                for a in self.alignments
            ],
        }


def compare(
    old: Document,
    new: Document,
    thresholds: Thresholds | None = None,
    semantic: SemanticScorer | None = None,
) -> Comparison:
    return compare_to_story([old], new, thresholds, semantic)


def compare_to_story(
    story: Sequence[Document],
    new: Document,
    thresholds: Thresholds | None = None,
    semantic: SemanticScorer | None = None,
) -> Comparison:
    """Compare `new` with every document a story already holds (outlets and versions).

    Same-story is decided by the single best-matching document (a story is one event, each
    telling should match on its own); new material is what no document of the story had.
    """
    th = thresholds or Thresholds()
    new_sentences = _sentences(new, 0, paragraphs_only=True)
    per_doc = [_sentences(doc, d, paragraphs_only=False) for d, doc in enumerate(story)]
    old_sentences = [s for sentences in per_doc for s in sentences]
    if not new_sentences or not old_sentences:
        return Comparison(same_story=False, score=0.0)

    pool = OldPool(old_sentences)
    matches = _exclusive_matches(new_sentences, pool)
    statuses = [_status(s, m, pool, th, semantic) for s, m in zip(new_sentences, matches)]
    matches, statuses = _fill_gaps(new_sentences, matches, statuses, pool, th)
    lede_index = _lede_index(new_sentences)
    scored = []
    for d, (doc, raw) in enumerate(zip(story, _story_scores(new_sentences, old_sentences, matches, statuses, len(story)))):
        paragraphs = [s for s in per_doc[d] if doc.blocks[s.block].kind == "paragraph"]
        differs = _ledes_differ(new_sentences, statuses, lede_index, paragraphs)
        scored.append((raw * (th.lede if differs else 1.0), differs))
    score, lede_differs = max(scored)

    alignments = [
        Alignment(i, s.text, st, round(m.coverage, 4), tuple(pool.sentences[j].text for j in m.old))
        for i, (s, m, st) in enumerate(zip(new_sentences, matches, statuses))
    ]
    changed = [
        ChangedSentence(old=pool.sentences[m.old[0]].text, new=s.text)
        for s, m, st in zip(new_sentences, matches, statuses)
        if st == "changed"
    ]
    fresh = [s.text for s, st in zip(new_sentences, statuses) if st == "new"]
    sections = _new_sections(new, new_sentences, statuses, th)
    return Comparison(
        same_story=score >= th.same_story,
        score=score,
        alignments=alignments,
        new_sections=sections,
        new_sentences=fresh,
        changed_sentences=changed,
        lede_differs=lede_differs,
    )


def _sentences(doc: Document, d: int, paragraphs_only: bool) -> list[Sentence]:
    out: list[Sentence] = []
    for b, block in enumerate(doc.blocks):
        if block.kind == "paragraph":
            out.extend(make_sentence(t, b, d) for t in _split(block.text))
        elif not paragraphs_only:
            out.append(make_sentence(block.text, b, d))
    return out


@lru_cache(maxsize=65536)
def _split(paragraph: str) -> tuple[str, ...]:
    return tuple(split_sentences(paragraph))


def clear_caches() -> None:
    """Forget every paragraph and sentence analysed so far (benchmarks time a cold start with
    it). The stem cache stays: it is per word, a vocabulary any running process has."""
    _split.cache_clear()
    terms.analyse.cache_clear()
    align._reading.cache_clear()
    align.folded.cache_clear()
    normalize._normalize_short.cache_clear()


LEDE_MIN_WORDS = 8  # shorter opening "sentences" are datelines, bylines or kickers, not the lede


def _lede_index(sentences: list[Sentence]) -> int | None:
    return next((i for i, s in enumerate(sentences) if len(s.text.split()) >= LEDE_MIN_WORDS), None)


def _ledes_differ(new: list[Sentence], statuses: list[Status], lede: int | None, old: list[Sentence]) -> bool:
    """A news story puts its event in the first sentence. A later story about the same people
    or place (the next match, the sentencing after the verdict, the next stop of a tour) cites
    the earlier event as background further down, so it can restate much of it; but its lede
    restates nothing of the old text, or places its event on another day than the old lede."""
    old_lede = _lede_index(old)
    if lede is None or old_lede is None:
        return False
    if statuses[lede] == "new":
        return True
    new_days, old_days = days(new[lede]), days(old[old_lede])
    return bool(new_days and old_days) and not (new_days & old_days)


def _status(s: Sentence, m: Match, pool: OldPool, th: Thresholds, semantic: SemanticScorer | None) -> Status:
    restated = m.quoted or m.coverage >= th.aligned
    if semantic is not None and m.old and not m.quoted and abs(m.coverage - th.aligned) < th.ambiguous:
        # Near the lexical threshold the words alone cannot tell a paraphrase from a new fact
        # about the same people; coverage and meaning decide together.
        similarities = semantic.similarity(s.text, [pool.sentences[i].text for i in m.old])
        restated = m.coverage + max(similarities, default=0.0) >= th.semantic
    if not restated:
        return "new"
    if len(m.old) == 1 and m.dice >= th.changed:
        old_text = pool.sentences[m.old[0]].text
        if folded(old_text) != folded(s.text):
            return "changed"
    return "old"


VERBATIM_DICE = 0.9


def _exclusive_matches(new: list[Sentence], pool: OldPool) -> list[Match]:
    """An old sentence that one new sentence repeats (nearly) verbatim cannot also explain
    another new sentence: a paragraph inserted into an update shares words with its verbatim
    neighbours, and without this rule it would pass for a restatement of them."""
    matches = [pool.match(s) for s in new]
    taken: dict[int, int] = {}
    claims: dict[int, tuple[bool, float]] = {}
    for k, m in enumerate(matches):
        if len(m.old) == 1 and m.dice >= VERBATIM_DICE:
            # Several new sentences may repeat one old sentence nearly verbatim ("Is there an
            # oxygen bar in Delhi?" has the terms of "There is an oxygen bar in Delhi."): the
            # old sentence goes to its exact copy, if there is one, else to the closest.
            i = m.old[0]
            claim = (folded(new[k].text) == folded(pool.sentences[i].text), m.dice)
            if i not in taken or claim > claims[i]:
                taken[i], claims[i] = k, claim
    if not taken:
        return matches
    for k, m in enumerate(matches):
        if any(taken.get(i, k) != k for i in m.old):  # an old sentence it leans on is another's copy
            matches[k] = pool.match(new[k], exclude=frozenset(i for i, owner in taken.items() if owner != k))
    return matches


def _fill_gaps(
    new: list[Sentence], matches: list[Match], statuses: list[Status], pool: OldPool, th: Thresholds
) -> tuple[list[Match], list[Status]]:
    """Second pass in the spirit of monotone sentence alignment: a rewrite keeps the order of
    the original, so a sentence lying between two aligned neighbours, whose candidates are old
    sentences in the gap between their anchors that nobody else restates, is a paraphrase of
    those sentences even on weaker lexical evidence. An inserted paragraph finds no such gap."""
    matches, statuses = list(matches), list(statuses)
    claimed = {i for m, st in zip(matches, statuses) if st != "new" for i in m.old}
    for k, (s, m, st) in enumerate(zip(new, matches, statuses)):
        if st != "new" or not m.old or m.coverage < th.gap / 2:
            continue
        doc = pool.sentences[m.old[0]].doc
        before = [i for j in range(k - 1, -1, -1) if statuses[j] != "new" for i in matches[j].old if pool.sentences[i].doc == doc][:1]
        after = [i for j in range(k + 1, len(new)) if statuses[j] != "new" for i in matches[j].old if pool.sentences[i].doc == doc][:1]
        low = max(before) if before else -1
        high = min(after) if after else len(pool.sentences)
        gap = [i for i in range(low + 1, high) if pool.sentences[i].doc == doc and i not in claimed]
        inside = [i for i in m.old if i in gap]
        if not inside or len(gap) > MAX_GAP:
            continue
        union: set[str] = set()
        for i in inside:
            union |= pool.sentences[i].terms.keys()
        coverage = sum(w for t, w in s.terms.items() if t in union) / (s.weight or 1.0)
        if coverage >= th.gap:
            matches[k] = Match(coverage, m.dice, tuple(inside), m.quoted)
            statuses[k] = "old"
            claimed.update(inside)
    return matches, statuses


def _story_scores(new: list[Sentence], old: list[Sentence], matches: list[Match], statuses: list[Status], docs: int) -> list[float]:
    """Per document of the story, the mean of two coverages: how much of `new` the story
    restates (any of its documents), and how much of that document `new` restates. A rewrite
    scores high on both; a different event that reuses a background paragraph or two, or only
    the same names, scores low on both."""
    covered_weight = 0.0
    hit: set[int] = set()
    for s, m, st in zip(new, matches, statuses):
        sources = [old[i] for i in m.old]
        if st == "new" or not sources or conflicting(s, sources):
            continue  # a restatement that contradicts its source's figures or days is another event
        covered_weight += s.weight * (0.5 + 0.5 * event_support(s, sources))  # names alone earn half
        hit.update(m.old)
    new_cov = covered_weight / (sum(s.weight for s in new) or 1.0)
    doc_total = [0.0] * docs
    doc_hit = [0.0] * docs
    for i, s in enumerate(old):
        if s.weight > 0:
            doc_total[s.doc] += s.weight
            if i in hit:
                doc_hit[s.doc] += s.weight
    return [min(1.0, (new_cov + doc_hit[d] / doc_total[d]) / 2) if doc_total[d] else 0.0 for d in range(docs)]


def _new_sections(doc: Document, sentences: list[Sentence], statuses: list[Status], th: Thresholds) -> list[NewSection]:
    new_chars: dict[int, int] = {}
    for s, st in zip(sentences, statuses):
        if st == "new":
            new_chars[s.block] = new_chars.get(s.block, 0) + len(s.text)

    def is_new(block: int) -> bool:
        text = doc.blocks[block].text
        return bool(text) and new_chars.get(block, 0) / len(text) >= th.new_paragraph

    sections: list[NewSection] = []
    for heading, indices in doc.sections():
        flags = [is_new(i) for i in indices]
        if indices and all(flags):
            sections.append(NewSection(heading=heading, paragraphs=[doc.blocks[i].text for i in indices]))
            continue
        run: list[str] = []
        for i, flag in zip(indices, flags):
            if flag:
                run.append(doc.blocks[i].text)
            elif run:
                sections.append(NewSection(heading=None, paragraphs=run, under_heading=heading))
                run = []
        if run:
            sections.append(NewSection(heading=None, paragraphs=run, under_heading=heading))
    return sections
