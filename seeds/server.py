"""A small HTTP server for a directory of pages and feeds on 127.0.0.1, the stand-in for real
outlets in the demo and the tests. `{{BASE}}` in served files becomes the server's own address."""

from __future__ import annotations

import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

TYPES = {".xml": "application/rss+xml; charset=utf-8", ".html": "text/html; charset=utf-8"}


def seed_site() -> Path:
    return Path(str(resources.files("newsdelta.seeds") / "site"))


class SiteServer:
    def __init__(self, root: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = (root or seed_site()).resolve()
        handler = type("Handler", (_Handler,), {"root": self.root, "site": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        self.requests: list[str] = []
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    root: Path
    site: SiteServer

    def do_GET(self) -> None:
        self.site.requests.append(self.path)
        path = urlsplit(self.path).path
        target = (self.root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.root) or not target.is_file():
            self.send_error(404)
            return
        body = target.read_bytes().replace(b"{{BASE}}", self.site.base.encode())
        ctype = TYPES.get(target.suffix or ".html") or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass
