"""Page furniture never becomes a finding: it stays in the stored version (nothing is lost),
and is set aside from what is matched, quoted in findings and alerts, and diffed. A finding is
alerted only when it adds substance."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from newsdelta.settings import FeedConfig
from newsdelta.storage.models import Alert, ArticleVersion, Finding, OutletParagraph
from tests.builders import article_html, rss, run
from tests.conftest import seed_text
from tests.httpserver import Reply
from textdelta import Block, Document, parse_plain_text
from textdelta.furniture import content_blocks, furniture_kind, mark_furniture, states_something
from textdelta.normalize import text_key

RSS = {"Content-Type": "application/rss+xml"}

# One line of each kind the rules know, as pages carry them.
FURNITURE = {
    "By Dana Whitfield and Omar Reyes": "byline",
    "4 Min Read": "dateline",
    "BUSINESS ・ 4 DAYS AGO": "dateline",
    "Updated: Mon., Mar. 31, 2025, 6:40 a.m.": "dateline",
    "Sponsored By": "ui",
    "Advertisement": "ui",
    "Share this article": "ui",
    "Read more: Hegseth visits troops in the Philippines before Tokyo stop": "link",
    "READ: What the US-Japan command upgrade means for Okinawa": "link",
    "[Related: Five things to know about the Signal chat leak]": "link",
    "https://example.com/world/asia/hegseth-japan": "link",
    "Defense Secretary Pete Hegseth arrives at the ministry in Tokyo (AP Photo/Eugene Hoshiko)": "caption",
    "Photo credit: Kyodo News / Reuters": "credit",
    "Reporting by Dana Whitfield; Editing by Sam Ortiz": "credit",
    "Associated Press writer Mari Yamaguchi in Tokyo contributed to this report.": "credit",
    "Sign up for our Asia Briefing newsletter to get the day's top stories in your inbox.": "prompt",
    "We use cookies to improve your experience. Accept cookies to continue.": "prompt",
    "Follow us on Twitter and Facebook for the latest updates.": "prompt",
    '<blockquote class="twitter-tweet"><p lang="en">Arrived in Tokyo.</p>&mdash; Pete Hegseth</blockquote>': "embed",
    "pic.twitter.com/AbC123xyz": "link",
    "© 2025 Meridian Post. All rights reserved.": "copyright",
    "This material may not be published, broadcast, rewritten or redistributed.": "copyright",
    "TRUMP TARIFF PLAN SENDS MARKETS LOWER": "headlines",
    "WORLD NEWS": "ui",
    "Mar 31, 2025, 6:40 AM | Updated: 7:02 am": "dateline",
    "Harbour councillor Ann Pryce outside the town hall (PA)": "caption",
    "Tokyo CNN –": "credit",
    "This is a developing story and will be updated as more information becomes available.": "prompt",
    "via Meridian Post:": "link",
    "By": "ui",
    "Last Updated:": "ui",
    "![Firefighters outside the warehouse on Dock Road](https://example.com/uploads/2025/03/fire.jpg)": "embed",
    "Mayor Ann Pryce at the depot in March (AP Photo/Eugene Hoshiko, File)": "caption",
    # Captions that run long end on their picture's credit.
    "Mourners gather outside the town hall in Westbury after the collapse of the stand at the Kingsmead ground, on "
    "Saturday March 15, in a picture taken by a spectator. PHOTO: REUTERS": "caption",
    "Council leader Mia Holt speaks at the depot in Harlow on Tuesday. Picture date: Tuesday July 5. PA Photo. "
    "Photo credit should read: Sam Reed/PA Wire": "caption",
    "This undated image shows the Nerida survey vessel leaving port at Selwick with its crew of twelve before the storm "
    "reached the coast. (Selwick Marine via AP, File)": "caption",
    "This article is more than 1 year old": "prompt",
    "— Jane Roe (@jroe_news) January 26, 2020": "embed",  # an embedded post's signature on its own line
    "Copyright AP - Associated Press": "copyright",
    # A comment thread, a live page and a paywall speak to the reader.
    "Post your thoughts below in the comment section.": "prompt",
    "Share your thoughts in the comments below.": "prompt",
    "(0) comments": "prompt",
    "Follow along below for updates on the storm. All times are Eastern unless otherwise noted.": "prompt",
    "Subscribe today for unlimited digital access to all our reporting.": "prompt",
    # A run of a site's prompts and notices, long as it is.
    "Sign up to get the inside scoop on today's biggest stories in markets, tech, and business, delivered daily. Thanks for "
    "signing up! Access your favorite topics in a personalized feed while you're on the go. Email address. By clicking Sign "
    "Up, you accept our Terms of Service and Privacy Policy. You can opt out at any time.": "prompt",
    "Dana Whitfield | 5/12/2017, 6:04 a.m.": "byline",  # a writer's name and the time, set off by a bar
    "Omar Reyes · March 3, 2024": "byline",
    "Latest: Bridge collapse in Genoa kills 22": "link",
    "We want to hear from you! Send us a message on WhatsApp or email us at editors@example.com.": "prompt",
    "Dana Whitfield reports for the Meridian Post February 1, 2016.": "credit",
    "Sam Reed/AP The new ferry sits at the quay in Selwick before its first crossing.": "credit",  # opens on the photographer's credit
}

# Reporting that mentions what furniture is made of, and must stay content.
PROSE = [
    "The minister (@jsmith on X) said on January 26, 2020 that the bridge would reopen.",
    "He posted one photo: his dog asleep on the sofa.",
    "Investigators released a single photograph: the wreck on the seabed.",
    "The figures were published late on Tuesday, the paper said (via Reuters).",
    "This story is more than two years old, the historian said, and it still matters to the town.",
    "The dam is more than 100 years old and needs repairs, the water board said on Monday.",
    "The sale went through via an intermediary, the bank, which said the photos were taken by its own staff.",
    "The company said in a newsletter to investors on Monday that it would cut 300 jobs.",
    "An Alibaba spokesperson declined to comment on the pricing to Reuters.",
    "The photo, taken by a passenger, shows the door plug missing from the fuselage.",
    "By Tuesday, officials said, the water had receded from most of the town.",
    "He was sentenced on March 3, 2024, to 11 years in prison.",
    "Subscribers to the service rose 12 percent, to 4.1 million, the company reported.",
    "Hegseth declined to say whether he had shared classified information in the chat.",
    "서울시는 화요일 시내 버스 노선 세 개를 새로 개통한다고 밝혔다.",  # Korean has no capitals: never "in capitals"
    "市は火曜日、新しいバス路線を三つ開通させると発表した。",  # no spaces: words are counted by characters
    # Reporting that mentions platforms, notices and labels (each was once taken for furniture):
    "Altman is set to return as chief executive, as confirmed by the company in a post on X.",
    "The president made the remarks in a video posted on Facebook.",
    "The company said it had changed its privacy policy after the ruling.",
    "The account was suspended for violating the platform's terms of service.",
    "Sweden formally applied to become a member of NATO in May 2022.",
    "Millions of customers could not log in to their accounts for several hours on Tuesday.",
    "Few economists subscribe to that view, however.",
    "More than 20 million people sign up for coverage each year, the agency said.",
    "In a letter to the editor, the senator defended the bill.",
    "There is more to come, the coach said.",
    "The forecast will be updated as the storm approaches the coast.",
    "Follow them on foot, the officer told his partner.",
    "Like many firms on Twitter, it cut staff in the spring.",
    "Copyright infringement cases rose sharply in 2023, the court said.",
    "Contact between the two leaders at the summit was brief and formal.",
    "By Monday, more than 200 people had been evacuated.",
    "Related measures will take effect in May, the ministry said.",
    "Recommended doses were cut by half after the trial.",
    "Up next is the semi-final against Spain on Thursday.",
    "The protests spread from La Paz (Bolivia, Peru and Chile saw marches too).",
    "Donations can be made at www.redcross.org, the charity said.",
    "データの入力ミスが原因だったと会社は発表した。",
    "美国总统特朗普 3 日表示，将对 25 个国家征收关税。",  # spaces around numbers: still counted by characters
    "政府は「新たな対策を来月から実施する。」",  # a quotation closing the sentence
    "ប្រធានាធិបតីបានប្រកាសវិធានការថ្មីកាលពីថ្ងៃអង្គារ។",  # Khmer sentence mark
    "รัฐบาลไทยประกาศมาตรการใหม่เพื่อช่วยเหลือเกษตรกรในวันอังคาร นายกรัฐมนตรีกล่าว",  # Thai marks no sentence end
    "Campaigners posted <a href=\"javascript:alert(1)\">this link</a> on the trust's page, and <script> too.",
    "Readers can share your views with the council, she said, or post them to the ministry.",
    "All times in the race were slower than last year, the organisers said.",
    "The 12 comments on the planning application were all from residents.",
    "Only members can vote in the leadership contest, the party said.",
    "Joe Biden/Kamala Harris voters were split on the question, the poll found.",
    "The annual pass, priced at $50, allows for unlimited access to the park's rides, the operator said.",
    "Share your views on the plan at the town hall meeting on Monday night, residents were urged.",
    "Leave your comments at the door, the judge told the jury.",
    "Objections were published in the comments section below the consultation page, the council said.",
    "Hong Kong/AFP - Stocks fell sharply on Monday as investors fled riskier assets.",  # an agency's dateline on its report
    "Vote Count | May 3 results show Labour ahead in 12 councils.",
    "The minister said she would like to hear from you, the voters, before deciding, and told us at the depot she would not rush.",
    "Officials told us at the scene that seven people had died.",
    "LATEST NEWS – At least 22 people have died after a motorway bridge collapsed in the northern city of Genoa.",  # a kicker on the lede
    "Users must log in again and sign in on every device, and the new terms of service and privacy policy apply to all "
    "accounts from Monday; those who do not sign up to the new terms by June lose access to their files, which will be "
    "deleted after ninety days, and the old privacy policy lapses at once, the company announced on Tuesday.",
    "Follow the money, the prosecutor told the jury: all of it went to one account.",
    "Nurses who sign up for the scheme get free training, and the union said its members backed it; the ministry's "
    "privacy policy and its terms of service for the app were changed in March, after the regulator's ruling on how "
    "the data of patients may be kept.",
]


@pytest.mark.parametrize(("line", "kind"), FURNITURE.items())
def test_each_kind_of_page_furniture_is_recognised(line: str, kind: str) -> None:
    assert furniture_kind(line) == kind


@pytest.mark.parametrize("line", PROSE)
def test_reporting_that_mentions_furniture_words_stays_content(line: str) -> None:
    assert furniture_kind(line) is None
    assert states_something(line)


def test_a_list_of_headlines_and_a_repeated_paragraph_are_set_aside_but_a_list_in_the_story_is_not() -> None:
    blocks = [
        Block("paragraph", "The council voted 7-2 on Tuesday to close the bridge for repairs."),
        Block("paragraph", "Mayor Unveils Plan For New Harbour Park"),
        Block("paragraph", "Police Name Victim Of Saturday Crash On Route 9"),
        Block("paragraph", "Schools Reopen After Week Of Flooding Across County"),
        Block("paragraph", "The repairs are expected to take six months."),
        Block("paragraph", "Residents raised three concerns:"),
        Block("paragraph", "longer commutes for workers on the east bank"),
        Block("paragraph", "delivery trucks routed through the old town"),
        Block("paragraph", "no crossing for cyclists until the summer"),
        Block("paragraph", "The repairs are expected to take six months."),
    ]
    marks = mark_furniture(blocks)
    assert marks == [None, "headlines", "headlines", "headlines", None, None, None, None, None, "repeat"]
    # Capitals make a paragraph a headline linking elsewhere, not a subhead.
    assert furniture_kind("SIGNAL CHAT CONTROVERSY", "heading") is None


def test_an_embedded_post_stays_content() -> None:
    """Embedded posts often carry the statement that is the news; the hand-checked pages of
    ../shared count them as article text too."""
    assert furniture_kind("Thank you all. It has been an honour — Dana Whitfield (@dwhitfield) October 10, 2024") is None


def test_a_heading_over_nothing_but_furniture_goes_with_it() -> None:
    doc = Document.from_blocks([Block("paragraph", "The council voted on Tuesday to close the bridge for repairs."),
                                Block("heading", "More on this story"),
                                Block("paragraph", "Read more: Bridge closures across the county this year")])
    assert [b.text for b in content_blocks(doc).blocks] == ["The council voted on Tuesday to close the bridge for repairs."]


def _rewrite_with_furniture() -> tuple[Document, list[str], list[str]]:
    """The seeds' rewrite with every kind of furniture in it, and its Signal paragraph twice."""
    rewrite = parse_plain_text(seed_text("002_"))
    signal = [b.text for b in rewrite.blocks[rewrite.blocks.index(Block("heading", "Signal Chat Controversy Overshadows Trip")) + 1:]]
    lines = list(FURNITURE)
    blocks = [Block("paragraph", line) for line in lines[:4]] + list(rewrite.blocks[:3])
    blocks += [Block("paragraph", line) for line in lines[4:14]] + list(rewrite.blocks[3:])
    blocks += [Block("paragraph", signal[0])]  # the page repeats a paragraph (a pull quote)
    blocks += [Block("paragraph", line) for line in lines[14:]]
    blocks += [Block("paragraph", h) for h in ("Stocks Slide As Tariff Deadline Nears For Exporters",
                                              "Okinawa Governor Demands Say In Base Talks With Tokyo",
                                              "Typhoon Season Forecast Raised After Warm Spring")]
    return Document.from_blocks(blocks, title="Hegseth in Tokyo"), lines, signal


