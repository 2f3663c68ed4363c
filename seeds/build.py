"""Turn the founding articles (seeds/texts, the user's seed documents) into what real outlets publish: an HTML article
page per outlet, with navigation, byline and related links around the text, and an RSS feed
per outlet, the rewrite published a day after the original.

Run: python -m newsdelta.seeds.build [SEED_TEXTS_DIR]
The output (seeds/site/) is committed, so the demo needs nothing outside the package.
Links in the output hold the placeholder {{BASE}}, replaced by the demo server's address.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from pathlib import Path

from textdelta.blocks import looks_like_heading

HERE = Path(__file__).resolve().parent
SITE = HERE / "site"
TEXTS = HERE / "texts"


@dataclass(frozen=True)
class Outlet:
    slug: str
    name: str
    source_prefix: str  # which shared seed file this outlet publishes
    title: str
    author: str
    published: str  # RFC 822 for RSS
    published_iso: str
    path: str
    tagline: str


OUTLETS = (
    Outlet("harbor-times", "Harbor Times", "000_", "Hegseth announces plan for US command upgrades in Japan to deter China",
           "Staff and wire reports", "Sun, 30 Mar 2025 08:15:00 +0000", "2025-03-30T08:15:00+00:00",
           "/world/asia/2025/03/30/hegseth-japan-command-upgrade.html", "News from the Pacific rim"),
    Outlet("meridian-post", "Meridian Post", "002_", "Hegseth reaffirms Japan's role as US upgrades military command in Tokyo",
           "Dana Whitfield", "Mon, 31 Mar 2025 06:40:00 +0000", "2025-03-31T06:40:00+00:00",
           "/politics/defense/hegseth-japan-military-command-signal-chat", "Independent reporting since 1998"),
)
_FEED_FOOTER = "appeared first on"


def paragraphs(text: str) -> list[tuple[str, str]]:
    blocks = []
    for line in text.splitlines():
        line = line.strip()
        if not line or _FEED_FOOTER in line:
            continue  # the "The post ... appeared first on ..." line is an RSS footer, not article text
        blocks.append(("h2" if looks_like_heading(line) else "p", line))
    return blocks


def article_page(outlet: Outlet, blocks: list[tuple[str, str]]) -> str:
    e = html.escape
    body = "\n".join(f"      <{tag}>{e(text)}</{tag}>" for tag, text in blocks)
    other = [o for o in OUTLETS if o is not outlet]
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{e(outlet.title)} | {e(outlet.name)}</title>
  <meta name="description" content="{e(blocks[0][1][:150])}">
  <meta name="author" content="{e(outlet.author)}">
  <meta property="og:title" content="{e(outlet.title)}">
  <meta property="og:site_name" content="{e(outlet.name)}">
  <meta property="og:type" content="article">
  <meta property="article:published_time" content="{outlet.published_iso}">
  <link rel="canonical" href="{{{{BASE}}}}/{outlet.slug}{outlet.path}">
  <link rel="alternate" type="application/rss+xml" href="{{{{BASE}}}}/{outlet.slug}/feed.xml">
</head>
<body>
  <header class="masthead">
    <a href="{{{{BASE}}}}/{outlet.slug}/">{e(outlet.name)}</a> <span>{e(outlet.tagline)}</span>
    <nav><a href="#">World</a> <a href="#">Politics</a> <a href="#">Business</a> <a href="#">Opinion</a> <a href="#">Subscribe</a></nav>
  </header>
  <main>
    <article>
      <h1>{e(outlet.title)}</h1>
      <p class="byline">By <span class="author">{e(outlet.author)}</span> · <time datetime="{outlet.published_iso}">{outlet.published_iso[:10]}</time></p>
{body}
    </article>
    <aside class="related">
      <h3>More from {e(outlet.name)}</h3>
      <ul><li><a href="#">Markets close mixed ahead of jobs report</a></li><li><a href="#">Weather: storms expected along the coast</a></li></ul>
    </aside>
  </main>
  <footer>© 2025 {e(outlet.name)}. All rights reserved. <a href="#">Privacy</a> <a href="#">Terms</a> <a href="#">Contact</a>
    <!-- sister outlet: {e(other[0].name)} --></footer>
</body>
</html>
"""


def feed(outlet: Outlet, blocks: list[tuple[str, str]]) -> str:
    e = html.escape
    summary = e(blocks[0][1])
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>{e(outlet.name)}</title>
    <link>{{{{BASE}}}}/{outlet.slug}/</link>
    <description>{e(outlet.tagline)}</description>
    <language>en</language>
    <lastBuildDate>{outlet.published}</lastBuildDate>
    <item>
      <title>{e(outlet.title)}</title>
      <link>{{{{BASE}}}}/{outlet.slug}{outlet.path}?utm_source=rss&amp;utm_medium=feed</link>
      <guid isPermaLink="false">{outlet.slug}-{outlet.published_iso[:10]}-hegseth-japan</guid>
      <pubDate>{outlet.published}</pubDate>
      <dc:creator>{e(outlet.author)}</dc:creator>
      <description>{summary}</description>
    </item>
  </channel>
</rss>
"""


def build(source: Path = TEXTS, out: Path = SITE) -> list[Path]:
    written = []
    for outlet in OUTLETS:
        text_file = next(source.glob(f"{outlet.source_prefix}*.txt"))
        blocks = paragraphs(text_file.read_text("utf-8"))
        page = out / outlet.slug / outlet.path.lstrip("/")
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(article_page(outlet, blocks), "utf-8")
        feed_file = out / outlet.slug / "feed.xml"
        feed_file.write_text(feed(outlet, blocks), "utf-8")
        written += [page, feed_file]
    return written


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else TEXTS):
        print(path.relative_to(HERE.parent))
