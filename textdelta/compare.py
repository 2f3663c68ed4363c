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
from textdelta.align import Match, OldPool, Sentence, conflicting, days, event_support, folded, make_sentence, supersedes, updates_figure
from textdelta.blocks import Document
from textdelta.semantic import Embedder
from textdelta.sentences import split_sentences

Status = Literal["old", "changed", "new"]
MAX_GAP = 3  # unclaimed old sentences between two anchors that a paraphrase may fill


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds. Defaults are what `newsdelta evaluate --fit` chose on the `fit`
    split of newsdelta/evaluation/data (the alignment thresholds on verbatim and lightly edited
    text, the rest with the sentence model on paraphrases, independent reports and hard
    negatives); docs/matching.md reports figures on the held-out split."""

    aligned: float = 0.5  # weighted coverage at or above which a new sentence restates old text
    changed: float = 0.7  # Dice with one old sentence at or above which it is a small edit of it
    same_story: float = 0.22  # document score at or above which two texts tell the same story
    new_paragraph: float = 0.5  # share of a paragraph's characters in new sentences
    semantic: float = 1.0  # coverage + cosine (of sentence embeddings) at or above which a sentence restates old text
    semantic_alone: float = 0.8  # cosine at or above which it restates old text whatever the words share
    settled: float = 0.8  # coverage at or above which the words settle it and the model is not asked
    gap: float = 0.2  # coverage enough for a sentence that fills the gap between two aligned neighbours
    lede: float = 0.3  # factor on the story score when the two ledes report different events
    lede_meaning: float = 0.45  # cosine below which two ledes the words do not tie report different events
    fact_meaning: float = 0.45  # cosine at or above which a sentence whose figures the old sentence all states restates it
    update_meaning: float = 0.9  # cosine at or above which a restatement giving another value of one of its old sentence's figures is an update
    known_meaning: float = 0.5  # cosine at or above which a sentence naming no one, no figure and no day the story has not named restates it
    # Publication time, when the caller knows it (the pipeline does; plain texts do not):
    close_days: float = 1.5  # tellings published this close are judged as reports of one event ...
    close_meaning: float = 0.75  # ... when they are this close in meaning (cosine of their mean sentence vectors)
    close_score: float = 0.15  # ... and this much of them restates the other, whatever their ledes
    close_alone: float = 0.8  # ... or, whatever they restate, when they are this close in meaning
    floor_meaning: float = 0.45  # cosine of two tellings under which restating less than follow_up_score of a story is not enough
    follow_up_days: float = 3.0  # a telling published this long after the story's nearest one ...
    follow_up_score: float = 0.5  # ... must restate this much of it: a later event with the same people is another story
    next_day: float = 0.5  # a telling published this long after the story's nearest one, restating less than follow_up_score of it, ...
    event_meaning: float = 0.6  # ... must announce its event as a telling of the story does: mean cosine of their headlines and of their ledes
    same_day_event: float = 0.7  # tellings published less than next_day apart that announce their event this alike (same measure) are one story


# Words only (no sentence model): the same-story cut and lede factor that --fit chose for it.
LEXICAL = Thresholds(same_story=0.284, lede=0.5)


def default_thresholds(semantic: Embedder | None) -> Thresholds:
    return Thresholds() if semantic is not None else LEXICAL


@dataclass(frozen=True)
class Alignment:
    new_index: int
    new: str
    status: Status
    coverage: float
    old: tuple[str, ...] = ()
    cosine: float | None = None  # with the closest old sentence in meaning, when the model was asked
    closest: str | None = None  # that old sentence


@dataclass(frozen=True)
class ChangedSentence:
    old: str
    new: str
    updates_facts: bool = False  # its figures or days differ from the old sentence's: new information


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
    evidence: dict[str, Any] = field(default_factory=dict)  # what decided the verdict (see explanation())

    def explanation(self) -> dict[str, Any]:
        """Why: the evidence behind the verdict, and for each paragraph reported new the closest
        thing the old text has to it, with its lexical coverage and its cosine in meaning."""
        by_text = {a.new: a for a in self.alignments}
        paragraphs = []
        for section in self.new_sections:
            for paragraph in section.paragraphs:
                sentences = [a for text, a in by_text.items() if text in paragraph]
                # The paragraph's new sentence that came closest to being a restatement.
                sentences = [a for a in sentences if a.status != "old"] or sentences
                best = max(sentences, key=lambda a: a.coverage + (a.cosine or 0.0), default=None)
                paragraphs.append({
                    "paragraph": paragraph,
                    "closest_old": (best.old[0] if best and best.old else best.closest if best else None),
                    "lexical": round(best.coverage, 3) if best else 0.0,
                    "semantic": round(best.cosine, 3) if best and best.cosine is not None else None,
                })
        return {"verdict": dict(self.evidence), "new_paragraphs": paragraphs}

    def to_json(self) -> dict[str, Any]:
        return {
            "same_story": self.same_story,
            "score": round(self.score, 4),
            "new_sections": [
                {k: v for k, v in asdict(s).items() if k != "under_heading" or v is not None}
                for s in self.new_sections
            ],
            "new_sentences": list(self.new_sentences),
            "changed_sentences": [{"old": c.old, "new": c.new} for c in self.changed_sentences],
            "updated_sentences": [{"old": c.old, "new": c.new} for c in self.changed_sentences if c.updates_facts],
            "lede_differs": self.lede_differs,
            "explanation": self.explanation(),
            "alignment": [
                {"new": a.new, "status": a.status, "coverage": round(a.coverage, 3), "old": list(a.old),
                 **({"cosine": round(a.cosine, 3), "closest": a.closest} if a.cosine is not None else {})}
                for a in self.alignments
            ],
        }


def compare(
    old: Document,
    new: Document,
    thresholds: Thresholds | None = None,
    semantic: Embedder | None = None,
) -> Comparison:
    return compare_to_story([old], new, thresholds, semantic)


def compare_to_story(
    story: Sequence[Document],
    new: Document,
    thresholds: Thresholds | None = None,
    semantic: Embedder | None = None,
    days_apart: float | None = None,
    days_since_first: float | None = None,
) -> Comparison:
    """Compare `new` with every document a story already holds (outlets and versions).

    Same-story is decided by the single best-matching document (a story is one event, each
    telling should match on its own); new material is what no document of the story had.
    `days_apart`: between `new`'s publication and the story's nearest telling, when known;
    `days_since_first`: since the story's first telling (default: `days_apart`).
    Independent reports of one event, published within `close_days` of each other, need not
    restate each other's lede: close meaning and some shared material make them one story, and
    closer meaning alone does (the two tellings' cosine is computed even where the texts share
    too few rare terms for their sentences to be compared by meaning). A telling that restates
    less than half of the story must also be close to it in meaning.
    A telling published `follow_up_days` or more after the story began must restate much more
    of it: the sentencing after the verdict cites the verdict but is another event (and a
    commentary published in between does not make it any closer). From `next_day` after the
    story's nearest telling, one that restates less than half of the story must also announce
    its event as a telling of the story does (headline and lede, `event_meaning`): the next
    day's development (the grounding after the blowout) recalls the event it follows.
    """
    th = thresholds or default_thresholds(semantic)
    new_sentences = _sentences(new, 0, paragraphs_only=True)
    per_doc = [_sentences(doc, d, paragraphs_only=False) for d, doc in enumerate(story)]
    old_sentences = [s for sentences in per_doc for s in sentences]
    if not new_sentences or not old_sentences:
        return Comparison(same_story=False, score=0.0)

    pool = OldPool(old_sentences)
    matches = _exclusive_matches(new_sentences, pool)
    meaning = semantic  # whole tellings are still compared by meaning when published close together
    if semantic is not None and not _candidate(story, new):
        semantic = None  # texts that share so few rare terms are not compared by meaning (nor by the pipeline at all)
    nearest = _nearest(new_sentences, old_sentences, matches, th, semantic)
    decided = [_status(s, m, near, pool, th) for s, m, near in zip(new_sentences, matches, nearest)]
    matches, statuses = [m for m, _ in decided], [st for _, st in decided]
    matches, statuses = _fill_gaps(new_sentences, matches, statuses, pool, th)
    lede_index = _lede_index(new_sentences)
    scored = []
    for d, (doc, raw) in enumerate(zip(story, _story_scores(new_sentences, old_sentences, matches, statuses, len(story)))):
        paragraphs = [s for s in per_doc[d] if doc.blocks[s.block].kind == "paragraph"]
        why = _ledes_differ(new_sentences, statuses, matches, lede_index, paragraphs, pool, th, semantic)
        scored.append((raw * (th.lede if why else 1.0), d, why, raw))
    score, best_doc, lede_reason, raw_score = max(scored, key=lambda x: (x[0], x[3], -x[1]))
    lede_differs = lede_reason is not None
    same_story, threshold, rule = score >= th.same_story, th.same_story, "restatement"
    doc_cosine = event_cosine = None
    since_first = days_since_first if days_since_first is not None else days_apart
    if since_first is not None and since_first >= th.follow_up_days:
        threshold, rule = max(th.same_story, th.follow_up_score), "follow_up"
        same_story = score >= threshold
    elif (days_apart is not None and days_apart <= th.close_days and meaning is not None and not same_story
          and lede_reason != "other_day"):
        best_raw = max(scored, key=lambda x: x[3])
        doc_cosine = _telling_cosine_for(story, new, meaning, (th.close_meaning, th.close_alone))
        if doc_cosine >= th.close_meaning and (best_raw[3] >= th.close_score or doc_cosine >= th.close_alone):
            score, raw_score, threshold, rule, same_story = best_raw[3], best_raw[3], th.close_score, "close_in_time", True
        elif days_apart < th.next_day and doc_cosine >= th.floor_meaning:
            # Reports of one event published the same day may share few sentences (each has its
            # own witnesses, figures and order) but announce one event: their headlines and
            # ledes say the same thing.
            event_cosine = _event_cosine(story, new, meaning)
            if event_cosine is not None and event_cosine >= th.same_day_event:
                # The score that decided is the headlines' and ledes' cosine; restated_share stays what the words restate.
                score, raw_score, threshold, rule, same_story = event_cosine, best_raw[3], th.same_day_event, "same_day_event", True
    if same_story and rule == "restatement" and raw_score < th.follow_up_score and meaning is not None:
        # Restating a little of the story is what a later event with the same people does too
        # (the resignation that recalls the final two days before); tellings of one event are
        # also close in meaning.
        doc_cosine = _telling_cosine_for(story, new, meaning, (th.floor_meaning,))
        if doc_cosine < th.floor_meaning:
            same_story, rule = False, "far_in_meaning"
    if (same_story and meaning is not None and days_apart is not None and days_apart >= th.next_day
            and raw_score < th.follow_up_score):
        # The development of the next day (the grounding after the blowout, the indictment
        # after the arrest) restates some of the event it follows and is close to it in
        # meaning; what tells it apart is what its headline and lede announce. A telling that
        # restates half the story or more tells its event, whatever its headline says.
        event_cosine = _event_cosine(story, new, meaning)
        if event_cosine is not None and event_cosine < th.event_meaning:
            same_story, rule = False, "other_event"
    evidence = {
        "same_story": same_story, "score": round(score, 4), "threshold": threshold, "rule": rule,
        "restated_share": round(raw_score, 4),  # of NEW restated, and of the best old telling restated, averaged
        "lede_differs": lede_differs, "lede_reason": lede_reason, "lede_factor": th.lede if lede_differs and rule != "close_in_time" else 1.0,
        "sentence_model": meaning is not None,  # the model was asked about the tellings
        "sentences_by_meaning": semantic is not None,  # ... and about their sentences (texts sharing enough rare terms)
        "old_tellings": len(story),
        "days_apart": round(days_apart, 2) if days_apart is not None else None,
        "days_since_first": round(since_first, 2) if since_first is not None else None,
        "telling_cosine": round(doc_cosine, 4) if doc_cosine is not None else None,
        "event_cosine": round(event_cosine, 4) if event_cosine is not None else None,
    }

    alignments = [
        Alignment(i, s.text, st, round(m.coverage, 4), tuple(pool.sentences[j].text for j in m.old),
                  round(near[1], 4) if near else None, old_sentences[near[0]].text if near else None)
        for i, (s, m, st, near) in enumerate(zip(new_sentences, matches, statuses, nearest))
    ]
    changed = [
        ChangedSentence(old=pool.sentences[m.old[0]].text, new=s.text, updates_facts=supersedes(s, [pool.sentences[i] for i in m.old]))
        for s, m, st in zip(new_sentences, matches, statuses)
        if st == "changed"
    ]
    fresh = [s.text for s, st in zip(new_sentences, statuses) if st == "new"]
    updates = {c.new for c in changed if c.updates_facts}
    final = [("new" if s.text in updates else st) for s, st in zip(new_sentences, statuses)]
    sections = _new_sections(new, new_sentences, final, th)
    return Comparison(
        same_story=same_story,
        score=score,
        alignments=alignments,
        new_sections=sections,
        new_sentences=fresh,
        changed_sentences=changed,
        lede_differs=lede_differs,
        evidence=evidence,
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
    _signature.cache_clear()
    terms.analyse.cache_clear()
    align._reading.cache_clear()
    align.folded.cache_clear()
    normalize._normalize_short.cache_clear()


LEDE_MIN_WORDS = 8  # shorter opening "sentences" are datelines, bylines or kickers, not the lede


def _lede_index(sentences: list[Sentence]) -> int | None:
    return next((i for i, s in enumerate(sentences) if len(s.text.split()) >= LEDE_MIN_WORDS), None)


def _ledes_differ(new: list[Sentence], statuses: list[Status], matches: list[Match], lede: int | None, old: list[Sentence],
                  pool: OldPool, th: Thresholds, semantic: Embedder | None) -> str | None:
    """A news story puts its event in the first sentence. A later story about the same people
    or place (the next match, the sentencing after the verdict, the next stop of a tour) cites
    the earlier event as background further down, so it can restate much of it; but its lede
    restates nothing of the old text, or places its event on another day than the old lede,
    or restates only the old telling's background. With the sentence model, a lede the words
    leave unsettled must be close in meaning to the old opening. Returns why they differ
    ("new", "other_day", "background", "meaning", "words"), or None when they agree."""
    old_lede = _lede_index(old)
    if lede is None or old_lede is None:
        return None
    if statuses[lede] == "new":
        return "new"
    new_days, old_days = days(new[lede]), days(old[old_lede])
    if new_days and old_days and not _near_days(new_days, old_days):
        return "other_day"
    opening = old[old_lede : old_lede + LEDE_REGION]
    restates_opening = any(pool.sentences[i] is o for i in matches[lede].old for o in opening)
    if matches[lede].quoted or (matches[lede].coverage >= th.aligned and restates_opening):
        return None
    if matches[lede].coverage >= th.aligned:
        # Its words restate what the old telling says further down ("will face City in the
        # final next Saturday"), not its opening: the lede of the event that followed.
        return "background"
    if semantic is not None:
        vectors = semantic.embed([new[lede].text, *(o.text for o in opening)])
        return "meaning" if float((vectors[1:] @ vectors[0]).max()) < th.lede_meaning else None
    return None if restates_opening else "words"


def _headline(doc: Document) -> str | None:
    if doc.title.strip():
        return doc.title.strip()
    first = doc.blocks[0] if doc.blocks else None
    return first.text if first is not None and first.kind == "heading" else None


def _ledes(doc: Document, n: int) -> list[str]:
    """The first `n` sentences that can be a lede (a page's first lines may be a dateline, a
    byline or a caption too short to be one)."""
    out: list[str] = []
    for block in doc.blocks:
        if block.kind != "paragraph":
            continue
        out.extend(s for s in _split(block.text) if len(s.split()) >= LEDE_MIN_WORDS)
        if len(out) >= n:
            break
    return out[:n]


def _event_cosine(story: Sequence[Document], new: Document, semantic: Embedder) -> float | None:
    """How closely `new` announces the event a telling of the story announces, at best over
    the story's tellings: the mean of the cosine of their headlines and the best cosine of the
    new lede with the telling's opening sentences (the lede alone where a headline is missing).
    None when the new telling has no lede."""
    lede = _ledes(new, 1)
    if not lede:
        return None
    headline = _headline(new)
    mine = semantic.embed([lede[0], headline] if headline else lede)
    best: float | None = None
    for doc in story:
        opening = _ledes(doc, LEDE_REGION)
        if not opening:
            continue
        theirs = _headline(doc)
        vectors = semantic.embed([*opening, theirs] if headline and theirs else opening)
        value = float((vectors[: len(opening)] @ mine[0]).max())
        if headline and theirs:
            value = (value + float(vectors[-1] @ mine[1])) / 2
        best = value if best is None else max(best, value)
    return best


TELLING_SENTENCES = 40  # of a telling, for the cosine of two tellings: its body, not an appendix of extras
# A first look reads only the openings, where a telling tells its event; a glance this far on
# one side of every bar decides, and only a close call reads the whole tellings. Most
# candidates close in time are other events, and embedding whole articles for them cost more
# than the rest of matching.
TELLING_GLANCE = 12
GLANCE_MARGIN = 0.1


def _telling_cosine_for(story: Sequence[Document], new: Document, semantic: Embedder, bars: Sequence[float]) -> float:
    """The tellings' cosine, as precise as the bars it is compared with need it."""
    glance = _telling_cosine(story, new, semantic, TELLING_GLANCE)
    if all(abs(glance - bar) > GLANCE_MARGIN for bar in bars):
        return glance
    return _telling_cosine(story, new, semantic)