def test_furniture_is_kept_in_the_stored_version_and_never_reaches_a_finding_or_an_alert(server, engine, fetcher, settings) -> None:  # type: ignore[no-untyped-def]
    original = parse_plain_text(seed_text("000_"))
    page, furniture, signal = _rewrite_with_furniture()
    a = server.route("/a", Reply(200, article_html("Hegseth announces plan", original)))
    b = server.route("/b", Reply(200, article_html("Hegseth in Tokyo", page, date="2025-03-31")))
    feeds = [FeedConfig(server.route("/a.xml", Reply(200, rss("A", [{"title": "A", "link": a}]), RSS)), "Harbor Times"),
             FeedConfig(server.route("/b.xml", Reply(200, rss("B", [{"title": "B", "link": b}]), RSS)), "Meridian Post")]
    results = run(engine, fetcher, settings, feeds[:1]) + run(engine, fetcher, settings, feeds[1:])
    assert [r.status for r in results] == ["stored", "stored"]
    with Session(engine) as s:
        stored = "\n".join(b["text"] for v in s.exec(select(ArticleVersion)).all() for b in json.loads(v.blocks))
        [finding] = s.exec(select(Finding)).all()
        alerts = s.exec(select(Alert)).all()
    kept = [line for line in furniture if line in stored]
    assert len(kept) >= len(furniture) - 3, f"extraction dropped most of the test's furniture itself: {set(furniture) - set(kept)}"
    quoted = [p for section in json.loads(finding.new_sections) for p in section["paragraphs"]]
    assert quoted == signal, "exactly the Signal section, each paragraph once: no furniture, no repeat"
    assert len(alerts) == 1
    with Session(engine) as s:
        assert s.exec(select(OutletParagraph).where(OutletParagraph.outlet == "Meridian Post")).all(), "its paragraphs were counted"


