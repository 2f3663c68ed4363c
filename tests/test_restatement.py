"""Restatement judged by meaning: a sentence that names no one, no figure and no day the story
has not named, and is close in meaning to one of its sentences, says nothing new; a new fact
about the same people brings a name, a figure or a day of its own. Texts written for these tests."""

from __future__ import annotations

from textdelta import compare, parse_plain_text
from textdelta.semantic import default_embedder

OLD = """Greyhaven Bank offshore wind farm wins approval
The government on Wednesday approved the Greyhaven Bank offshore wind farm, a project to be built off the Selwick coast by a consortium led by Norhavn Energy.
Energy Secretary Tobias Wren said it was the biggest single step the country had taken towards a clean grid.
Fishing organisations had opposed the scheme, arguing it would close traditional grounds for crab and lobster.
The decision follows a planning inquiry that lasted more than a year.
"""

NEW = """Ministers back Greyhaven Bank wind project
Ministers gave consent on Wednesday for Greyhaven Bank, a wind development to be sited at sea off the Selwick shoreline. Norhavn Energy heads the group behind it.
A long public examination of the plans preceded the ruling.
Fishing groups fought the plan, saying crabbers and lobster boats would lose grounds they had always worked.
Lorna Keane of the Selwick Fishermen's Association said her members would seek a judicial review of the consent.
"""


def test_a_paraphrase_naming_nothing_new_is_old_and_a_new_fact_with_a_new_name_is_new() -> None:
    result = compare(parse_plain_text(OLD), parse_plain_text(NEW), semantic=default_embedder())
    status = {a.new: a for a in result.alignments}
    fishing = status["Fishing groups fought the plan, saying crabbers and lobster boats would lose grounds they had always worked."]
    assert fishing.status == "old" and fishing.cosine is not None and fishing.coverage + fishing.cosine < 1.0, \
        "restated by meaning where words and meaning together fall short of the general bar"
    assert [p for s in result.new_sections for p in s.paragraphs] == [NEW.splitlines()[-1]]


def test_the_same_sentence_with_a_figure_the_story_never_stated_is_not_settled_by_this_rule() -> None:
    new = NEW.replace("would lose grounds they had always worked", "would lose 40 percent of the grounds they had always worked")
    result = compare(parse_plain_text(OLD), parse_plain_text(new), semantic=default_embedder())
    fishing = next(a for a in result.alignments if a.new.startswith("Fishing groups"))
    assert fishing.status == "new"
