"""Evaluation of story matching and new-paragraph detection, as a script anyone can rerun:
`newsdelta evaluate [--json] [--fit]`.

Data, shipped with the package (`data/`): the seeds (newsdelta/seeds/texts), hand-written
cases (`data/handwritten`) and cases generated from real articles (`data/generated.jsonl`,
built by scripts/build_labelled.py). Every case has a split; thresholds are fitted on "fit"
only (`--fit`), and the figures to quote are "test". The "holdout" split was written later, by
someone who had not seen the method, after the rules were chosen: it is what the rules do on
paraphrases nobody fitted them to.

A paragraph counts as reported new when most of its characters are in `new_sentences`.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from newsdelta.seeds import seed_text
from textdelta import Comparison, Document, Thresholds, compare, compare_to_story, parse_plain_text
from textdelta.blocks import Block
from textdelta.compare import default_thresholds
from textdelta.semantic import Embedder

DATA = resources.files(__name__) / "data"


@dataclass
class Case:
    id: str
    kind: str
    split: str
    same_story: bool
    old: Document
    new: Document
    new_paragraphs: set[int] | None = field(default_factory=set)  # indices among `new`'s paragraphs; None: not labelled
    group: str = ""  # what kind of telling, for reporting: see group_of
    ignore: set[int] = field(default_factory=set)  # paragraphs not scored (a figure updated inside a longer paragraph)
    days_apart: float | None = None  # NEW's publication after OLD's, as the texts' own chronology places it; None: they do not say

    def __post_init__(self) -> None:
        self.group = self.group or group_of(self.kind, overlap(self.old, self.new))


GROUPS = ("heavy", "medium", "light", "update", "verbatim", "independent", "hard_negative", "follow_up", "unrelated", "seeds")


def group_of(kind: str, shared_5grams: float) -> str:
    """Report groups: tellings by how much wording they share with the old text (heavy
    paraphrase shares at most 5% of its word 5-grams), and the kinds that are groups of their own."""
    if kind in ("independent_report", "hard_negative", "follow_up", "unrelated", "update", "seeds"):
        return {"independent_report": "independent"}.get(kind, kind)
    if kind.startswith("version_"):
        return "verbatim"  # generated: the old text plus inserted or edited paragraphs
    if shared_5grams <= 0.05:
        return "heavy"
    return "medium" if shared_5grams <= 0.5 else "light"


def overlap(old: Document, new: Document) -> float:
    """Share of NEW's word 5-grams that also occur in OLD."""
    def grams(doc: Document) -> list[tuple[str, ...]]:
        words = re.findall(r"[\w']+", " ".join(b.text for b in doc.blocks).lower())
        return [tuple(words[i : i + 5]) for i in range(len(words) - 4)]

    theirs, ours = set(grams(old)), grams(new)
    return sum(g in theirs for g in ours) / len(ours) if ours else 0.0


def load_cases(data: Traversable = DATA) -> list[Case]:
    old = parse_plain_text(seed_text("000_"))
    new = parse_plain_text(seed_text("002_"))
    paragraphs = [b.text for b in new.blocks if b.kind == "paragraph"]
    signal = {i for i, p in enumerate(paragraphs) if i >= len(paragraphs) - 3}
    cases = [Case("seeds", "seeds", "test", True, old, new, signal)]
    handwritten = sorted((e for e in (data / "handwritten").iterdir() if e.name.endswith(".txt")), key=lambda e: e.name)
    cases += [_handwritten(entry.name.removesuffix(".txt"), entry.read_text("utf-8")) for entry in handwritten]
    manila = parse_plain_text((data / "texts" / "hegseth_manila_visit.txt").read_text("utf-8"))
    cases.append(Case("seeds_manila_hard_negative", "hard_negative", "test", False, old, manila))
    for line in (data / "generated.jsonl").read_text("utf-8").splitlines():
        raw = json.loads(line)
        cases.append(Case(raw["id"], raw["kind"], raw["split"], raw["same_story"], _paragraph_doc(raw["old"]),
                          _paragraph_doc(raw["new"]), None if raw["new_paragraphs"] is None else set(raw["new_paragraphs"]),
                          ignore=set(raw.get("ignore_paragraphs", ()))))
    return cases