SIGN_OFF = "Harbour Ledger is supported by its readers across the county and beyond."


def test_a_paragraph_an_outlet_carries_in_several_stories_is_its_template_and_is_not_new(server, engine, fetcher, settings) -> None:  # type: ignore[no-untyped-def]
    """No rule knows this sign-off by its form; the per-outlet counts do, once it has recurred
    in `template_stories` different stories of that outlet."""
    topics = [
        ("Bridge", "The council voted on Tuesday to close the Amberley bridge for six months of repairs, the mayor said.",
         "Engineers found corrosion in two of the bridge's main cables during an inspection in May."),
        ("Library", "The county library will open on Sundays from next month after a donation of 2 million dollars.",
         "The donor, a retired teacher, asked not to be named, the library's director said."),
        ("Ferry", "The Portmere ferry will run every 20 minutes in summer, up from every 40, the operator announced.",
         "A second boat, leased from a Norwegian company, arrives in June and will carry 300 passengers."),
    ]
    pages = []
    for slug, lede, detail in topics:
        doc = Document.from_blocks([Block("paragraph", lede), Block("paragraph", detail), Block("paragraph", SIGN_OFF)])
        pages.append({"title": f"{slug} news", "link": server.route(f"/ledger/{slug}", Reply(200, article_html(f"{slug} news", doc)))})
    ledger = FeedConfig(server.route("/ledger.xml", Reply(200, rss("L", pages), RSS)), "Harbour Ledger")
    run(engine, fetcher, settings, [ledger])
    with Session(engine) as s:
        row = s.get(OutletParagraph, ("Harbour Ledger", text_key(SIGN_OFF)))
    assert row is not None and row.stories == 3

    # Another outlet reports a new event first; the Ledger's later telling adds a fact, and its sign-off.
    school = ["Westfield primary school reopened on Monday, three weeks after a fire destroyed its library and two classrooms.",
              "About 240 pupils returned to lessons in temporary buildings on the playing field, the head teacher said.",
              "The fire started in an electrical cupboard overnight on March 2, investigators found."]
    first = Document.from_blocks([Block("paragraph", p) for p in school])
    later = Document.from_blocks([*(Block("paragraph", p) for p in school),
                                  Block("paragraph", "Rebuilding will cost about 1.8 million pounds, paid by the county's insurer."),
                                  Block("paragraph", SIGN_OFF)])
    courier = FeedConfig(server.route("/courier.xml", Reply(200, rss("C", [{"title": "School reopens", "link": server.route(
        "/courier/school", Reply(200, article_html("School reopens", first)))}]), RSS)), "County Courier")
    ledger2 = FeedConfig(server.route("/ledger2.xml", Reply(200, rss("L", [{"title": "School back after fire", "link": server.route(
        "/ledger/school", Reply(200, article_html("School back after fire", later)))}]), RSS)), "Harbour Ledger")
    run(engine, fetcher, settings, [courier])
    run(engine, fetcher, settings, [ledger2])
    with Session(engine) as s:
        [finding] = s.exec(select(Finding)).all()
    quoted = [p for section in json.loads(finding.new_sections) for p in section["paragraphs"]]
    assert quoted == ["Rebuilding will cost about 1.8 million pounds, paid by the county's insurer."]


