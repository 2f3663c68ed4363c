"""The pure text package: sentence splitting, normalisation, and the seed / hard-negative /
third-outlet behaviour of compare. No network, no database, no Prefect."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import EVALUATION_TEXTS, seed_text
from textdelta import Block, Document, clear_caches, compare, compare_to_story, content_hash, parse_plain_text, signature_terms
from textdelta.sentences import split_sentences

TEXTS = Path(__file__).parent / "data" / "texts"
HANDWRITTEN = EVALUATION_TEXTS.parent / "handwritten"
SIGNAL = "Signal Chat Controversy Overshadows Trip"


@pytest.fixture(scope="module")
def original() -> Document:
    return parse_plain_text(seed_text("000_"))


@pytest.fixture(scope="module")
def rewrite() -> Document:
    return parse_plain_text(seed_text("002_"))


def test_plain_text_headings_are_short_lines_without_final_punctuation(rewrite: Document) -> None:
    headings = [b.text for b in rewrite.blocks if b.kind == "heading"]
    assert headings == ["U.S.-Japan Military Revamp Underway", "Bolstering Military Presence in Japan", "New Defense Collaborations", SIGNAL]


def test_sentence_splitter_keeps_abbreviations_and_quotes_together() -> None:
    text = 'U.S. Secretary of Defense Pete Hegseth spoke. "We share a warrior ethos," he said. Gen. Nakatani agreed with Mr. Smith.'
    assert split_sentences(text) == [
        "U.S. Secretary of Defense Pete Hegseth spoke.",
        '"We share a warrior ethos," he said.',
        "Gen. Nakatani agreed with Mr. Smith.",
    ]


def test_content_hash_ignores_typography_and_whitespace_but_not_edits() -> None:
    a = Document.from_blocks([Block("paragraph", "Japan’s  “critical” role – 50,000 troops.")])
    b = Document.from_blocks([Block("paragraph", "Japan's \"critical\" role - 50,000   troops.")])
    c = Document.from_blocks([Block("paragraph", "Japan's \"critical\" role - 55,000 troops.")])
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(c)


def test_seed_rewrite_is_the_same_story_and_adds_exactly_the_signal_section(original: Document, rewrite: Document) -> None:
    result = compare(original, rewrite)
    assert result.same_story
    assert result.score >= 0.6
    assert [s.heading for s in result.new_sections] == [SIGNAL]
    section = result.new_sections[0]
    assert len(section.paragraphs) == 3
    assert section.paragraphs[-1].startswith("China’s foreign ministry has not yet issued a statement")
    # Nothing outside the Signal section is reported new: the paraphrased paragraphs are old.
    signal_text = " ".join(section.paragraphs)
    assert all(s in signal_text for s in result.new_sentences)
    assert any("China’s foreign ministry" in s for s in result.new_sentences)


def test_seed_shingle_overlap_is_low_so_near_duplicate_detection_would_miss_it(original: Document, rewrite: Document) -> None:
    def shingles(doc: Document) -> set[tuple[str, ...]]:
        words = doc.text.lower().split()
        return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}

    a, b = shingles(original), shingles(rewrite)
    assert len(a & b) / len(a | b) < 0.1


def test_headings_over_old_content_are_not_new_sections(original: Document, rewrite: Document) -> None:
    headings = {s.heading for s in compare(original, rewrite).new_sections}
    assert "New Defense Collaborations" not in headings
    assert "U.S.-Japan Military Revamp Underway" not in headings


def test_hard_negative_same_minister_different_event_is_not_merged(original: Document) -> None:
    manila = parse_plain_text((EVALUATION_TEXTS / "hegseth_manila_visit.txt").read_text("utf-8"))
    assert not compare(original, manila).same_story
    assert not compare(manila, original).same_story


def test_third_outlet_repeating_the_rewrites_addition_adds_nothing_to_the_story(original: Document, rewrite: Document) -> None:
    third = parse_plain_text((TEXTS / "third_outlet_repeat.txt").read_text("utf-8"))
    against_original = compare(original, third)
    assert against_original.new_sections, "against the original alone, the Signal material is new"
    against_story = compare_to_story([original, rewrite], third)
    assert against_story.same_story
    assert against_story.new_sections == []


def test_small_edit_of_a_figure_is_reported_as_changed_not_new() -> None:
    old = parse_plain_text("The storm killed 12 people in the coastal province of Quang Ngai on Monday, officials said.\n"
                           "Rescue teams reached the flooded villages of Binh Son district by boat late on Monday night.")
    new = parse_plain_text("The storm killed 15 people in the coastal province of Quang Ngai on Monday, officials said.\n"
                           "Rescue teams reached the flooded villages of Binh Son district by boat late on Monday night.")
    result = compare(old, new)
    assert result.new_sentences == []
    assert [(c.old[:22], c.new[:22]) for c in result.changed_sentences] == [("The storm killed 12 pe", "The storm killed 15 pe")]


def test_compare_json_shape(original: Document, rewrite: Document) -> None:
    data = json.loads(json.dumps(compare(original, rewrite).to_json()))
    assert set(data) >= {"same_story", "score", "new_sections", "new_sentences", "changed_sentences"}
    assert isinstance(data["same_story"], bool) and 0.0 <= data["score"] <= 1.0
    assert data["new_sections"][0]["heading"] == SIGNAL and isinstance(data["new_sections"][0]["paragraphs"], list)
    assert all(isinstance(s, str) for s in data["new_sentences"])
    assert all(set(c) == {"old", "new"} for c in data["changed_sentences"])


def test_new_sentences_are_verbatim_from_new(original: Document, rewrite: Document) -> None:
    text = " ".join(b.text for b in rewrite.blocks)
    for sentence in compare(original, rewrite).new_sentences:
        assert sentence in text


def test_signature_terms_prefer_names_and_numbers(original: Document) -> None:
    terms = signature_terms(original.text, limit=20)
    assert "nakatani" in terms and "hegseth" in terms
    assert "the" not in terms


def test_empty_documents_are_not_the_same_story() -> None:
    assert not compare(Document.from_blocks([]), parse_plain_text("Something happened today in the city.")).same_story


def test_the_sentence_model_is_asked_only_about_sentences_the_words_leave_unsettled(original: Document, rewrite: Document) -> None:
    """Sentences the words settle (a copied quote, most of their terms found) never reach the model."""
    from textdelta import Thresholds

    asked: list[str] = []

    class EverythingSimilar:
        def embed(self, texts):  # type: ignore[no-untyped-def]
            import numpy as np

            asked.extend(texts)
            return np.ones((len(texts), 4), dtype=np.float32) / 2.0  # every cosine 1.0

    th = Thresholds()
    plain = compare(original, rewrite, th)
    helped = compare(original, rewrite, th, semantic=EverythingSimilar())
    coverage = {a.new: a.coverage for a in plain.alignments}
    new_asked = [s for s in asked if s in coverage]
    assert new_asked, "some seed sentences are left unsettled by the words"
    assert all(coverage[s] < th.settled for s in new_asked), "sentences the words settle are never sent to the model"
    assert set(helped.new_sentences) <= set(plain.new_sentences)


@cache
def _embedder():  # type: ignore[no-untyped-def]
    from textdelta.semantic import default_embedder

    return default_embedder()


@cache
def _cases() -> dict:  # type: ignore[type-arg]
    """The evaluation's labelled cases by id (each hand-written case is named after its file)."""
    from newsdelta.evaluation import load_cases

    return {case.id: case for case in load_cases()}


