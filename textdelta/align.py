"""Sentence alignment on lexical evidence: which old sentence(s) each new sentence restates.

A new sentence counts as restating old material when most of its weighted content terms
(rare words, names, numbers) occur in one old sentence, or in two old sentences it merges.
Quotations copied verbatim count as restatement outright.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Protocol

from textdelta.normalize import folded as _fold
from textdelta.terms import analyse, quotations

CANDIDATES = 5  # old sentences considered per new sentence for merges


@dataclass
class Sentence:
    """A sentence and what alignment reads of it. The term map and sets are shared between
    sentences of the same text (a story's sentences are met again with every new telling):
    read them, never change them."""

    text: str
    block: int  # index of the block it came from
    doc: int = 0  # index of the document it came from (story comparisons pool several)
    terms: Mapping[str, float] = field(default_factory=dict)
    quotes: frozenset[str] = frozenset()
    facts: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    weight: float = 0.0  # sum of the term weights


@dataclass(frozen=True)
class Match:
    """How well old material covers one new sentence."""

    coverage: float  # weighted share of the new sentence's terms found in `old`
    dice: float  # weighted Dice with the single best old sentence
    old: tuple[int, ...]  # indices into the old sentence pool, best first
    quoted: bool  # shares a verbatim quotation with old material


class SemanticScorer(Protocol):
    """Optional tie-breaker for sentences whose lexical evidence is ambiguous."""

    def similarity(self, new: str, old: list[str]) -> list[float]: ...


def make_sentence(text: str, block: int, doc: int) -> Sentence:
    terms, quotes, sentence_facts, names, weight = _reading(text)
    return Sentence(text=text, block=block, doc=doc, terms=terms, quotes=quotes, facts=sentence_facts, names=names, weight=weight)


@lru_cache(maxsize=65536)
def _reading(text: str) -> tuple[dict[str, float], frozenset[str], frozenset[str], frozenset[str], float]:
    # Cached by text like `analyse`: a story's sentences are met again with every new telling.
    weights, names, sentence_facts = analyse(text)
    terms = dict(weights)
    return terms, frozenset(quotations(text)), sentence_facts, names, sum(terms.values())


# normalize.folded, cached: alignment folds the same sentences again with every new telling.
folded = lru_cache(maxsize=65536)(_fold)


class OldPool:
    """Old sentences with an inverted index, so each new sentence only meets the old
    sentences it shares a term with."""

    def __init__(self, sentences: list[Sentence]) -> None:
        self.sentences = sentences
        self.postings: dict[str, list[int]] = {}
        self.quotes: set[str] = set()
        self.contentless: dict[str, list[int]] = {}  # "Why?", "That's it.": no terms to match on, only their text
        for i, sentence in enumerate(sentences):
            for term in sentence.terms:
                self.postings.setdefault(term, []).append(i)
            self.quotes |= sentence.quotes
            if sentence.weight <= 0:
                self.contentless.setdefault(folded(sentence.text), []).append(i)

    def match(self, sentence: Sentence, exclude: frozenset[int] = frozenset()) -> Match:
        """Best explanation of `sentence` by old sentences, ignoring those in `exclude`."""
        total = sentence.weight
        quoted = any(_quote_in(q, self.quotes) for q in sentence.quotes)
        if total <= 0:
            # Restated only by the same words: an old copy of it that nobody else has taken.
            copies = [i for i in self.contentless.get(folded(sentence.text), ()) if i not in exclude]
            return Match(1.0, 1.0, (copies[0],), quoted) if copies else Match(0.0, 0.0, (), quoted)
        shared: dict[int, float] = {}
        for term, w in sentence.terms.items():
            for i in self.postings.get(term, ()):
                shared[i] = shared.get(i, 0.0) + w
        for i in exclude:
            shared.pop(i, None)
        if not shared:
            return Match(0.0, 0.0, (), quoted)
        ranked = heapq.nlargest(CANDIDATES, shared, key=shared.__getitem__)  # ties keep pool order, as a stable sort would
        # Of the old sentences that cover it equally well, the closest one (an exact copy, not a
        # longer sentence that happens to contain the same words) explains it.
        tied = [i for i in ranked if shared[i] == shared[ranked[0]]]
        dices = {i: 2 * _shared_symmetric(sentence, self.sentences[i]) / (total + self.sentences[i].weight) for i in tied}
        best = max(tied, key=dices.__getitem__)
        best_cov = shared[best] / total
        dice = dices[best]
        chosen: tuple[int, ...] = (best,)
        for a, b in combinations(ranked, 2):
            # A merge must beat the single best clearly, or it is just noise from a second sentence;
            # the pair can cover at most what each covers alone, added up.
            if min(shared[a], shared[b]) / total < 0.2 or (shared[a] + shared[b]) / total <= best_cov + 0.1 - 1e-9:
                continue
            terms_a, terms_b = self.sentences[a].terms, self.sentences[b].terms
            cov = sum(w for t, w in sentence.terms.items() if t in terms_a or t in terms_b) / total
            if cov > best_cov + 0.1:
                best_cov, chosen = cov, (a, b)
        return Match(best_cov, dice, chosen, quoted)


def _shared_symmetric(a: Sentence, b: Sentence) -> float:
    return sum(min(w, b.terms[t]) for t, w in a.terms.items() if t in b.terms)


def _quote_in(quote: str, pool: set[str]) -> bool:
    return quote in pool or any(quote in other or other in quote for other in pool if len(other) >= 12)


def conflicting(sentence: Sentence, old: list[Sentence]) -> bool:
    """Both state figures or days, and none agree: "raised to 4.75% on Wednesday" against
    "held at 4.75% on Thursday" shares the rate but not the day; "3.1%" against "4.2%" shares nothing."""
    theirs = set().union(*(o.facts for o in old)) if old else set()
    return bool(sentence.facts and theirs) and not (sentence.facts <= theirs)


def days(sentence: Sentence) -> set[str]:
    """The weekdays and months a sentence names: when its event happened."""
    return {f for f in sentence.facts if not f.startswith("#")}


def event_support(sentence: Sentence, old: list[Sentence]) -> float:
    """How much of what the sentence says happened (its terms other than names and figures)
    the old sentences also say. Two events involving the same people share the names; two
    tellings of one event share what happened too."""
    theirs = set().union(*(o.terms.keys() for o in old)) if old else set()
    content = {t: w for t, w in sentence.terms.items() if t not in sentence.names and not t.startswith("#")}
    total = sum(content.values())
    if total <= 0:
        return 1.0
    return sum(w for t, w in content.items() if t in theirs) / total