@pytest.mark.parametrize(("min_words", "alerted"), [(12, False), (0, False)])
def test_a_finding_without_a_sentence_that_states_something_is_stored_but_not_alerted(server, engine, fetcher, settings, min_words: int,  # type: ignore[no-untyped-def]
                                                                                          alerted: bool) -> None:
    _two_tellings(server, engine, fetcher, settings.with_overrides(alerts_min_new_words=min_words),
                  added=["Pete Hegseth and Gen Nakatani at the Tokyo ministry", "Hegseth's second trip to Asia"])
    with Session(engine) as s:
        assert len(s.exec(select(Finding)).all()) == 1, "the finding is stored (and shown), only not sent"
        assert (len(s.exec(select(Alert)).all()) == 1) is alerted


@pytest.mark.parametrize(("min_words", "alerted"), [(12, True), (40, False)])
def test_the_alert_threshold_counts_new_words(server, engine, fetcher, settings, min_words: int, alerted: bool) -> None:  # type: ignore[no-untyped-def]
    fact = "China's foreign ministry summoned the U.S. ambassador on Monday evening to protest against the plan."  # 15 words
    _two_tellings(server, engine, fetcher, settings.with_overrides(alerts_min_new_words=min_words), added=[fact])
    with Session(engine) as s:
        assert len(s.exec(select(Finding)).all()) == 1
        assert (len(s.exec(select(Alert)).all()) == 1) is alerted


