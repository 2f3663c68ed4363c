"""Figures written differently are the same figure; a number spelled out that changes is an
update. Sentences and cases written for these tests."""

from __future__ import annotations

import pytest

from textdelta import compare, parse_plain_text
from textdelta.figures import counts, figures
from textdelta.normalize import normalize_text
from textdelta.semantic import default_embedder


def read(text: str) -> frozenset[str]:
    return figures(normalize_text(text))


@pytest.mark.parametrize(("one", "other"), [
    ("a 1,200-megawatt wind farm", "a 1.2GW wind farm"),
    ("it can store 1,600 megawatt-hours", "it holds 1.6 gigawatt-hours"),
    ("the cost is 3.6 billion pounds", "the cost is £3.6bn"),
    ("a 20 million pound fund", "a £20m fund"),
    ("blade tips 260 metres above the sea", "blade tips some 850ft above the sea"),
    ("35 kilometres off the coast", "roughly 22 miles off the coast"),
    ("the rocket lifted off at 06:12", "liftoff came at 6.12am"),
    ("the 1,150-kilogram probe", "the 1.15-tonne probe"),
    ("it levelled off at 16,000 ft", "it levelled off at FL160"),
    ("about one million homes", "roughly a million households"),
    ("accurate to 3cm", "accurate to three centimetres"),
    ("winds of 137km/h", "winds of 85mph"),
    ("about 420 degrees Celsius", "around 420 C"),
    ("up 6 per cent", "up 6%"),
    ("at 3 p.m. local time", "at 15:00 local time"),
    ("at noon, 12 pm", "at noon, 12:00"),
    ("shortly after 12.30am", "shortly after 00:30"),
])
def test_one_figure_in_two_forms(one: str, other: str) -> None:
    assert read(one) and read(one) == read(other)


@pytest.mark.parametrize(("one", "other"), [
    ("12 people were killed", "19 people were killed"),
    ("rates rose to 4.75%", "rates rose to 5%"),
    ("a 1,200-megawatt farm", "a 1,500-megawatt farm"),
    ("at 06:12", "at 18:12"),
    ("£20m", "$20bn"),
])
def test_different_figures_stay_different(one: str, other: str) -> None:
    assert read(one) != read(other)


def test_what_is_not_a_figure() -> None:
    assert read("three days later, two of them left") == frozenset()  # spelled-out counts without a unit
    assert read("Westbury won 2-1") == frozenset()  # single digits: scores and list numbers
    assert read("a 20m-high wave") == {"#20m"} and read("20m people") == {"#20000000"}  # metres only where a size follows


def test_counts_read_spelled_out_and_vague_numbers() -> None:
    assert counts(normalize_text("Six people were treated")) == {"#6"}
    assert counts(normalize_text("Hundreds of fish died")) == {"#hundreds"}
    assert counts(normalize_text("accurate to three centimetres")) == {"#0.03m"}  # the figure, not also "three"


OLD = """Diesel spill kills fish in River Wenlow
Hundreds of fish have died after diesel leaked into the River Wenlow from a damaged tank at a farm near Kirkby Mere, the Environment Agency said.
Six people who had been swimming downstream were treated for skin irritation, though none needed hospital care.
The slick stretched for about three kilometres and booms have been placed across the river at two points.
"""


def test_a_spelled_out_number_that_changes_is_an_update() -> None:
    """News style spells out small numbers: "six" becoming "nine" is the news of the update."""
    new = OLD.replace("Hundreds of fish have", "More than a thousand fish have").replace("Six people", "Nine people")
    new = new.replace("about three kilometres", "about five kilometres")
    result = compare(parse_plain_text(OLD), parse_plain_text(new), semantic=default_embedder())
    updates = {c.new for c in result.changed_sentences if c.updates_facts}
    assert len(updates) == 3
    assert result.same_story and len(result.new_sections) == 1 and len(result.new_sections[0].paragraphs) == 3


def test_the_same_figure_in_other_units_is_a_restatement() -> None:
    """A paraphrase that converts units restates the figures: nothing in it is new."""
    old = parse_plain_text("""Wind farm approved off Selwick
The government approved the Greyhaven Bank wind farm on Wednesday, a 1,200-megawatt project to be built 35 kilometres off the Selwick coast.
Its 80 turbines will stand 260 metres tall to the blade tip, and the consortium has put the cost at 3.6 billion pounds.
""")
    same = """Greyhaven Bank gets the go-ahead
Ministers gave consent on Wednesday for Greyhaven Bank, a 1.2GW development some 22 miles from the Selwick shore.
Standing 850ft to the tip of the blade, its 80 machines will cost the backers £3.6bn.
"""
    result = compare(old, parse_plain_text(same), semantic=default_embedder())
    assert result.same_story and result.new_sections == []



def test_cents_and_pence_are_amounts() -> None:
    assert figures("86 cents a share") == figures("0.86 dollars per share") == figures("$0.86") == {"#0.86"}
    assert figures("50 pence") == {"#0.5"} and figures("a 12 per cent rise") == {"#12%"}


def test_an_amount_named_by_its_currency_word_is_the_amount_with_the_symbol() -> None:
    # "31.20 dollars" and "$31.20": one price, however the decimals were written.
    assert figures("at 31.20 dollars") == figures("to $31.20") == {"#31.2"}
    assert figures("3.50 pounds") == figures("£3.50") and figures("12.50 euros") == figures("€12.5")


def test_an_editors_insertion_in_a_quote_reads_as_the_words_it_inserts() -> None:
    assert figures("fans deserve 100 [percent] of me") == figures("fans deserve 100 percent of me") == {"#100%"}
    # A footnote's number is no part of the figure it follows.
    assert figures("rose to 3.5[2] per cent") == {"#3.5%"} and figures("40[1] people were hurt") == {"#40"}