def _paragraph_doc(paragraphs: list[str]) -> Document:
    return Document.from_blocks([Block("paragraph", p) for p in paragraphs])


def _handwritten(name: str, text: str) -> Case:
    header, _, rest = text.partition("--- old\n")
    old_text, _, new_text = rest.partition("--- new\n")
    meta = dict(line.split(": ", 1) for line in header.strip().splitlines())
    marked = []
    lines = []
    for line in new_text.splitlines():
        if line.startswith(("+ ", "~ ")):  # new material; "~": an update superseding a figure, also new
            line = line[2:]
            marked.append(line.strip())
        lines.append(line)
    new = parse_plain_text("\n".join(lines))
    paragraphs = [b.text for b in new.blocks if b.kind == "paragraph"]
    return Case(name, meta["kind"], meta["split"], meta["same_story"] == "yes", parse_plain_text(old_text), new,
                {i for i, p in enumerate(paragraphs) if p in marked},
                days_apart=float(meta["days_apart"]) if "days_apart" in meta else None)


def reported_new_paragraphs(doc: Document, result: Comparison) -> set[int]:
    """The paragraphs (indices among `doc`'s) that the comparison reports new: those of its new
    sections, which is what a finding quotes and an alert sends."""
    reported = {p for section in result.new_sections for p in section.paragraphs}
    return {i for i, text in enumerate(b.text for b in doc.blocks if b.kind == "paragraph") if text in reported}


@dataclass
class Scores:
    cases: int = 0
    same_correct: int = 0
    hard_negatives: int = 0
    hard_negatives_merged: int = 0
    negatives_merged: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    sentences: int = 0  # sentences of labelled positives, each labelled by its paragraph
    sentences_correct: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def sentence_accuracy(self) -> float:
        return self.sentences_correct / self.sentences if self.sentences else 1.0

    @property
    def accuracy(self) -> float:
        return self.same_correct / self.cases if self.cases else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "same_story_accuracy": round(self.accuracy, 4),
                "hard_negatives": self.hard_negatives, "hard_negatives_merged": self.hard_negatives_merged,
                "negatives_merged": self.negatives_merged,
                "new_paragraph_precision": round(self.precision, 4), "new_paragraph_recall": round(self.recall, 4),
                "new_paragraph_f1": round(self.f1, 4), "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "sentences": self.sentences, "sentence_accuracy": round(self.sentence_accuracy, 4)}


def score(cases: list[Case], thresholds: Thresholds, semantic: Embedder | None = None, dated: bool = False) -> Scores:
    """`dated`: give the comparison each case's publication gap where the texts tell it, as the
    pipeline knows it from the feeds (otherwise the text alone, as `newsdelta compare` judges)."""
    s = Scores()
    for case in cases:
        if dated:
            result = compare_to_story([case.old], case.new, thresholds, semantic, days_apart=case.days_apart)
        else:
            result = compare(case.old, case.new, thresholds, semantic)
        s.cases += 1
        if result.same_story == case.same_story:
            s.same_correct += 1
        else:
            s.misses.append(f"{case.id}: same_story={result.same_story} (score {result.score:.2f})")
        if not case.same_story:
            s.negatives_merged += result.same_story
            if case.kind == "hard_negative":
                s.hard_negatives += 1
                s.hard_negatives_merged += result.same_story
            continue
        if case.new_paragraphs is None:
            continue
        paragraphs = [b.text for b in case.new.blocks if b.kind == "paragraph"]
        for a in result.alignments:
            home = next((i for i, p in enumerate(paragraphs) if a.new in p), None)
            s.sentences += 1
            s.sentences_correct += (a.status == "new") == (home in case.new_paragraphs)
        predicted = reported_new_paragraphs(case.new, result)
        predicted -= case.ignore
        s.tp += len(predicted & case.new_paragraphs)
        s.fp += len(predicted - case.new_paragraphs)
        s.fn += len(case.new_paragraphs - predicted)
        if predicted != case.new_paragraphs:
            s.misses.append(f"{case.id}: new paragraphs {sorted(predicted)} expected {sorted(case.new_paragraphs)}")
    return s