def _telling_cosine(story: Sequence[Document], new: Document, semantic: Embedder, limit: int = TELLING_SENTENCES) -> float:
    """The highest cosine between the mean sentence vector of `new` and that of a telling of the
    story: independent reports of one event say the same things in other words and order; a
    later event with the same people says other things about them."""
    def mean(doc: Document) -> Any:
        sentences = [s for b in doc.blocks if b.kind == "paragraph" for s in _split(b.text)][:limit]
        if not sentences:
            return None
        vector = semantic.embed(sentences).mean(axis=0)
        return vector / (float((vector @ vector) ** 0.5) or 1.0)
    mine = mean(new)
    if mine is None:
        return 0.0
    return max((float(mine @ theirs) for doc in story if (theirs := mean(doc)) is not None), default=0.0)


# The old telling's opening sentences, where it tells its event (a page's first "sentence" may
# be a dateline or a teaser line).
LEDE_REGION = 3


_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS = frozenset(_WEEK)


def _near_days(a: set[str], b: set[str]) -> bool:
    """Whether two ledes can place one event: a day in common, or weekdays one apart (an
    overnight vote is "Tuesday night" at one outlet and "early Wednesday" at another; an
    arrest "on Saturday" follows a raid "on Friday" in the same report). Weekdays are compared
    with weekdays and months with months: "on Tuesday" and "on December 3" may be one day."""
    if a & b:
        return True
    weekdays_a, weekdays_b = a & _WEEKDAYS, b & _WEEKDAYS
    if (not weekdays_a or not weekdays_b) and (not a - weekdays_a or not b - weekdays_b):
        return True  # a weekday against a month ("on Tuesday", "on December 3"): nothing to compare
    return any(x in _WEEK and y in _WEEK and abs(_WEEK.index(x) - _WEEK.index(y)) in (1, 6) for x in a for y in b)


