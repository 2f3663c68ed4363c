"""The one HTTP client every feed and article goes through, so that politeness (per-host
spacing, Retry-After, conditional GET) and protection (address policy on every redirect hop,
size caps measured after decompression, an overall deadline against trickling servers) hold
everywhere, for the seeds demo, the tests and the open web alike."""

from __future__ import annotations

import email.utils
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin

import httpcore
import httpx

from newsdelta.errors import (
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RateLimited,
    TooLarge,
    TooManyRedirects,
    UnsupportedContent,
)
from newsdelta.settings import Settings
from newsdelta.urls import HostPolicy

Kind = Literal["feed", "html"]
_REDIRECTS = {301, 302, 303, 307, 308}
# Longest Retry-After we wait out inside a run; longer ones defer the feed to a later run.
MAX_INLINE_WAIT_S = 30.0

_FEED_TYPES = ("xml", "rss", "atom", "rdf", "json", "text/plain", "text/html")
_HTML_TYPES = ("text/html", "application/xhtml", "text/plain")


@dataclass
class Page:
    url: str  # final URL after redirects
    status: int
    headers: dict[str, str]
    body: bytes = b""
    not_modified: bool = False
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class HostThrottle:
    """Per-host spacing between requests and Retry-After pauses, shared by all threads of a run."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, host: str) -> float:
        """Reserve the next slot for `host`; return how long the caller must sleep first."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, 0.0))
            self._next[host] = slot + self.delay_s
            return slot - now

    def pause(self, host: str, seconds: float) -> None:
        with self._lock:
            self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + seconds)

    def blocked_for(self, host: str) -> float:
        with self._lock:
            return max(0.0, self._next.get(host, 0.0) - time.monotonic() - self.delay_s)

    def queued(self) -> dict[str, float]:
        """Hosts whose requests are waiting for their turn, each with how long until the last
        reserved slot comes (what the run's progress shows as waiting on per-host spacing)."""
        with self._lock:
            now = time.monotonic()
            return {host: slot - self.delay_s - now for host, slot in self._next.items() if slot - self.delay_s > now}


_throttles: weakref.WeakSet[HostThrottle] = weakref.WeakSet()


def hosts_waiting() -> dict[str, float]:
    """`queued()` over every throttle alive in this process."""
    out: dict[str, float] = {}
    for throttle in list(_throttles):
        for host, seconds in throttle.queued().items():
            out[host] = max(seconds, out.get(host, 0.0))
    return out


# The addresses the host policy accepted for the request being made in this thread.
_VETTED: ContextVar[tuple[str, ...]] = ContextVar("newsdelta_vetted_addresses", default=())


@contextmanager
def connect_only_to(addresses: tuple[str, ...]) -> Iterator[None]:
    """Requests made inside this block through a `VettedTransport` connect to `addresses` and
    nowhere else, whatever the host name resolves to by then."""
    token = _VETTED.set(addresses)
    try:
        yield
    finally:
        _VETTED.reset(token)