def test_the_alert_says_how_much_is_new(server, engine, fetcher, settings, capsys) -> None:  # type: ignore[no-untyped-def]
    from newsdelta.stages.deliver import deliver_all

    _two_tellings(server, engine, fetcher, settings, added=[
        "China's foreign ministry summoned the U.S. ambassador on Monday evening to protest against the plan.",
        "Japan's opposition leader called for a parliamentary debate before any change to the command structure.",
    ])
    deliver_all(engine, settings)
    out = capsys.readouterr()
    assert "Adds 2 paragraphs, 30 words." in out.out + out.err, out.out


def _two_tellings(server, engine, fetcher, settings, added: list[str]) -> None:  # type: ignore[no-untyped-def]
    original = parse_plain_text(seed_text("000_"))
    later = Document.from_blocks([*original.blocks, *(Block("paragraph", p) for p in added)])
    a = server.route("/a", Reply(200, article_html("Hegseth announces plan", original)))
    b = server.route("/b", Reply(200, article_html("Hegseth announces plan", later, date="2025-03-31")))
    run(engine, fetcher, settings, [FeedConfig(server.route("/a.xml", Reply(200, rss("A", [{"title": "A", "link": a}]), RSS)), "Harbor Times")])
    run(engine, fetcher, settings, [FeedConfig(server.route("/b.xml", Reply(200, rss("B", [{"title": "B", "link": b}]), RSS)), "Meridian Post")])


