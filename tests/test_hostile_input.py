"""Hostile and broken input, served over real HTTP on 127.0.0.1: every feed in ../shared/data/feeds
(feedparser's ill-formed and encoding suites, real captured feeds), XML attacks, and pages
that are huge, deeply nested, script-only, in other charsets or different on every fetch."""

from __future__ import annotations

import json
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session, select

from newsdelta.settings import FeedConfig
from newsdelta.stages import poll
from newsdelta.stages import run as run_stage
from newsdelta.storage.models import ArticleVersion, Feed
from tests.builders import article_html, rss, run, store_one
from tests.conftest import seed_text, shared_data
from tests.httpserver import Reply
from textdelta import parse_plain_text


def shared_feeds() -> tuple[Path, list[Path]]:
    """The shared feed corpus and every feed file in it (not its licences and notes)."""
    root = shared_data("data/feeds")
    return root, sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() not in (".md", ".txt", ".rb", ".rs", ".py")
                        and "LICENSE" not in p.name.upper())


def test_every_shared_feed_is_polled_without_crashing_and_reports_its_health(server, engine, fetcher) -> None:
    FEEDS, ALL_FEEDS = shared_feeds()
    assert len(ALL_FEEDS) > 600, "the shared feed corpus is incomplete"
    configs = []
    for i, path in enumerate(ALL_FEEDS):
        server.route(f"/feeds/{i}", Reply(200, path.read_bytes(), {"Content-Type": "application/xml"}))
        configs.append(FeedConfig(server.url(f"/feeds/{i}"), outlet=path.parent.name))
    ids = poll.sync_feeds(engine, configs)
    statuses: dict[str, int] = {}
    # Polled on a thread pool, as a run polls its feeds (newsdelta.stages.run.plain_steps).
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda feed_id: poll.poll_feed(engine, fetcher, feed_id), ids))  # must never raise
    for result in results:
        statuses[result.status] = statuses.get(result.status, 0) + 1
        assert result.status in ("ok", "malformed", "error", "unchanged")
        assert result.status == "ok" or result.error, "every problem is explained"
    with Session(engine) as s:
        feeds = s.exec(select(Feed)).all()
    assert all(f.last_status != "never" and f.total_polls == 1 for f in feeds)
    by_path = {str(path.relative_to(FEEDS)): f for path, f in zip(ALL_FEEDS, sorted(feeds, key=lambda f: f.id))}
    for name, feed in by_path.items():
        if "/wellformed/" in name or name.startswith("real/feed-rs/fixture/jsonfeed/") and name.endswith(".json") and ".serde." not in name:
            assert feed.last_status in ("ok", "malformed"), f"{name}: {feed.last_error}"
        if name.endswith(".serde.json"):  # feed-rs's expected-output fixtures: JSON, not feeds
            assert feed.last_status == "error" and "not a feed" in feed.last_error
    print(f"\n{len(ids)} feeds: {statuses}")


@pytest.mark.parametrize("relative", ["feedparser/tests/illformed", "feedparser/tests/encoding"])
def test_ill_formed_and_oddly_encoded_feeds_still_yield_their_readable_entries(server, engine, fetcher, relative: str) -> None:
    import feedparser

    readable = 0
    for i, path in enumerate(sorted((shared_data("data/feeds") / relative).rglob("*.xml"))):
        url = server.route(f"/x{i}", Reply(200, path.read_bytes(), {"Content-Type": "application/xml"}))
        parsed = feedparser.parse(path.read_bytes(), response_headers={"content-location": url, "content-type": "application/xml"})
        expected = sum(1 for e in parsed.entries if str(e.get("link", "")).startswith("http"))
        [feed_id] = poll.sync_feeds(engine, [FeedConfig(url)])
        result = poll.poll_feed(engine, fetcher, feed_id)
        assert result.entries_seen >= expected, path.name  # we also take links from <links> and http ids
        readable += expected
    assert readable >= 1


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>Laughs &lol9;</title><link>http://127.0.0.1/laughs</link></item></channel></rss>"""


def test_entity_expansion_bomb_is_defused(server, engine, fetcher) -> None:
    url = server.route("/laughs", Reply(200, BILLION_LAUGHS, {"Content-Type": "application/rss+xml"}))
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = poll.poll_feed(engine, fetcher, feed_id)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000, "less than 200 MB grown"
    assert result.status == "malformed" and "entity declarations removed" in result.error
    assert result.entries_seen == 1


def test_external_entity_cannot_read_local_files(server, engine, fetcher, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
           f'<rss version="2.0"><channel><title>t</title><item><title>Leak &xxe;</title>'
           f'<link>{server.url("/a")}</link><description>&xxe;</description></item></channel></rss>').encode()
    url = server.route("/xxe", Reply(200, xxe, {"Content-Type": "application/rss+xml"}))
    [feed_id] = poll.sync_feeds(engine, [FeedConfig(url)])
    poll.poll_feed(engine, fetcher, feed_id)
    db = Path(str(engine.url.database)).read_bytes()
    assert b"TOP-SECRET-CONTENT" not in db