class _VettedBackend(httpcore.SyncBackend):
    """Opens TCP connections to the vetted addresses instead of resolving the host name again:
    a name that answered with a public address for the check and answers with a private one
    now (DNS rebinding) still reaches only the checked address. The name itself is kept for
    everything else: httpcore sends it as TLS SNI and verifies the certificate against it,
    and the Host header comes from the URL."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        addresses = _VETTED.get()
        if not addresses:  # fail closed: a connection nobody vetted is not made
            raise httpcore.ConnectError(f"no checked address to connect to for {host}")
        for address in addresses[:-1]:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError:
                continue  # the next address, as socket.create_connection would
        return super().connect_tcp(addresses[-1], port, timeout, local_address, socket_options)


class VettedTransport(httpx.HTTPTransport):
    """httpx's own transport (TLS, HTTP/1.1, pooling, its exception mapping) with connections
    opened only to the addresses set by `connect_only_to`."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx takes no network backend, so its pool is replaced by one with the same
        # settings (httpx's defaults) that connects through ours.
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=_VettedBackend(),
                                             max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class Fetcher:
    def __init__(self, settings: Settings, throttle: HostThrottle | None = None) -> None:
        self.settings = settings
        self.policy = HostPolicy(settings.allow_hosts)
        self.throttle = throttle or HostThrottle(settings.per_host_delay_s)
        _throttles.add(self.throttle)
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(settings.timeout_s),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
            transport=VettedTransport(),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, kind: Kind, etag: str | None = None, last_modified: str | None = None) -> Page:
        headers = {"Accept": _accept(kind)}
        if etag:
            headers["If-None-Match"] = etag
        elif last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.settings.timeout_s
        visited: list[str] = []
        current = url
        while True:
            addresses = self.policy.check(current)  # again after every redirect: a public host may point inward
            self._wait_turn(current)
            try:
                with connect_only_to(addresses):
                    page = self._request(current, headers, deadline)
            except httpx.TimeoutException:
                raise FetchTimeout(current, f"timed out after {self.settings.timeout_s:.0f}s") from None
            except httpx.HTTPError as exc:
                raise FetchError(current, f"connection failed: {type(exc).__name__}") from None
            if page.status in _REDIRECTS and "location" in page.headers:
                visited.append(current)
                target = urljoin(current, page.headers["location"])
                if target in visited:
                    raise TooManyRedirects(url, "redirect loop")
                if len(visited) > self.settings.max_redirects:
                    raise TooManyRedirects(url, f"more than {self.settings.max_redirects} redirects")
                current = target
                continue
            page.redirects = visited
            return self._check(page, kind)

    def _wait_turn(self, url: str) -> None:
        host = httpx.URL(url).host
        blocked = self.throttle.blocked_for(host)
        if blocked > MAX_INLINE_WAIT_S:
            raise RateLimited(url, 429, blocked)
        wait = self.throttle.reserve(host)
        if wait > 0:
            time.sleep(wait)

    def _request(self, url: str, headers: dict[str, str], deadline: float) -> Page:
        with self._client.stream("GET", url, headers=headers) as response:
            page = Page(url=str(response.url), status=response.status_code, headers={k.lower(): v for k, v in response.headers.items()})
            if page.status in _REDIRECTS or page.status == 304:
                page.not_modified = page.status == 304
                return page
            if page.status >= 400:
                self._raise_status(url, page)
            declared = page.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.settings.max_bytes * 4:
                raise TooLarge(url, f"declared body of {int(declared)} bytes exceeds the cap")
            page.body = self._read_capped(url, response, page.headers.get("content-encoding", ""), deadline)
            return page

    def _read_capped(self, url: str, response: httpx.Response, encoding: str, deadline: float) -> bytes:
        """Read the raw stream and decompress it ourselves with a bounded output size, so a
        compression bomb stops at the cap instead of filling memory."""
        cap = self.settings.max_bytes
        encoding = encoding.strip().lower()
        if encoding in ("gzip", "x-gzip"):
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            decompressor = zlib.decompressobj()
        elif encoding in ("", "identity"):
            decompressor = None
        else:
            raise UnsupportedContent(url, f"unsupported content-encoding {encoding!r}")
        out = bytearray()
        for chunk in response.iter_raw():  # as received: a fixed chunk size would buffer a trickle
            if time.monotonic() > deadline:
                raise FetchTimeout(url, f"body not received within {self.settings.timeout_s:.0f}s")
            if decompressor is None:
                out += chunk
            else:
                try:
                    out += decompressor.decompress(chunk, cap + 1 - len(out))
                    if decompressor.unconsumed_tail:
                        raise TooLarge(url, f"body exceeds {cap} bytes after decompression")
                except zlib.error as exc:
                    raise FetchError(url, f"corrupt {encoding} body: {exc}") from None
            if len(out) > cap:
                raise TooLarge(url, f"body exceeds {cap} bytes")
        return bytes(out)

    def _raise_status(self, url: str, page: Page) -> None:
        retry_after = parse_retry_after(page.headers.get("retry-after"))
        if page.status in (429, 503) and retry_after is not None:
            self.throttle.pause(httpx.URL(url).host, retry_after)
            raise RateLimited(url, page.status, retry_after)
        raise HTTPStatusError(url, page.status)

    def _check(self, page: Page, kind: Kind) -> Page:
        if page.not_modified:
            return page
        ctype = page.content_type
        allowed = _FEED_TYPES if kind == "feed" else _HTML_TYPES
        if ctype and not any(a in ctype for a in allowed):
            raise UnsupportedContent(page.url, f"content type {ctype} is not {'a feed' if kind == 'feed' else 'an HTML page'}")
        if not page.body.strip():
            raise FetchError(page.url, "empty body")
        return page


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _accept(kind: Kind) -> str:
    if kind == "feed":
        return "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
    return "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