def test_the_furniture_set_aside_is_shown_folded_on_the_story_page_and_listed_by_show(server, engine, fetcher, settings) -> None:  # type: ignore[no-untyped-def]
    from newsdelta.views import story_text, story_view
    from newsdelta.views.pages import story_page

    original = parse_plain_text(seed_text("000_"))
    rewrite = parse_plain_text(seed_text("002_"))
    credit = "Reporting by Dana Whitfield; Editing by Sam Ortiz"
    page = Document.from_blocks([*rewrite.blocks, Block("paragraph", credit)], title="Hegseth in Tokyo")
    a = server.route("/a", Reply(200, article_html("Hegseth announces plan", original)))
    b = server.route("/b", Reply(200, article_html("Hegseth in Tokyo", page, date="2025-03-31")))
    run(engine, fetcher, settings, [FeedConfig(server.route("/a.xml", Reply(200, rss("A", [{"title": "A", "link": a}]), RSS)), "Harbor Times")])
    run(engine, fetcher, settings, [FeedConfig(server.route("/b.xml", Reply(200, rss("B", [{"title": "B", "link": b}]), RSS)), "Meridian Post")])

    view = story_view(engine, 1)
    assert view is not None
    meridian = next(a for a in view["articles"] if a["outlet"] == "Meridian Post")
    assert {"kind": "credit", "text": credit} in meridian["set_aside"]
    assert view["findings"][0]["alerted"] and view["findings"][0]["adds"] == "adds 3 paragraphs, 108 words"
    assert "set aside as page furniture: 1 paragraph(s) (credit 1)" in story_text(view)
    assert f"- [credit] {credit}" in story_text(view, furniture=True)

    shown = story_page(engine, 1)
    assert shown is not None
    paragraphs = [p for f in shown["findings"] for s in f["sections"] for p in s["paragraphs"]]
    assert [p["furniture"] for p in paragraphs if p["text"] == credit] == ["credit"]
    assert not any(p["new"] for p in paragraphs if p["furniture"])