def _handwritten(name: str) -> tuple[Document, Document]:
    case = _cases()[name]
    return case.old, case.new


def test_rematch_between_the_same_teams_is_another_event_even_though_it_cites_the_first() -> None:
    """The cup tie names the league game's players and its red card; its lede puts the event
    on another day, so the score is discounted below the threshold."""
    old, new = _handwritten("derby_hard_negative")
    result = compare(old, new)
    assert result.lede_differs and not result.same_story


def test_later_event_whose_lede_restates_nothing_is_not_merged() -> None:
    old, new = _handwritten("blaze_hard_negative")  # a second fire in the same city that day
    result = compare(old, new)
    assert result.lede_differs and not result.same_story


def test_paraphrased_lede_with_yesterday_for_the_weekday_is_still_the_same_story() -> None:
    old, new = _handwritten("strike_rewrite_plain")
    result = compare(old, new)
    assert not result.lede_differs and result.same_story and result.new_sentences == []


# Hand-written cases the matcher still gets wrong (newsdelta evaluate lists them): strict, so a
# fix shows up as a failure to be moved out of this list.
KNOWN_WRONG_VERDICTS = {
    "energy_follow_up_1": "phase two begins a year after phase one's grid connection; without the date the ledes read as one event",
    "politics_heavy_added_section_1": "a feature-style lede (the crowd outside) that neither words nor meaning tie to the vote",
    "technology_independent_report_1": "a feature-style lede (queues at a recruitment fair) read as another event",
    # The held-out cases, written after the rules were chosen: two independent reports whose own
    # ledes (the invoices that were never for real work; a passenger's view of the landing) and
    # details restate little. With publication times a few hours apart both join their story.
    "courts_independent_report_h18": "a scene-setting lede and its own details: restated share 0.40, lede read as another event",
    "transport_independent_report_h17": "its own lede and details: restated share 0.29, lede read as another event",
}


