"""Same story across outlets as real news is written: paraphrase judged by meaning, independent
reports of one event grouped, a later event with the same people kept apart, and a telling's
additions never hiding its story. The sentence model is on, as it is by default."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from newsdelta.evaluation import DATA, load_cases
from newsdelta.settings import FeedConfig
from tests.builders import article_html, rss, run
from tests.conftest import seed_text
from tests.httpserver import Reply
from textdelta import Block, Document, compare, parse_plain_text
from textdelta.semantic import default_embedder

SIGNAL = "Signal Chat Controversy Overshadows Trip"


@cache
def model():  # type: ignore[no-untyped-def]
    return default_embedder()


def test_the_seed_rewrite_adds_exactly_the_signal_section() -> None:
    result = compare(parse_plain_text(seed_text("000_")), parse_plain_text(seed_text("002_")), semantic=model())
    assert result.same_story
    assert [s.heading for s in result.new_sections] == [SIGNAL]
    assert any("China’s foreign ministry has not yet issued a statement" in p for p in result.new_sections[0].paragraphs)


OLD = parse_plain_text(
    "Harbour Council approves tram extension\n"
    "Harbour Council voted on Monday to extend the city's tram line to the airport, at a cost of 410 million euros.\n"
    "Council leader Mara Voss said the line would open in 2029 and carry 9,000 passengers a day.\n"
    "Work on the first section will begin next spring, the council said."
)


def test_a_paraphrase_the_words_miss_is_judged_a_restatement() -> None:
    """A hand-written heavy paraphrase of an emergency descent: its lede writes the altitudes
    as flight levels where the original wrote feet, and shares too few words with it."""
    case = next(c for c in load_cases() if c.id == "transport_heavy_plain_1")
    lede = next(a.new for a in compare(case.old, case.new).alignments if "FL160" in a.new)
    words_only = compare(case.old, case.new)
    with_meaning = compare(case.old, case.new, semantic=model())
    assert lede in words_only.new_sentences, "the words alone take it for new"
    assert with_meaning.same_story and with_meaning.new_sentences == [], "by meaning it restates the original, and so does the rest"


def test_a_new_fact_about_the_same_people_is_new() -> None:
    new = parse_plain_text(
        "Harbour Council approves tram extension\n"
        "Harbour Council voted on Monday to extend the city's tram line to the airport, at a cost of 410 million euros.\n"
        "Council leader Mara Voss said the line would open in 2029 and carry 9,000 passengers a day.\n"
        "Mara Voss resigned as council leader on Tuesday, citing ill health.\n"
        "Work on the first section will begin next spring, the council said."
    )
    result = compare(OLD, new, semantic=model())
    assert result.same_story
    assert result.new_sentences == ["Mara Voss resigned as council leader on Tuesday, citing ill health."]


def test_a_republication_that_adds_far_more_than_it_carries_keeps_its_story_and_all_its_additions(server, engine, fetcher, settings) -> None:
    """The whole original, verbatim, plus twenty sections of its own: the same story (found by
    the candidate lookup, however much the additions weigh in its terms), every section new."""
    original = parse_plain_text(seed_text("000_"))
    districts = ["Ashby", "Brennan", "Corlett", "Dunmore", "Elwick", "Farrow", "Galton", "Hessle", "Ingram", "Jarrow",
                 "Kelso", "Lydney", "Marlow", "Norham", "Otley", "Penrith", "Quorn", "Redcar", "Selby", "Thirsk"]
    added = []
    for i, name in enumerate(districts):
        added += [Block("heading", f"Reaction in {name} prefecture"),
                  Block("paragraph", f"Officials in {name} prefecture said {120 + i * 7} local firms supply the bases and "
                                     f"asked Tokyo for a {3 + i}-year contract guarantee before the command upgrade begins.")]
    republished = Document.from_blocks([*original.blocks, *added], title="Hegseth in Japan: the full report and regional reaction")
    server.route("/a", Reply(200, article_html("Hegseth announces plan for US command upgrades in Japan", original, date="2025-03-30")))
    server.route("/b", Reply(200, article_html(republished.title, republished, date="2025-03-31")))
    feed_a = server.route("/fa.xml", Reply(200, rss("A", [{"title": "Original", "link": server.url("/a"), "published": datetime(2025, 3, 30, 8)}]),
                                           {"Content-Type": "application/rss+xml"}))
    feed_b = server.route("/fb.xml", Reply(200, rss("B", [{"title": "Republished", "link": server.url("/b"), "published": datetime(2025, 3, 31, 8)}]),
                                           {"Content-Type": "application/rss+xml"}))
    results = run(engine, fetcher, settings, [FeedConfig(feed_a, "Outlet A"), FeedConfig(feed_b, "Outlet B")])
    assert [r.status for r in results] == ["stored", "stored"]
    first, second = results
    assert second.track["story_id"] == first.track["story_id"] and second.track["joined_story"]
    assert second.track["finding_id"] is not None

    from sqlmodel import Session, select

    from newsdelta.storage.models import Finding

    with Session(engine) as s:
        finding = s.exec(select(Finding)).one()
    import json

    headings = [section["heading"] for section in json.loads(finding.new_sections)]
    assert headings == [f"Reaction in {name} prefecture" for name in districts]


def grouping_article(name: str) -> tuple[dict[str, str], Document]:
    header, _, body = (DATA / "grouping" / f"{name}.txt").read_text("utf-8").partition("\n---\n")
    meta = dict(line.split(": ", 1) for line in header.strip().splitlines())
    return meta, parse_plain_text(body)


def test_independent_reports_of_one_event_form_one_story_and_a_later_event_with_the_same_people_does_not(
        server, engine, fetcher, settings) -> None:  # type: ignore[no-untyped-def]
    # The Capital Observer's telling opens on a pension saver in the public gallery and reaches
    # the verdict in its third paragraph, the Kestrel Times' on the crowd: on their words and
    # ledes they read as another event, published hours later and close in meaning they join.
    verdict = ["valesford-fraud-verdict__valesford-herald", "valesford-fraud-verdict__meridian-wire",
               "valesford-fraud-verdict__lantern-radio", "valesford-fraud-verdict__capital-observer"]
    semifinal = ["kestrel-rovers-cup-semifinal__meridian-wire", "kestrel-rovers-cup-semifinal__sporting-line",
                 "kestrel-rovers-cup-semifinal__kestrel-times"]
    final = ["kestrel-rovers-cup-final__kestrel-times", "kestrel-rovers-cup-final__sporting-line"]  # a week later, same team
    feeds, event_of = [], {}
    for n, name in enumerate(verdict + semifinal + final):
        meta, doc = grouping_article(name)
        published = datetime.fromisoformat(meta["published"].replace("Z", "+00:00"))
        server.route(f"/p{n}", Reply(200, article_html(meta["title"], doc, author="Staff", date=published.date().isoformat())))
        feeds.append(FeedConfig(server.route(f"/f{n}.xml", Reply(200, rss(meta["outlet"], [{"title": meta["title"], "link": server.url(f"/p{n}"),
                                                                                            "published": published}]),
                                                                 {"Content-Type": "application/rss+xml"})), meta["outlet"] + f" {n}"))
        event_of[server.url(f"/p{n}")] = meta["event"]
    results = run(engine, fetcher, settings, feeds)
    assert all(r.status == "stored" for r in results)
    stories: dict[str, set[int]] = {}
    for r in results:
        stories.setdefault(event_of[r.url], set()).add(r.track["story_id"])
    assert len(stories["valesford-fraud-verdict"]) == 1, "the original, a wire copy and independent reports: one story"
    assert len(stories["kestrel-rovers-cup-semifinal"]) == 1
    assert not stories["kestrel-rovers-cup-final"] & stories["kestrel-rovers-cup-semifinal"], "the final is not the semi-final"


def test_compare_explains_its_verdict_and_each_new_paragraph() -> None:
    result = compare(parse_plain_text(seed_text("000_")), parse_plain_text(seed_text("002_")), semantic=model())
    why = result.to_json()["explanation"]
    assert why["verdict"]["same_story"] and why["verdict"]["score"] >= why["verdict"]["threshold"] and why["verdict"]["sentence_model"]
    reported = [p for s in result.new_sections for p in s.paragraphs]
    assert [p["paragraph"] for p in why["new_paragraphs"]] == reported
    assert all(p["closest_old"] and 0.0 <= p["lexical"] < 1.0 and p["semantic"] is not None and p["semantic"] < 0.8
               for p in why["new_paragraphs"]), "each new paragraph's nearest old text, and why it is not a restatement"
