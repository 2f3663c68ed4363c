"""The fetcher against a real HTTP server on 127.0.0.1: conditional GET, Retry-After, size caps,
compression bombs, redirects, timeouts, content types, and the address policy (SSRF)."""

from __future__ import annotations

import email.utils
import gzip
from types import SimpleNamespace

import pytest

from newsdelta import http_client
from newsdelta.errors import (
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RateLimited,
    TooLarge,
    TooManyRedirects,
    UnsupportedContent,
)
from newsdelta.http_client import Fetcher, HostThrottle, parse_retry_after
from newsdelta.urls import normalize_url
from tests.httpserver import Reply

PAGE = b"<html><body><p>hello</p></body></html>"


def test_sends_if_none_match_else_if_modified_since_and_understands_304(server, fetcher: Fetcher) -> None:
    url = server.route("/feed", [Reply(200, b"<rss/>", {"ETag": '"v1"', "Content-Type": "application/rss+xml"}), Reply(304)])
    first = fetcher.get(url, "feed")
    assert first.headers["etag"] == '"v1"' and not first.not_modified
    second = fetcher.get(url, "feed", etag='"v1"', last_modified="Sun, 30 Mar 2025 08:00:00 GMT")
    assert second.not_modified and second.status == 304
    assert server.hits("/feed")[1].headers["if-none-match"] == '"v1"'
    assert "if-modified-since" not in server.hits("/feed")[1].headers
    fetcher.get(url, "feed", last_modified="Sun, 30 Mar 2025 08:00:00 GMT")
    assert server.hits("/feed")[2].headers["if-modified-since"] == "Sun, 30 Mar 2025 08:00:00 GMT"


def test_retry_after_is_honoured_and_pauses_the_host(server, fetcher: Fetcher) -> None:
    url = server.route("/busy", Reply(429, b"slow down", {"Retry-After": "120"}))
    with pytest.raises(RateLimited) as info:
        fetcher.get(url, "html")
    assert info.value.retry_after_s == 120
    # The host is now paused for longer than we wait inline: refused without a request.
    server.route("/other", Reply(200, PAGE))
    with pytest.raises(RateLimited):
        fetcher.get(server.url("/other"), "html")
    assert server.hits("/other") == []


def test_retry_after_http_date(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_743_321_600.0  # 2025-03-30 08:00:00 UTC, frozen for the parser
    monkeypatch.setattr(http_client, "time", SimpleNamespace(time=lambda: now))
    assert parse_retry_after(email.utils.formatdate(now + 60, usegmt=True)) == 60.0
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True)) == 0.0, "a date in the past: retry now"
    assert parse_retry_after("nonsense") is None


def test_per_host_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(http_client, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    throttle = HostThrottle(0.2)
    waits = [throttle.reserve("a.example") for _ in range(3)]
    assert waits == [0.0, pytest.approx(0.2), pytest.approx(0.4)]
    assert throttle.reserve("b.example") == 0
    clock[0] += 0.5  # a.example's next free slot is 0.6 s after the first
    assert throttle.reserve("a.example") == pytest.approx(0.1)
    clock[0] += 10
    assert throttle.reserve("a.example") == 0


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_error_statuses_raise_with_retryability(server, fetcher: Fetcher, status: int) -> None:
    url = server.route("/e", Reply(status, b"no"))
    with pytest.raises(HTTPStatusError) as info:
        fetcher.get(url, "html")
    assert info.value.status == status
    assert info.value.retryable is (status >= 500)


def test_body_over_the_cap_is_refused(server, settings) -> None:
    url = server.route("/big", Reply(200, b"x" * 50_000))
    with Fetcher(settings.with_overrides(max_bytes=10_000)) as small, pytest.raises(TooLarge):
        small.get(url, "html")


def test_gzip_bomb_stops_at_the_cap_without_inflating(server, settings) -> None:
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)  # ~200 kB on the wire
    url = server.route("/bomb", Reply(200, bomb, {"Content-Encoding": "gzip"}))
    with Fetcher(settings.with_overrides(max_bytes=1_000_000)) as small, pytest.raises(TooLarge):
        small.get(url, "html")


def test_gzip_body_is_decoded(server, fetcher: Fetcher) -> None:
    url = server.route("/gz", Reply(200, PAGE, gzip=True))
    assert fetcher.get(url, "html").body == PAGE


def test_redirect_loop_and_long_chains(server, fetcher: Fetcher) -> None:
    server.route("/a", Reply(302, b"", {"Location": "/b"}))
    server.route("/b", Reply(302, b"", {"Location": "/a"}))
    with pytest.raises(TooManyRedirects, match="loop"):
        fetcher.get(server.url("/a"), "html")
    for i in range(10):
        server.route(f"/c{i}", Reply(301, b"", {"Location": f"/c{i + 1}"}))
    with pytest.raises(TooManyRedirects, match="more than"):
        fetcher.get(server.url("/c0"), "html")


def test_redirect_is_followed_and_recorded(server, fetcher: Fetcher) -> None:
    server.route("/old", Reply(301, b"", {"Location": "/new"}))
    server.route("/new", Reply(200, PAGE))
    page = fetcher.get(server.url("/old"), "html")
    assert page.url.endswith("/new") and page.redirects == [server.url("/old")]


def test_slow_server_times_out(server, settings) -> None:
    url = server.route("/slow", Reply(200, PAGE, delay_s=120))  # answers only when the test ends
    with Fetcher(settings.with_overrides(timeout_s=0.5)) as quick, pytest.raises(FetchTimeout):
        quick.get(url, "html")


def test_trickling_body_hits_the_overall_deadline(server, settings) -> None:
    """A byte every 50 ms never trips a per-read timeout; only the deadline for the whole
    request stops it (the body would take 10 s)."""
    url = server.route("/trickle", Reply(200, b"x" * 200, trickle_s=0.05))
    with Fetcher(settings.with_overrides(timeout_s=1.0)) as quick, pytest.raises(FetchTimeout):
        quick.get(url, "html")
    [request] = server.hits("/trickle")
    assert request.answered.wait(60), "the server noticed the client leave"
    assert request.hung_up and request.body_sent < 200, "the client gave up mid-body"


@pytest.mark.parametrize("ctype", ["application/pdf", "image/png", "application/octet-stream", "video/mp4"])
def test_article_links_to_non_html_are_refused(server, fetcher: Fetcher, ctype: str) -> None:
    url = server.route("/file", Reply(200, b"%PDF-1.4 ...", {"Content-Type": ctype}))
    with pytest.raises(UnsupportedContent):
        fetcher.get(url, "html")


def test_empty_body_is_an_error(server, fetcher: Fetcher) -> None:
    url = server.route("/empty", Reply(200, b"  "))
    with pytest.raises(FetchError, match="empty"):
        fetcher.get(url, "html")


def test_url_normalisation_strips_tracking_and_fragments() -> None:
    assert normalize_url("HTTPS://Example.COM:443/a/b?utm_source=rss&id=7&fbclid=x#top") == "https://example.com/a/b?id=7"
    assert normalize_url("http://example.com") == "http://example.com/"