# Alignment (words) stays as fitted on verbatim and lightly edited text; the grid is over what
# the sentence model and the lede decide.
GRID = {"semantic": [0.9, 1.0, 1.1], "lede": [0.5, 0.4, 0.3, 0.2], "lede_meaning": [0.45, 0.5, 0.55]}


def fit(cases: list[Case], semantic: Embedder | None = None) -> tuple[Thresholds, Scores]:
    """Fit on the "fit" split. For each setting of the grid, the same-story cut that misjudges
    the fewest cases (see _best_threshold). Preferred: fewest misjudged, then the best
    new-paragraph F1, with the hand-written cases (paraphrases, independent reports, hard
    negatives) weighing as much as the many generated verbatim ones, then the widest gap."""
    best: tuple[tuple[float, float, float], Thresholds] | None = None
    written = [c for c in cases if c.group not in ("verbatim", "unrelated")]
    generated = [c for c in cases if c.group in ("verbatim", "unrelated")]
    settings = itertools.product(GRID["semantic"], GRID["lede"], GRID["lede_meaning"]) if semantic else [(1.0, lede, 0.5) for lede in GRID["lede"]]
    for cut, lede, meaning in settings:
        th = replace(Thresholds(), semantic=cut, lede=lede, lede_meaning=meaning)
        scored = [(c.same_story, compare(c.old, c.new, th, semantic).score) for c in written + generated]
        threshold, wrong, margin = _best_threshold(scored)
        th = replace(th, same_story=threshold)
        f1 = (score(written, th, semantic).f1 + score(generated, th, semantic).f1) / 2
        key = (-wrong, round(f1, 3), round(margin, 3))
        if best is None or key > best[0]:
            best = (key, th)
    assert best is not None
    return best[1], score(cases, best[1], semantic)


def _best_threshold(scored: list[tuple[bool, float]]) -> tuple[float, int, float]:
    """The cut (a score at or above it is the same story) that misjudges the fewest cases,
    placed in the middle of the gap between two neighbouring scores; of equally good gaps, the
    widest. Returns the cut, the cases it misjudges and the gap's width."""
    values = sorted({x for _, x in scored})
    gaps = [(values[i] + values[i + 1]) / 2 for i in range(len(values) - 1)] or [0.5]
    best: tuple[int, float, float] | None = None
    for i, cut in enumerate(gaps):
        wrong = sum((x >= cut) != same for same, x in scored)
        width = values[i + 1] - values[i] if len(values) > 1 else 0.0
        if best is None or (wrong, -width) < (best[0], -best[2]):
            best = (wrong, cut, width)
    assert best is not None
    return round(best[1], 3), best[0], best[2]


def main(as_json: bool = False, fit_thresholds: bool = False, semantic: Embedder | None = None, grouping: bool = True,
         **kwargs: Any) -> dict[str, Any]:
    fit_thresholds = fit_thresholds or kwargs.get("fit", False)
    cases = load_cases()
    thresholds = default_thresholds(semantic)
    report: dict[str, Any] = {}
    if fit_thresholds:
        fit_cases = [c for c in cases if c.split == "fit"]
        thresholds, fitted = fit(fit_cases, semantic)
        report["fitted_thresholds"] = {"semantic": thresholds.semantic, "lede": thresholds.lede,
                                       "lede_meaning": thresholds.lede_meaning, "same_story": thresholds.same_story}
        report["fit_story_scores"] = {
            "lowest_positive": round(min(compare(c.old, c.new, thresholds, semantic).score for c in fit_cases if c.same_story), 3),
            "highest_negative": round(max(compare(c.old, c.new, thresholds, semantic).score for c in fit_cases if not c.same_story), 3),
        }
        report["fit"] = fitted.as_dict()
    report["thresholds"] = {"aligned": thresholds.aligned, "gap": thresholds.gap, "lede": thresholds.lede,
                            "same_story": thresholds.same_story,
                            "changed": thresholds.changed, "new_paragraph": thresholds.new_paragraph,
                            **({"semantic": thresholds.semantic, "semantic_alone": thresholds.semantic_alone,
                                "lede_meaning": thresholds.lede_meaning, "fact_meaning": thresholds.fact_meaning,
                                "known_meaning": thresholds.known_meaning} if semantic is not None else {})}
    seeds = [c for c in cases if c.id == "seeds"]
    report["semantic"] = semantic is not None
    report["seeds"] = score(seeds, thresholds, semantic).as_dict()
    for split in ("test", "holdout"):
        chosen = [c for c in cases if c.split == split]
        if chosen:
            scores = score(chosen, thresholds, semantic)
            report[split] = scores.as_dict()
            report[f"{split}_by_kind"] = {group: score([c for c in chosen if c.group == group], thresholds, semantic).as_dict()
                                          for group in GROUPS if any(c.group == group for c in chosen)}
            report[f"{split}_misses"] = scores.misses[:30]
            dated = score(chosen, thresholds, semantic, dated=True)
            report[f"{split}_dated"] = dated.as_dict()
            report[f"{split}_dated_by_kind"] = {
                group: score([c for c in chosen if c.group == group], thresholds, semantic, dated=True).as_dict()
                for group in GROUPS if any(c.group == group for c in chosen if c.days_apart is not None)}
            report[f"{split}_dated_cases"] = sum(c.days_apart is not None for c in chosen)
            undated = {_miss_key(m) for m in scores.misses}  # the same miss at another score is no new one
            report[f"{split}_dated_misses"] = [m for m in dated.misses if _miss_key(m) not in undated][:30]
    if grouping:
        from newsdelta.evaluation import grouping as story_grouping

        items = story_grouping.read_set(Path(str(DATA / "grouping")))
        report["grouping"] = story_grouping.summary(story_grouping.evaluate(items, None, semantic is not None))
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    return report


