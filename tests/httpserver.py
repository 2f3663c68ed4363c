"""A real HTTP server on 127.0.0.1 whose answers tests script per path: status, headers, body,
delays, trickled bodies, redirects. Every request is recorded with its headers, and with how
its answer ended (sent in full, or cut off by a client that hung up).

The server binds port 0 itself and keeps the socket the OS gave it: no free port is guessed."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line (cut short when the server stops)
    trickle_s: float = 0.0  # between body bytes
    gzip: bool = False


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes = b""
    # How the answer ended, once `answered` is set: `body_sent` bytes of the body written, and
    # `hung_up` when the client closed the connection before all of it was.
    answered: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    body_sent: int = field(default=0, compare=False)
    hung_up: bool = field(default=False, compare=False)


Route = Reply | Callable[[Request], Reply]


class ScriptedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route | list[Route]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # ends scripted delays, so no handler outlives the test
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll interval: stop() waits for the serving loop to notice, once per test.
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, reply: Route | list[Route]) -> str:
        """Script `path`. A list is answered in order, its last item repeated."""
        self.routes[path] = reply
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next(self, request: Request) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            route = self.routes.get(request.path.split("?")[0])
            if isinstance(route, list):
                item = route.pop(0) if len(route) > 1 else route[0]
            else:
                item = route
        if item is None:
            return None
        return item(request) if callable(item) else item


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # clients that hang up early (timeouts, size caps) are what the tests provoke


class _Handler(BaseHTTPRequestHandler):
    server_ref: ScriptedServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length))

    def _answer(self, body: bytes) -> None:
        request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            self._reply(request)
        finally:
            request.answered.set()

    def _reply(self, request: Request) -> None:
        stopping = self.server_ref.stopping
        reply = self.server_ref._next(request)
        if reply is None:
            reply = Reply(404, b"not found", {"Content-Type": "text/plain"})
        if reply.delay_s:
            stopping.wait(reply.delay_s)
        payload = gzip.compress(reply.body) if reply.gzip else reply.body
        try:
            self.send_response(reply.status)
            headers = {"Content-Type": "text/html; charset=utf-8", **reply.headers}
            if reply.gzip:
                headers["Content-Encoding"] = "gzip"
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if reply.trickle_s:
                for i in range(len(payload)):
                    self.wfile.write(payload[i : i + 1])
                    self.wfile.flush()
                    request.body_sent = i + 1
                    stopping.wait(reply.trickle_s)
            else:
                self.wfile.write(payload)
                self.wfile.flush()
                request.body_sent = len(payload)
        except (BrokenPipeError, ConnectionResetError):
            request.hung_up = True

    def log_message(self, *args: object) -> None:
        pass