# Share of a new article's signature terms a stored story must share to be compared at all
# (the pipeline's candidate lookup, newsdelta/stages/match.py), and the larger share it must
# share to be compared by meaning too, which every telling of one event in the labelled set
# clears (scripts/signature_overlap.py shows the margin); a story of another event can pass
# the first bar on a topic's words and would cost the model a whole article for nothing.
MIN_SHARED_TERMS = 0.2
MIN_SHARED_FOR_MEANING = 0.3


def _candidate(story: Sequence[Document], new: Document) -> bool:
    mine = _signature(new.title, new.text)
    theirs = frozenset().union(*(_signature(doc.title, doc.text) for doc in story))
    return len(mine & theirs) >= max(3, MIN_SHARED_FOR_MEANING * len(mine))


@lru_cache(maxsize=4096)
def _signature(title: str, text: str) -> frozenset[str]:
    # Cached by text: a story's tellings are met again with every new one.
    return frozenset(terms.article_terms(title, text))


def _nearest(new: list[Sentence], old: list[Sentence], matches: list[Match], th: Thresholds,
             semantic: Embedder | None) -> list[tuple[int, float] | None]:
    """For each new sentence the words leave unsettled, the old sentence closest in meaning
    (sentence embeddings) and its cosine; None where the words settle it or there is no model."""
    unsettled = [k for k, m in enumerate(matches) if not m.quoted and m.coverage < th.settled]
    out: list[tuple[int, float] | None] = [None] * len(new)
    if semantic is None or not unsettled:
        return out
    # Old sentences the words already matched to a settled new sentence are explained; a
    # paraphrase restates one of the others. (Most of a wire copy or an update is settled by
    # its words, so the model sees only the few sentences that changed.)
    asked = set(unsettled)
    claimed = {i for k, m in enumerate(matches) if k not in asked for i in m.old}
    candidates = [i for i in range(len(old)) if i not in claimed and old[i].weight > 0]
    if not candidates:
        return out
    similarity = semantic.embed([new[k].text for k in unsettled]) @ semantic.embed([old[i].text for i in candidates]).T
    best = similarity.argmax(axis=1)
    for row, k in enumerate(unsettled):
        out[k] = (candidates[int(best[row])], float(similarity[row, best[row]]))
    return out