def test_page_that_changes_on_every_fetch_outside_the_article_makes_one_version(server, engine, fetcher, settings) -> None:
    doc = parse_plain_text(seed_text("000_"))
    counter = {"n": 0}

    def changing(_request):  # type: ignore[no-untyped-def]
        counter["n"] += 1
        page = article_html("Hegseth in Japan", doc).decode()
        noise = (f"<div class='ad'>Sponsored: offer #{counter['n']} ends in {counter['n']} minutes</div>"
                 f"<p class='timestamp'>Page generated {time.time()}</p>")
        return Reply(200, page.replace("<footer>", noise + "<footer>").replace("<nav>", f"<nav>Live: {counter['n']} readers ").encode())

    feed = server.route("/f.xml", Reply(200, rss("O", [{"title": "T", "link": server.url("/live")}]), {"Content-Type": "application/rss+xml"}))
    server.route("/live", changing)
    run(engine, fetcher, settings, [FeedConfig(feed)])
    [aid] = run_stage.add_urls(engine, [server.url("/live")])
    for _ in range(3):
        store_one(engine, fetcher, settings, aid, channels=())
    with Session(engine) as s:
        assert len(s.exec(select(ArticleVersion)).all()) == 1
    assert counter["n"] == 4


@pytest.mark.parametrize("name,body", [
    ("scripts only", b"<html><head><script>" + b"var a=1;" * 5000 + b"</script></head><body><script>document.write('x')</script></body></html>"),
    ("no article text", b"<html><body><nav><a href='/'>Home</a></nav><ul>" + b"<li><a href='/x'>Link</a></li>" * 200 + b"</ul></body></html>"),
    ("deeply nested", b"<html><body>" + b"<div>" * 5000 + b"<p>Deep text.</p>" + b"</div>" * 5000 + b"</body></html>"),
    ("binary garbage", bytes(range(256)) * 200),
    ("truncated markup", b"<html><body><article><p>An article cut off in the middle of a sent"),
])
def test_pages_that_are_not_articles_fail_cleanly(server, engine, fetcher, settings, name, body) -> None:  # type: ignore[no-untyped-def]
    feed = server.route("/f.xml", Reply(200, rss("O", [{"title": name, "link": server.url("/page")}]), {"Content-Type": "application/rss+xml"}))
    server.route("/page", Reply(200, body))
    [result] = run(engine, fetcher, settings, [FeedConfig(feed)])
    assert result.status == "failed" and result.error


def test_enormous_page_within_the_cap_is_extracted(server, engine, fetcher, settings) -> None:
    paragraphs = "\n".join(f"Paragraph {i} of a very long live blog about the summit, with enough words to count as text." for i in range(12000))
    page = article_html("Live blog", parse_plain_text(paragraphs))
    assert len(page) > 1_000_000
    feed = server.route("/f.xml", Reply(200, rss("O", [{"title": "Live", "link": server.url("/big")}]), {"Content-Type": "application/rss+xml"}))
    server.route("/big", Reply(200, page))
    [result] = run(engine, fetcher, settings.with_overrides(max_bytes=3_000_000), [FeedConfig(feed)])
    assert result.status == "stored", result.error
    with Session(engine) as s:
        blocks = json.loads(s.exec(select(ArticleVersion)).one().blocks)
    assert len(blocks) == 12000 and blocks[-1]["text"].startswith("Paragraph 11999 of a very long live blog")


@pytest.mark.parametrize("charset,text", [
    ("windows-1251", "Министр обороны США Пит Хегсет заявил в Токио, что Япония является незаменимым партнёром в сдерживании Китая. Переговоры продолжались несколько часов."),
    ("shift_jis", "ヘグセス米国防長官は東京で中谷防衛相と会談し、在日米軍の司令部機能を強化する方針を表明した。会談は数時間に及んだ。" * 2),
    ("iso-8859-2", "Minister obrony Stanów Zjednoczonych Pete Hegseth zapowiedział w Tokio wzmocnienie dowództwa wojsk amerykańskich w Japonii. Rozmowy trwały kilka godzin, powiedział rzecznik."),
    # Thai marks no sentence end and writes phrases without spaces: it is still prose.
    ("tis-620", "นายกรัฐมนตรีเดินทางถึงกรุงโตเกียวเมื่อวันจันทร์เพื่อหารือกับผู้นำญี่ปุ่นเรื่องการค้าและความมั่นคงในภูมิภาค "
                "ทั้งสองฝ่ายตกลงที่จะขยายความร่วมมือด้านพลังงานสะอาดและการลงทุนในโครงสร้างพื้นฐาน"),
    ("utf-8", "अमेरिकी रक्षा मंत्री पीट हेगसेथ ने टोक्यो में जापान के रक्षा मंत्री से मुलाकात की। दोनों देशों ने सैन्य सहयोग बढ़ाने पर सहमति जताई। बातचीत कई घंटे चली।"),
])
def test_pages_in_other_charsets_are_decoded(server, engine, fetcher, settings, charset: str, text: str) -> None:
    doc = parse_plain_text(text + "\n" + "(2) " + text)  # two distinct paragraphs: trafilatura drops repeats
    feed = server.route("/f.xml", Reply(200, rss("O", [{"title": "T", "link": server.url("/p")}]), {"Content-Type": "application/rss+xml"}))
    server.route("/p", Reply(200, article_html("T", doc, charset=charset), {"Content-Type": f"text/html; charset={charset}"}))
    [result] = run(engine, fetcher, settings, [FeedConfig(feed)])
    assert result.status == "stored"
    with Session(engine) as s:
        assert text[:20] in json.loads(s.exec(select(ArticleVersion)).one().blocks)[0]["text"]