def _miss_key(miss: str) -> str:
    return miss.split(" (score")[0]


def _print(report: dict[str, Any]) -> None:
    if "fitted_thresholds" in report:
        print(f"fitted on the 'fit' split: {report['fitted_thresholds']}  story scores on fit: {report['fit_story_scores']}")
        print(f"fit  : {_line(report['fit'])}")
    print(f"thresholds: {report['thresholds']}{'  (sentence model on)' if report.get('semantic') else '  (words only)'}")
    print(f"seeds: {_line(report['seeds'])}")
    print(f"test : {_line(report['test'])}")
    for kind, s in report["test_by_kind"].items():
        print(f"  {kind:<15} {_line(s)}")
    if "holdout" in report:
        print(f"holdout: {_line(report['holdout'])}")
        for kind, s in report["holdout_by_kind"].items():
            print(f"  {kind:<15} {_line(s)}")
    for split in ("test", "holdout"):
        if f"{split}_dated" not in report:
            continue
        print(f"{split} with publication gaps, as the pipeline judges ({report[f'{split}_dated_cases']} hand-written cases dated "
              f"by their texts; the others and the generated ones as above): {_line(report[f'{split}_dated'])}")
        for kind, s in report[f"{split}_dated_by_kind"].items():
            if kind not in ("verbatim", "unrelated", "seeds"):
                print(f"  {kind:<15} {_line(s)}")
    if "grouping" in report:
        g = report["grouping"]
        print(f"story grouping through the pipeline ({g['articles']} articles, {g['events']} events): {g['stories']} stories, "
              f"pairwise P {g['pairwise_precision']:.3f} R {g['pairwise_recall']:.3f}, ARI {g['ari']:.3f}, "
              f"stories holding several events {g['stories_holding_several_events']}, candidate retrieval recall "
              f"{g['candidate_retrieval_recall']}")
    for split in ("test", "holdout"):
        if report.get(f"{split}_misses"):
            print(f"misses on {split}:")
            for miss in report[f"{split}_misses"]:
                print(f"  {miss}")
        if report.get(f"{split}_dated_misses"):
            print(f"misses on {split} with publication gaps only:")
            for miss in report[f"{split}_dated_misses"]:
                print(f"  {miss}")


def _line(s: dict[str, Any]) -> str:
    return (f"{s['cases']} cases, same-story accuracy {s['same_story_accuracy']:.3f}, hard negatives merged "
            f"{s['hard_negatives_merged']}/{s['hard_negatives']}, new paragraphs P {s['new_paragraph_precision']:.3f} "
            f"R {s['new_paragraph_recall']:.3f} F1 {s['new_paragraph_f1']:.3f}, sentences right {s['sentence_accuracy']:.3f} of {s['sentences']}")