def _status(s: Sentence, m: Match, near: tuple[int, float] | None, pool: OldPool, th: Thresholds) -> tuple[Match, Status]:
    restated = m.quoted or m.coverage >= th.aligned
    if not restated and near is not None:
        # Below the lexical threshold the words alone cannot tell a paraphrase from a new fact
        # about the same people: meaning and shared words decide together.
        j, cosine = near
        if (cosine >= th.semantic_alone or m.coverage + cosine >= th.semantic or _same_figures(s, pool.sentences[j], cosine, th)
                or _nothing_unknown(s, cosine, pool, th)):
            restated = True
            if j not in m.old:
                m = Match(m.coverage, m.dice, (j,), m.quoted)
    if not restated:
        return m, "new"
    if len(m.old) == 1 and not m.quoted and m.dice >= th.changed and supersedes(s, [pool.sentences[m.old[0]]]):
        # Nearly the same words with other figures or days: an update. (A paraphrase often
        # writes the same figures differently, "FL160" for "16,000 ft", so it is not one.)
        return m, "changed"
    if (len(m.old) == 1 and not m.quoted and m.coverage >= th.aligned
            and ((near is not None and near[0] == m.old[0] and near[1] >= th.update_meaning) or m.coverage >= th.settled)
            and updates_figure(s, pool.sentences[m.old[0]])):
        # The same statement as one old sentence, in words and in meaning, with another value
        # of one of its figures: the update, however its wording was rearranged around it
        # ("At least 19 people have been killed" after "At least 12 people were killed").
        return m, "changed"
    if len(m.old) == 1 and m.dice >= th.changed:
        old_text = pool.sentences[m.old[0]].text
        if folded(old_text) != folded(s.text):
            return m, "changed"
    return m, "old"


def _same_figures(s: Sentence, old: Sentence, cosine: float, th: Thresholds) -> bool:
    """Close in meaning and every figure it states is one the old sentence states ("1.6
    gigawatt-hours for 130,000 homes" after "1,600 MWh, enough for 130,000 households"): the
    same fact in other words. A new figure makes it news, however close the rest."""
    figures = {f for f in s.facts if f.startswith("#")}
    return bool(figures) and cosine >= th.fact_meaning and s.facts <= old.facts


def _nothing_unknown(s: Sentence, cosine: float, pool: OldPool, th: Thresholds) -> bool:
    """Close in meaning and naming no one and no figure or day the story has not named: what
    is left to be new is only how it is said. A new fact about the same people nearly always
    brings a name, a figure or a day of its own ("defender Ruben Sauer has left for Nordby")."""
    return cosine >= th.known_meaning and all(name in pool.postings for name in s.names) and s.facts <= pool.facts


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
