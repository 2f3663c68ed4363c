"""DNS rebinding: the fetcher connects to the very address its host policy checked. A name that
answers with an allowed address for the check and with a private one a moment later (when a
client resolves again to connect) must never reach the private one; the name is still what
the server sees in the Host header and what TLS verifies the certificate against.

The resolver is scripted (socket.getaddrinfo replaced for one made-up name). No test ever
connects outside the loopback range: 127.0.0.2, allowed by CIDR, stands for a public address
(nothing listens there), and 127.0.0.1 for the internal service an attacker aims at."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsdelta.errors import BlockedURL, FetchError
from newsdelta.http_client import Fetcher, VettedTransport, connect_only_to
from tests.httpserver import Reply, ScriptedServer
from tests.tls import make_ca

PAGE = b"<html><body><p>internal admin page</p></body></html>"
_REAL_GETADDRINFO = socket.getaddrinfo


class Resolver:
    """socket.getaddrinfo for one made-up name, answering from a script (its last answer
    repeated); every other name or address resolves as usual."""

    def __init__(self, name: str, answers: list[str]) -> None:
        self.name, self.answers, self.calls = name, list(answers), 0

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != self.name:
            return _REAL_GETADDRINFO(host, port, *args, **kwargs)
        self.calls += 1
        address = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return _REAL_GETADDRINFO(address, port, *args, **kwargs)


def as_name(server: ScriptedServer, name: str, path: str) -> str:
    return server.url(path).replace("127.0.0.1", name)


def test_a_name_rebinding_to_loopback_after_the_check_never_reaches_it(server, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.route("/admin", Reply(200, PAGE))
    resolver = Resolver("rebind.test", ["127.0.0.2", "127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    public_only = settings.with_overrides(allow_hosts=("127.0.0.2/32",))
    with Fetcher(public_only) as fetcher, pytest.raises(FetchError, match="connection failed"):
        fetcher.get(as_name(server, "rebind.test", "/admin"), "html")  # went to 127.0.0.2, where nothing listens
    assert server.hits("/admin") == [], "the rebound address was reached"
    assert resolver.calls == 1, "the name was resolved again after the check"


def test_a_checked_name_is_fetched_at_its_checked_address_and_checked_again_next_time(server, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server.route("/story", Reply(200, PAGE))
    monkeypatch.setattr(socket, "getaddrinfo", Resolver("news.test", ["127.0.0.1", "127.0.0.3"]))
    url = as_name(server, "news.test", "/story")
    with Fetcher(settings.with_overrides(allow_hosts=("127.0.0.1/32",))) as fetcher:
        assert fetcher.get(url, "html").body == PAGE
        with pytest.raises(BlockedURL, match="127.0.0.3"):
            fetcher.get(url, "html")  # the name now points elsewhere, not allowed: refused before any connection
    [hit] = server.hits("/story")
    assert hit.headers["host"] == url.split("/")[2], "the Host header names the host, not the address"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext, list[str]]]:
    """An HTTPS server on 127.0.0.1 whose certificate names news.test only; it records the
    server name (SNI) each client asked for."""
    ca = make_ca(tmp_path / "ca", names=("news.test",), addresses=())
    names: list[str] = []
    context = ca.server_context()
    context.sni_callback = lambda _sock, name, _ctx: names.append(str(name)) and None  # type: ignore[assignment,func-returns-value]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield httpd.server_address[1], ca.client_context(), names
    httpd.shutdown()
    httpd.server_close()


def test_tls_to_a_checked_address_still_verifies_the_certificate_for_the_name(https_server) -> None:  # type: ignore[no-untyped-def]
    port, trust, names = https_server
    with httpx.Client(transport=VettedTransport(trust)) as client:
        with connect_only_to(("127.0.0.1",)):
            assert client.get(f"https://news.test:{port}/").text == "hello"
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|match"):
                client.get(f"https://other.test:{port}/")  # same address, a name the certificate does not carry
        with pytest.raises(httpx.ConnectError, match="no checked address"):
            client.get(f"https://news.test:{port}/again")  # nothing vetted: no connection at all
    assert names[0] == "news.test"
