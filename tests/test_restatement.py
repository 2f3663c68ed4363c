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


QUAKE = """Landslides kill 12 in Corvale hills
At least 12 people were killed and 20 are missing after heavy rain set off landslides in the hill villages of Corvale province, emergency officials said on Tuesday.
Rescue teams were digging by hand because heavy machinery could not reach the villages.
"""


def test_a_reworded_sentence_giving_another_value_of_its_figure_is_an_update() -> None:
    # Reordered around the figures, so fewer of its words are the old sentence's than a small
    # edit keeps; close in meaning all the same.
    new = QUAKE.replace(
        "At least 12 people were killed and 20 are missing after heavy rain set off landslides in the hill villages of Corvale province, emergency officials said on Tuesday.",
        "At least 19 people have been killed and 11 remain missing after landslides triggered by heavy rain in Corvale province's hill villages, officials said on Wednesday.",
    )
    result = compare(parse_plain_text(QUAKE), parse_plain_text(new), semantic=default_embedder())
    lede = next(a for a in result.alignments if a.new.startswith("At least 19"))
    assert lede.status == "changed" and lede.cosine is not None
    assert [u["new"] for u in result.to_json()["updated_sentences"]] == [lede.new]
    assert [p for s in result.new_sections for p in s.paragraphs] == [new.splitlines()[1]]


def test_the_same_figure_written_another_way_is_no_update() -> None:
    new = QUAKE.replace("At least 12 people were killed and 20 are missing", "Twenty people are missing and at least 12 have been killed")
    result = compare(parse_plain_text(QUAKE), parse_plain_text(new), semantic=default_embedder())
    assert result.to_json()["updated_sentences"] == []
    assert result.new_sections == []


def test_a_figure_in_another_unit_than_the_old_sentence_uses_is_an_addition_not_an_update() -> None:
    from textdelta.align import make_sentence, updates_figure

    old = make_sentence("Rescuers reached the village after a 12-kilometre climb.", 0, 0)
    assert not updates_figure(make_sentence("Rescuers reached the village after a 12-kilometre climb lasting 15 hours.", 0, 0), old)
    assert updates_figure(make_sentence("Rescuers reached the village after a 15-kilometre climb.", 0, 0), old)
    # A year is a date, not an amount whose value a later report revises.
    assert not updates_figure(make_sentence("In 2019 it cost 40 euros.", 0, 0), make_sentence("In 2018 it cost 40 euros.", 0, 0))


def test_a_figure_converted_by_hand_or_added_beside_the_old_ones_is_no_update() -> None:
    from textdelta.align import make_sentence, updates_figure

    def updates(new: str, old: str) -> bool:
        return updates_figure(make_sentence(new, 0, 0), make_sentence(old, 0, 0))

    assert not updates("Troops deployed along its 3,000-km archipelago.", "Troops deployed along a 1,900-mile archipelago.")
    assert not updates("Twelve were killed and 30 injured in the blast.", "12 were killed in the blast.".replace("12", "Twelve"))
    assert not updates("12 were killed and 30 injured in the blast.", "12 were killed in the blast."), "a count added, none replaced"
    assert updates("About 26,500 hectares were under water, up from 18,000 hectares on Monday.", "About 18,000 hectares were under water.")
    # Counts that look like years are counts: "2,040 killed" is no date.
    assert updates("At least 2,040 were killed and 1,900 are missing.", "At least 1,850 were killed and 2,000 are missing.")


def test_an_update_the_words_settle_is_an_update_without_asking_the_model() -> None:
    new = QUAKE.replace(
        "At least 12 people were killed and 20 are missing after heavy rain set off landslides in the hill villages of Corvale province, emergency officials said on Tuesday.",
        "At least 19 people were killed after heavy rain set off landslides in Corvale province, emergency officials said.",
    )  # shorter than the old sentence: most of its words are the old one's, but not most of the old one's are its own
    result = compare(parse_plain_text(QUAKE), parse_plain_text(new), semantic=default_embedder())
    lede = next(a for a in result.alignments if a.new.startswith("At least 19"))
    assert lede.cosine is None and lede.status == "changed"
    assert [u["new"] for u in result.to_json()["updated_sentences"]] == [lede.new]