@pytest.mark.parametrize("name", [
    pytest.param(p.stem, marks=pytest.mark.xfail(reason=KNOWN_WRONG_VERDICTS[p.stem], strict=True)) if p.stem in KNOWN_WRONG_VERDICTS else p.stem
    for p in sorted(HANDWRITTEN.glob("*.txt"))])
def test_every_hand_written_case_gets_its_labelled_verdict(name: str) -> None:
    case = _cases()[name]
    assert compare(case.old, case.new, semantic=_embedder()).same_story == case.same_story


# With the publication gap the texts imply, as the pipeline judges (see the cases' README).
KNOWN_WRONG_DATED = {
    "technology_independent_report_1": "the two tellings' sentence vectors average to cosine 0.65: the fair's scene dominates one of them",
    "politics_medium_1": "the minister's resignation three days after she refused to quit, labelled one story: it restates too "
                         "little of the first report for a telling published days later",
}


@pytest.mark.parametrize("name", [
    pytest.param(p.stem, marks=pytest.mark.xfail(reason=KNOWN_WRONG_DATED[p.stem], strict=True)) if p.stem in KNOWN_WRONG_DATED else p.stem
    for p in sorted(HANDWRITTEN.glob("*.txt")) if "days_apart:" in p.read_text("utf-8")])
def test_every_dated_hand_written_case_gets_its_labelled_verdict_given_its_publication_gap(name: str) -> None:
    case = _cases()[name]
    assert case.days_apart is not None
    assert compare_to_story([case.old], case.new, semantic=_embedder(), days_apart=case.days_apart).same_story == case.same_story


def test_japanese_and_chinese_text_is_split_at_full_width_stops() -> None:
    assert split_sentences("防衛相は東京で会談した。「協力を強化する」と述べた。中国は反発した！") == [
        "防衛相は東京で会談した。", "「協力を強化する」と述べた。", "中国は反発した！"]
    assert split_sentences("他说：“我们会合作。”双方同意。") == ["他说：“我们会合作。”", "双方同意。"]


def test_a_sentence_added_inside_a_japanese_paragraph_is_the_only_new_one() -> None:
    old = parse_plain_text("ヘグセス米国防長官は東京で中谷防衛相と会談し、在日米軍の司令部機能を強化する計画を発表した。"
                           "両氏は南西諸島での共同訓練を拡大することでも合意した。")
    added = "中国外務省はこの発表について、まだ声明を出していない。"
    new = parse_plain_text("ヘグセス米国防長官は東京で中谷防衛相と会談し、在日米軍の司令部機能を強化する計画を発表した。"
                           "両氏は南西諸島での共同訓練を拡大することでも合意した。" + added)
    result = compare(old, new)
    assert result.same_story
    assert result.new_sentences == [added]


def _statuses(old: list[str], new: list[str]) -> list[tuple[str, str]]:
    result = compare(Document.from_blocks([Block("paragraph", p) for p in old]), Document.from_blocks([Block("paragraph", p) for p in new]))
    return [(a.new, a.status) for a in result.alignments]


def test_a_sentence_without_content_words_is_old_when_the_old_text_has_it_verbatim() -> None:
    old = ["The council voted to close the Harlow Road library in March. Why? The building needs repairs costing 2 million pounds."]
    statuses = _statuses(old, [old[0], "Residents kept asking. Why? Nobody at the council would say."])
    assert statuses == [
        ("The council voted to close the Harlow Road library in March.", "old"),
        ("Why?", "old"),  # the copy in the old paragraph takes the old "Why?"...
        ("The building needs repairs costing 2 million pounds.", "old"),
        ("Residents kept asking.", "new"),
        ("Why?", "new"),  # ...so the second one has nothing left to restate
        ("Nobody at the council would say.", "new"),
    ]