def test_paragraph_counts_that_never_became_template_text_are_forgotten_after_a_while(engine) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from newsdelta.storage import repo

    old, recent = datetime.now(UTC) - timedelta(days=40), datetime.now(UTC) - timedelta(days=2)
    with Session(engine) as s:
        s.add_all([OutletParagraph(outlet="L", key="once-long-ago", stories=1, first_seen=old),
                   OutletParagraph(outlet="L", key="template", stories=5, first_seen=old),
                   OutletParagraph(outlet="L", key="once-recently", stories=1, first_seen=recent)])
        s.commit()
        assert repo.forget_outlet_paragraphs(s, datetime.now(UTC) - timedelta(days=30), below=3) == 1
        s.commit()
        assert sorted(r.key for r in s.exec(select(OutletParagraph)).all()) == ["once-recently", "template"]


def test_a_paragraph_counts_once_per_story_even_when_an_older_story_gets_it_again(engine) -> None:  # type: ignore[no-untyped-def]
    from newsdelta.storage import repo

    with Session(engine) as s:
        for story in (1, 2, 1, 2, 2):  # stories A, B, A again, B again: two stories
            repo.count_outlet_paragraphs(s, "Ledger", story, {"k"})
        s.commit()
        assert s.get(OutletParagraph, ("Ledger", "k")).stories == 2
        assert repo.template_keys(s, ["Ledger"], 3) == {}
        repo.count_outlet_paragraphs(s, "Ledger", 3, {"k"})
        assert repo.template_keys(s, ["Ledger", "Other"], 3) == {"Ledger": frozenset({"k"})}
        long_name = "L" * 250  # stored cut to the column's 200 characters, found by its full name
        for story in (4, 5, 6):
            repo.count_outlet_paragraphs(s, long_name, story, {"k"})
        assert repo.template_keys(s, [long_name], 3) == {long_name: frozenset({"k"})}


def test_an_alert_quotes_what_states_something_and_counts_the_short_lines_it_leaves_on_the_story_page(server, engine, fetcher, settings,  # type: ignore[no-untyped-def]
                                                                                                    capsys) -> None:
    from newsdelta.stages.deliver import deliver_all

    fact = "China's foreign ministry summoned the U.S. ambassador on Monday evening to protest against the plan."
    caption = "Hegseth and Nakatani at the Tokyo ministry"  # a caption: no sentence, no furniture marker
    _two_tellings(server, engine, fetcher, settings, added=[caption, fact])
    deliver_all(engine, settings)
    out = capsys.readouterr().out
    assert fact in out.replace("\n  | ", " ") and caption not in out
    assert "Adds 1 paragraph, 15 words (and 1 short line on the story page)." in out


def test_a_new_section_followed_by_the_wire_credit_keeps_its_heading() -> None:
    """The credit line closes both tellings; read as content it split the new section, which
    was then reported as new paragraphs without a heading."""
    from textdelta import compare

    credit = "(Reporting by Will Dunham; Editing by Tom Brown)"
    body = [Block("paragraph", p) for p in seed_text("000_").splitlines() if p.strip()]
    added = ["Opposition lawmakers in Tokyo demanded a full briefing on the command changes before the Diet session ends in June.",
             "Okinawa's governor said residents near U.S. bases had not been consulted and asked for talks within the month."]
    old = Document.from_blocks([*body, Block("paragraph", credit)])
    new = Document.from_blocks([*body, Block("heading", "Reaction in Japan"), *(Block("paragraph", p) for p in added),
                                Block("paragraph", credit)])
    assert [s.heading for s in compare(old, new).new_sections] == [None], "what the credit line did"
    sections = compare(content_blocks(old), content_blocks(new)).new_sections
    assert [(s.heading, s.paragraphs) for s in sections] == [("Reaction in Japan", added)]


@pytest.mark.parametrize("line", ["What's the situation on the ground?", "1. What is the case about?", "Why now?"])
def test_a_question_on_its_own_states_nothing(line: str) -> None:
    """An explainer's subheads are questions set as paragraphs; an alert quoting one says nothing."""
    assert furniture_kind(line) is None and not states_something(line)


def test_a_quoted_question_or_one_inside_a_statement_still_states_something() -> None:
    assert states_something('"Why would I resign now, after all this?" the minister asked reporters on Monday.')
    assert states_something("The court must decide whether the law applies abroad. Will it?")
