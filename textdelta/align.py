"""Sentence alignment on lexical evidence: which old sentence(s) each new sentence restates.

A new sentence counts as restating old material when most of its weighted content terms
(rare words, names, numbers) occur in one old sentence, or in two old sentences it merges.
Quotations copied verbatim count as restatement outright.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

from textdelta.figures import counts, same_measure, unit_of
from textdelta.normalize import folded as _fold
from textdelta.normalize import normalize_text
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
    sentences it shares a term with.

    Sentences of the same text (a wire copy, a story's earlier versions, the paragraphs every
    telling of a story repeats) are indexed once, as a group: a story of six near-identical
    tellings costs the index, and each new sentence's lookup, about what one telling does.
    Results are those of indexing every sentence on its own, ties included."""

    def __init__(self, sentences: list[Sentence]) -> None:
        self.sentences = sentences
        self.postings: dict[str, list[int]] = {}  # term -> groups holding it
        self.members: list[list[int]] = []  # group -> its sentences' indices, ascending
        self.quotes: set[str] = set()
        self.facts: set[str] = set()  # every figure and day the old sentences state
        self.contentless: dict[str, list[int]] = {}  # "Why?", "That's it.": no terms to match on, only their text
        group_of: dict[str, int] = {}
        for i, sentence in enumerate(sentences):
            g = group_of.get(sentence.text)
            if g is not None:
                self.members[g].append(i)
            else:
                g = group_of[sentence.text] = len(self.members)
                self.members.append([i])
                for term in sentence.terms:
                    self.postings.setdefault(term, []).append(g)
                self.quotes |= sentence.quotes
                self.facts |= sentence.facts
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
        shared, ranked = self._ranked(sentence, exclude)
        if not ranked:
            return Match(0.0, 0.0, (), quoted)
        # Of the old sentences that cover it equally well, the closest one (an exact copy, not a
        # longer sentence that happens to contain the same words) explains it.
        tied = [i for i in ranked if shared[i] == shared[ranked[0]]]
        by_text: dict[str, float] = {}  # copies of one text are equally close: measured once
        for i in tied:
            old = self.sentences[i]
            if old.text not in by_text:
                by_text[old.text] = 2 * _shared_symmetric(sentence, old) / (total + old.weight)
        dices = {i: by_text[self.sentences[i].text] for i in tied}
        best = max(tied, key=dices.__getitem__)
        best_cov = shared[best] / total
        dice = dices[best]
        chosen: tuple[int, ...] = (best,)
        for a, b in combinations(ranked, 2):
            # A merge must beat the single best clearly, or it is just noise from a second sentence;
            # the pair can cover at most what each covers alone, added up.
            if min(shared[a], shared[b]) / total < 0.2 or (shared[a] + shared[b]) / total <= best_cov + 0.1 - 1e-9:
                continue
            if self.sentences[a].text == self.sentences[b].text:
                continue  # two copies of one text cover what one does, never more than the best
            terms_a, terms_b = self.sentences[a].terms, self.sentences[b].terms
            cov = sum(w for t, w in sentence.terms.items() if t in terms_a or t in terms_b) / total
            if cov > best_cov + 0.1:
                best_cov, chosen = cov, (a, b)
        return Match(best_cov, dice, chosen, quoted)

    def _ranked(self, sentence: Sentence, exclude: frozenset[int]) -> tuple[dict[int, float], list[int]]:
        """The CANDIDATES old sentences sharing the most term weight with `sentence`, best
        first, and the weight each shares. Equal weights rank in the order the sentences are
        first met: by the position of the first term they share, then by their own position."""
        shared: dict[int, float] = {}
        first: dict[int, int] = {}
        for position, (term, w) in enumerate(sentence.terms.items()):
            for g in self.postings.get(term, ()):
                if g in shared:
                    shared[g] += w
                else:
                    shared[g], first[g] = w, position
        # Groups by weight (ties in the order met), then as many as give CANDIDATES sentences,
        # and every group tied with the last of those: their members are ranked one by one.
        order = sorted(shared, key=shared.__getitem__, reverse=True)
        picked: list[int] = []
        count = 0
        for g in order:
            if count >= CANDIDATES and shared[g] != shared[picked[-1]]:
                break
            live = [i for i in self.members[g] if i not in exclude] if exclude else self.members[g]
            if live:
                picked.append(g)
                count += len(live)
        candidates = sorted(
            ((-shared[g], first[g], i) for g in picked for i in self.members[g] if i not in exclude),
        )[:CANDIDATES]
        return {i: -neg for neg, _, i in candidates}, [i for _, _, i in candidates]


def _shared_symmetric(a: Sentence, b: Sentence) -> float:
    return sum(min(w, b.terms[t]) for t, w in a.terms.items() if t in b.terms)


def _quote_in(quote: str, pool: set[str]) -> bool:
    return quote in pool or any(quote in other or other in quote for other in pool if len(other) >= 12)


def conflicting(sentence: Sentence, old: list[Sentence]) -> bool:
    """Both state figures or days, and none agree: "raised to 4.75% on Wednesday" against
    "held at 4.75% on Thursday" shares the rate but not the day; "3.1%" against "4.2%" shares nothing."""
    theirs = set().union(*(o.facts for o in old)) if old else set()
    return bool(sentence.facts and theirs) and not (sentence.facts <= theirs)


def supersedes(sentence: Sentence, old: list[Sentence]) -> bool:
    """It replaces a figure or day of the old sentences with another ("12 killed" then "19
    killed", "3,000 evacuated" then "4,500"): each side states one the other does not. A
    sentence that only adds a figure to what the old one said keeps all of the old ones.
    Numbers spelled out count here ("six people" then "nine people"): news style writes small
    ones as words, and the rest of the sentence is the same."""
    mine = _counted(sentence)
    theirs = set().union(*(_counted(o) for o in old)) if old else set()
    return bool(mine - theirs) and bool(theirs - mine)


def updates_figure(sentence: Sentence, old: Sentence) -> bool:
    """It gives another value of a figure the old sentence states, in the same unit, in its
    place ("19 killed and 11 missing" after "12 killed and 20 missing") or beside it ("26,500
    hectares, up from 18,000 hectares" after "18,000 hectares"; only where the unit names what
    is counted: "12 killed and 30 injured" after "12 killed" adds a count). Only figures written
    as such count: years are dates, and numbers spelled out without a unit are too loose
    ("three decades" for "thirty years"). A measured figure converted by hand is the same
    figure ("1,900-mile" and "3,000-km" differ at two significant figures, not more)."""
    mine, theirs = _amounts(sentence), _amounts(old)
    added = [f for f in mine - theirs if not any(same_measure(f, g) for g in theirs)]
    replaced = {unit_of(f) for f in theirs - mine if not any(same_measure(f, g) for g in mine)}
    kept = {unit_of(f) for f in theirs & mine if unit_of(f)}
    return any(unit_of(f) in replaced or unit_of(f) in kept for f in added)


def _amounts(sentence: Sentence) -> set[str]:
    years = {"#" + y for y in _YEAR.findall(sentence.text)}
    return {f for f in sentence.facts if f.startswith("#") and ":" not in f and f not in years}


# A year as news writes one: four digits, no thousands separator ("in 2019"; "2,019 votes" is a count).
_YEAR = re.compile(r"(?<![\d,.])((?:1[89]|20)\d\d)(?![\d,.]\d)")


def _counted(sentence: Sentence) -> frozenset[str]:
    return counts(normalize_text(sentence.text)) | days(sentence)


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