def test_an_old_sentence_goes_to_its_exact_copy_not_to_an_earlier_question_with_the_same_words() -> None:
    old = ["Tourists queue at the new oxygen bar in Delhi. There is an oxygen bar in Delhi."]
    new = ["Is there an oxygen bar in Delhi? Tourists queue at the new oxygen bar in Delhi. There is an oxygen bar in Delhi."]
    assert _statuses(old, new) == [
        ("Is there an oxygen bar in Delhi?", "new"),  # the same terms, but not the same sentence
        ("Tourists queue at the new oxygen bar in Delhi.", "old"),
        ("There is an oxygen bar in Delhi.", "old"),
    ]


def test_clear_caches_forgets_analysed_sentences_so_benchmarks_can_time_a_cold_start() -> None:
    from textdelta import terms
    from textdelta.align import make_sentence

    text = "Rescuers reached the village by boat."
    compare(parse_plain_text("Rescuers reached the flooded village on Monday."), parse_plain_text(text))
    read = make_sentence(text, 0, 0)
    assert make_sentence(text, 1, 0).terms is read.terms, "a sentence met again is not analysed again"
    assert terms.analyse.cache_info().currsize > 0
    clear_caches()
    assert terms.analyse.cache_info().currsize == 0
    assert make_sentence(text, 0, 0).terms is not read.terms, "after clear_caches it is analysed afresh"


def _reference_match(pool_sentences: list, sentence, exclude: frozenset[int]):  # type: ignore[no-untyped-def]
    """OldPool.match as first written: every old sentence indexed on its own."""
    import heapq
    from itertools import combinations

    from textdelta.align import CANDIDATES, Match

    def shared_symmetric(a, b) -> float:  # type: ignore[no-untyped-def]
        return sum(min(w, b.terms[t]) for t, w in a.terms.items() if t in b.terms)

    total = sentence.weight
    shared: dict[int, float] = {}
    for term, w in sentence.terms.items():
        for i, old in enumerate(pool_sentences):
            if term in old.terms and i not in exclude:
                shared[i] = shared.get(i, 0.0) + w
    if not shared:
        return None
    # insertion order of the original: by first shared term, then position in the pool
    order = {i: (min(k for k, t in enumerate(sentence.terms) if t in pool_sentences[i].terms), i) for i in shared}
    ranked = heapq.nlargest(CANDIDATES, sorted(shared, key=order.__getitem__), key=shared.__getitem__)
    tied = [i for i in ranked if shared[i] == shared[ranked[0]]]
    dices = {i: 2 * shared_symmetric(sentence, pool_sentences[i]) / (total + pool_sentences[i].weight) for i in tied}
    best = max(tied, key=dices.__getitem__)
    best_cov, chosen = shared[best] / total, (best,)
    for a, b in combinations(ranked, 2):
        cov = sum(w for t, w in sentence.terms.items() if t in pool_sentences[a].terms or t in pool_sentences[b].terms) / total
        if cov > best_cov + 0.1 and min(shared[a], shared[b]) / total >= 0.2:
            best_cov, chosen = cov, (a, b)
    return Match(best_cov, dices[best], chosen, False)


def test_an_old_pool_with_repeated_sentences_matches_as_if_each_copy_were_indexed_alone() -> None:
    """The pool indexes copies of one text once (a story of wire copies); which old sentences
    explain a new one, ties and exclusions included, must not change because of that."""
    import random

    from textdelta.align import OldPool, make_sentence

    rng = random.Random(11)
    words = "Mayor Lindqvist harbour council vote dredging Westbury budget ferry strike union court ruling 4.75% Tuesday".split()
    texts = [" ".join(rng.sample(words, rng.randint(3, 8))) + "." for _ in range(12)]
    for trial in range(200):
        old = [make_sentence(rng.choice(texts), b, rng.randrange(3)) for b in range(rng.randint(3, 20))]
        pool = OldPool(old)
        new = make_sentence(" ".join(rng.sample(words, rng.randint(2, 9))) + ".", 0, 0)
        exclude = frozenset(rng.sample(range(len(old)), rng.randint(0, len(old) // 2)))
        got = pool.match(new, exclude)
        want = _reference_match(old, new, exclude)
        assert (got.coverage, got.dice, got.old) == ((want.coverage, want.dice, want.old) if want else (0.0, 0.0, ())), trial
