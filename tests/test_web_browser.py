"""The web view in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright),
one browser and one server for the module, over a database filled by the real ingest of the
seed outlets, an edited article and a hostile one (tests/web_support.py).

Without Chromium or Playwright these tests skip, saying why; under CI=true they fail instead.

WEB_SCREENSHOT=docs/story-page.png pytest tests/test_web_browser.py -k story_page  also saves
the story page's screenshot there (the README shows it; the committed one went through
`pngquant --quality 70-95`, a third of the size)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsdelta.storage.browse import read_only_engine
from tests.web_support import ADDED, CHINA, CHROMIUM, CHROMIUM_ARGS, HOSTILE_ADDED, IMG, SCRIPT, SIGNAL, WebData, filled_sqlite, required, serving

try:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    required("playwright is not installed (pip install -e '.[test]')")
if not CHROMIUM.exists():
    required(f"{CHROMIUM} is not installed (apt-get install chromium)")


class Watched:
    """A page and everything it said it should not have: dialogs opened, console errors and
    warnings (a Content-Security-Policy violation is one), uncaught script errors."""

    def __init__(self, page: Page) -> None:
        self.page, self.dialogs, self.console, self.errors = page, list[str](), list[str](), list[str]()
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    def clean(self) -> bool:
        return not (self.dialogs or self.console or self.errors)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, WebData]]:
    url, data = filled_sqlite(tmp_path_factory.mktemp("browser-home"))
    engine = read_only_engine(url)
    with serving(engine) as base:
        yield base, data
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page())
    yield watched
    context.close()


def test_the_story_page_shows_both_outlets_and_the_signal_section_as_new(site: tuple[str, WebData], page: Watched, tmp_path: Path) -> None:
    base, data = site
    p = page.page
    p.goto(f"{base}/stories/{data.hegseth_story}")
    timeline = p.locator("ol.timeline li.telling")
    assert timeline.count() == 2
    assert [timeline.nth(i).locator(".outlet").inner_text() for i in range(2)] == ["Harbor Times", "Meridian Post"]
    signal = p.locator("section.sec.new", has=p.get_by_role("heading", name=re.compile(SIGNAL)))
    assert signal.count() == 1 and signal.is_visible()
    assert "new section" in signal.locator("h4 .badge").inner_text().lower()
    china = signal.locator("mark.s.new", has_text=CHINA)
    assert china.count() == 1 and china.is_visible(), "the China sentence is inside the Signal section, marked new"
    assert _background(china.element_handle()) != "rgba(0, 0, 0, 0)", "and highlighted"
    assert _background(signal.element_handle()) != "rgba(0, 0, 0, 0)"
    assert p.locator("section.sec:not(.new)").count() >= 3, "the restated sections are not marked new"
    assert page.clean(), (page.dialogs, page.console, page.errors)
    p.screenshot(path=str(tmp_path / "story-page.png"), full_page=True)
    assert (tmp_path / "story-page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("WEB_SCREENSHOT"):
        p.screenshot(path=os.environ["WEB_SCREENSHOT"], full_page=True)


def test_a_restated_paragraph_shows_its_old_counterpart_beside_it(site: tuple[str, WebData], page: Watched) -> None:
    base, data = site
    p = page.page
    p.goto(f"{base}/stories/{data.hegseth_story}")
    paragraph = p.locator("div.para", has=p.locator("p.text", has_text="Emphasizing Japan’s status"))
    assert paragraph.count() == 1
    old = paragraph.locator("aside.beside blockquote.old")
    assert old.first.is_visible()
    assert "Hegseth said Japan is a “cornerstone of peace and security in the Indo-Pacific”" in old.first.inner_text()
    assert "Harbor Times" in old.first.locator("cite").inner_text()
    assert "first published by Harbor Times" in paragraph.locator("p.first").inner_text()
    # On a wide screen the old text stands beside the new one, not under it.
    text_box, old_box = paragraph.locator("p.text").bounding_box(), old.first.bounding_box()
    assert text_box is not None and old_box is not None and old_box["x"] > text_box["x"] + text_box["width"]
    assert page.clean(), (page.dialogs, page.console, page.errors)


def test_the_version_diff_of_an_edited_article_shows_the_added_sentence(site: tuple[str, WebData], page: Watched) -> None:
    base, data = site
    p = page.page
    p.goto(f"{base}/articles/{data.edited_article}")
    assert p.locator("table.versions tbody tr").count() == 2
    p.select_option("select[name=from]", "2")
    p.select_option("select[name=to]", "1")
    p.get_by_role("button", name="Show changes").click()
    p.wait_for_url(re.compile(r"from=2&to=1"))
    assert p.locator("ul.removed del", has_text=ADDED).is_visible(), "from 2 to 1 the sentence is removed"
    p.select_option("select[name=from]", "1")
    p.select_option("select[name=to]", "2")
    p.get_by_role("button", name="Show changes").click()
    p.wait_for_url(re.compile(r"from=1&to=2"))
    added = p.locator(".diff ins.s.added", has_text=ADDED)
    assert added.count() == 1 and added.is_visible()
    assert "1 sentence added" in p.locator("p.summary").inner_text()
    assert page.clean(), (page.dialogs, page.console, page.errors)


def test_hostile_markup_is_shown_as_text_and_no_script_runs(site: tuple[str, WebData], page: Watched) -> None:
    base, data = site
    p = page.page
    for path in ("/", f"/stories/{data.hostile_story}", f"/articles/{data.hostile_article}", f"/articles/{data.hostile_article}?from=1&to=2"):
        p.goto(base + path)
        assert p.locator("script").count() == 0 and p.locator("img").count() == 0, path
        assert p.locator("a[href^='javascript']").count() == 0, path
        body = p.locator("main").inner_text()
        assert SCRIPT in body and IMG in body, f"{path}: the markup is there, as text"
        assert p.title() != "pwned" and p.evaluate("document.title") != "pwned"
    p.goto(f"{base}/stories/{data.hostile_story}")
    new = p.locator("div.para.new")
    assert new.count() == 1 and new.locator("p.text").inner_text().endswith(HOSTILE_ADDED)
    assert page.clean(), (page.dialogs, page.console, page.errors)


def test_the_list_filters(site: tuple[str, WebData], page: Watched) -> None:
    base, data = site
    p = page.page
    p.goto(base + "/")
    rows = p.locator("table.stories tr.story")
    assert rows.count() == 3
    p.get_by_label("Text").fill("hegseth")
    p.get_by_role("button", name="Filter").click()
    p.wait_for_url(re.compile(r"q=hegseth"))
    assert rows.count() == 1 and rows.first.locator("td.headline").inner_text().startswith("Hegseth announces plan")
    assert "2" in rows.first.locator("td.outlets .count").inner_text() and "Meridian Post" in rows.first.locator("td.outlets").inner_text()
    assert rows.first.locator("td.findings").inner_text().strip() == "1"
    p.get_by_label("Text").fill("")
    p.get_by_label("Outlet").select_option("Corran Desk")
    p.get_by_role("button", name="Filter").click()
    p.wait_for_url(re.compile(r"outlet=Corran"))
    assert rows.count() == 2
    p.get_by_label("Changed from").fill("2001-01-01")
    p.get_by_label("to", exact=True).fill("2001-01-02")
    p.get_by_role("button", name="Filter").click()
    p.wait_for_url(re.compile(r"from=2001-01-01"))
    assert rows.count() == 0 and "No stories match" in p.locator("main").inner_text()
    p.get_by_role("link", name="clear").click()
    assert rows.count() == 3
    rows.first.locator("td.headline a").click()
    assert p.locator("h1").count() == 1 and "/stories/" in p.url
    assert page.clean(), (page.dialogs, page.console, page.errors)


def test_pages_fit_a_phone(site: tuple[str, WebData], browser: Browser) -> None:
    base, data = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    watched = Watched(context.new_page())
    try:
        for path in ("/", f"/stories/{data.hegseth_story}", f"/articles/{data.edited_article}", f"/stories/{data.hostile_story}"):
            watched.page.goto(base + path)
            width: Any = watched.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{path} scrolls sideways on a phone: {width}"
        assert watched.clean(), (watched.dialogs, watched.console, watched.errors)
    finally:
        context.close()


def _background(element: Any) -> str:
    return str(element.evaluate("e => getComputedStyle(e).backgroundColor"))
