"""The web view: Starlette routes over the read-only views, HTML rendered by Jinja2 with
autoescaping on for every template, and a Content-Security-Policy that allows no script at all
(the pages have none) and styles only from /static.

Routes (GET only):

| page | JSON | what |
|---|---|---|
| `/` | `/api/stories` | stories, most recent activity first; `q`, `outlet`, `from`, `to` (dates), `after` (next page) |
| `/stories/{id}` | `/api/stories/{id}` (`show --json`), `/api/stories/{id}/page` | the timeline and the annotated findings |
| `/articles/{id}` | `/api/articles/{id}` | versions; `from`, `to`: the diff between two version numbers |
| `/feeds` | `/api/feeds` | feed health |
| `/alerts` | `/api/alerts` | the outbox; `status` |

The process imports neither Prefect nor the ingest: it reads."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from newsdelta.redact import redact
from newsdelta.storage import browse
from newsdelta.storage.db import session_scope
from newsdelta.views import alerts_view, feeds_view, stories_page, story_json, story_view
from newsdelta.views.pages import article_page, story_page
from textdelta import Block, Document, compare_to_story

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
ALERT_STATUSES = ("pending", "sending", "sent", "failed")

# No script from anywhere (the pages have none), styles and images from this server only, forms
# submit only here, and no page can be framed.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BadRequest(Exception):
    """A query parameter that cannot be read; the message says which and why."""


class SecurityHeaders:
    """Adds the security headers to every response, and a Server-Timing header with the time
    the application took (the benchmark reads it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS, (b"server-timing", f"app;dur={took:.1f}".encode())]
            await send(message)

        await self.app(scope, receive, with_headers)


# --- rendering -----------------------------------------------------------------------------

def _when(value: datetime | str | None) -> str:
    if value is None:
        return "date unknown"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _href(url: str | None) -> str | None:
    """A link only to http(s): a stored URL is data, and `javascript:` is not a place."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _no_credentials(text: str | None) -> str | None:
    """Text with the user:password part of any URL in it removed, and registered secrets masked."""
    return None if text is None else redact(_USERINFO.sub("***@", text))


class _Environment(Environment):
    """Jinja2 reads `x.name` as getattr first, then x["name"]: for the dicts the pages are made
    of, every lookup raised and caught an AttributeError, and that was 40% of rendering a big
    story page. Dicts are read by key first here."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def environment() -> Environment:
    env = _Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["href"] = _href
    env.filters["plural"] = lambda n, word: f"{n} {word}" + ("" if n == 1 else "s")
    return env


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


class ApiResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=_json_default, separators=(",", ":")).encode("utf-8")


# --- reading the query -----------------------------------------------------------------------

def _date(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected a date as YYYY-MM-DD, got {raw[:40]!r}") from None


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise BadRequest(f"{name}: expected a whole number, got {raw[:40]!r}")
    return int(raw)


def _story_filter(request: Request) -> browse.StoryFilter:
    since, until = _date(request, "from"), _date(request, "to")
    if since and until and until < since:
        raise BadRequest("to: the date range ends before it begins")
    return browse.StoryFilter(
        text=request.query_params.get("q", "").strip()[:200],
        outlet=request.query_params.get("outlet", "").strip()[:200],
        since=datetime.combine(since, datetime.min.time(), UTC) if since else None,
        until=datetime.combine(until, datetime.min.time(), UTC) + timedelta(days=1) if until else None,
    )


def _cursor(request: Request) -> browse.Cursor | None:
    raw = request.query_params.get("after", "").strip()
    if not raw:
        return None
    at, _, story_id = raw.rpartition(",")
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise BadRequest("after: not a page of this list") from None
    if not story_id.isdigit() or when.tzinfo is None:
        raise BadRequest("after: not a page of this list")
    return browse.Cursor(when.astimezone(UTC), int(story_id))


def _cursor_text(cursor: browse.Cursor) -> str:
    return f"{cursor.updated_at.astimezone(UTC).isoformat()},{cursor.story_id}"


# --- the application ---------------------------------------------------------------------------

def create_app(engine: Engine, allowed_hosts: list[str] | None = None, semantic: Any = None) -> Starlette:
    """The web view over `engine` (give it a read-only one: browse.read_only_engine).
    `allowed_hosts`: Host headers answered (DNS rebinding); None answers any. `semantic`: the
    sentence scorer matching uses (newsdelta.stages.match.semantic_scorer), or None."""
    env = environment()
    _warm_up(env)

    def page(name: str, code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=code)

    def not_found(request: Request, what: str) -> Response:
        if request.url.path.startswith("/api/"):
            return ApiResponse({"error": f"no {what}"}, status_code=404)
        return page("error.html", 404, title="Not found", message=f"There is no {what}.", nav="")

    def stories(request: Request) -> Response:
        where, after = _story_filter(request), _cursor(request)
        limit = min(_int(request, "n") or PAGE_SIZE, MAX_PAGE_SIZE)
        rows, following = stories_page(engine, where, after, limit)
        base = {k: v for k, v in (("q", where.text), ("outlet", where.outlet), ("from", request.query_params.get("from", "").strip()),
                                  ("to", request.query_params.get("to", "").strip())) if v}
        if limit != PAGE_SIZE:
            base["n"] = str(limit)
        next_query = urlencode({**base, "after": _cursor_text(following)}) if following else None
        if request.url.path.startswith("/api/"):
            headers = {"Link": f'</api/stories?{next_query}>; rel="next"'} if next_query else None
            return ApiResponse([story_json(r) for r in rows], headers=headers)
        with session_scope(engine) as session:
            outlets = browse.outlet_names(session)
        if where.outlet and where.outlet not in outlets:
            outlets = [*outlets, where.outlet]
        return page("stories.html", rows=rows, where=where, query=dict(base), outlets=outlets, paged=after is not None,
                    next_query=next_query, first_query=urlencode(base), nav="stories")

    def story(request: Request) -> Response:
        story_id = request.path_params["story_id"]
        if request.url.path.startswith("/api/"):
            view = story_view(engine, story_id)
            return ApiResponse(view) if view is not None else not_found(request, f"story {story_id}")
        data = story_page(engine, story_id, semantic)
        if data is None:
            return not_found(request, f"story {story_id}")
        return page("story.html", s=data, nav="stories")

    def story_api_page(request: Request) -> Response:
        story_id = request.path_params["story_id"]
        data = story_page(engine, story_id, semantic)
        return ApiResponse(data) if data is not None else not_found(request, f"story {story_id}")

    def article(request: Request) -> Response:
        article_id = request.path_params["article_id"]
        data = article_page(engine, article_id, _int(request, "from"), _int(request, "to"))
        if data is None:
            return not_found(request, f"article {article_id}")
        data["error"] = _no_credentials(data["error"])
        if request.url.path.startswith("/api/"):
            return ApiResponse(data)
        return page("article.html", a=data, nav="stories")

    def feeds(request: Request) -> Response:
        rows = feeds_view(engine)
        for row in rows:
            row["url"], row["error"] = _no_credentials(row["url"]), _no_credentials(row["error"])
        if request.url.path.startswith("/api/"):
            return ApiResponse(rows)
        return page("feeds.html", feeds=rows, nav="feeds")

    def alerts(request: Request) -> Response:
        status = request.query_params.get("status", "").strip() or None
        if status is not None and status not in ALERT_STATUSES:
            raise BadRequest(f"status: expected one of {', '.join(ALERT_STATUSES)}")
        rows = alerts_view(engine, status)
        for row in rows:
            row["last_error"] = _no_credentials(row["last_error"])
        if request.url.path.startswith("/api/"):
            return ApiResponse(rows)
        return page("alerts.html", alerts=rows, status=status, statuses=ALERT_STATUSES, nav="alerts")

    def favicon(_request: Request) -> Response:
        return Response((HERE / "static" / "favicon.svg").read_bytes(), media_type="image/svg+xml")

    async def bad_request(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return ApiResponse({"error": str(exc)}, status_code=400)
        return page("error.html", 400, title="Cannot read that address", message=str(exc), nav="")

    async def missing(request: Request, _exc: Exception) -> Response:
        return not_found(request, "such page")

    async def failed(request: Request, _exc: Exception) -> Response:
        # Never the exception's text: it may quote the database or a query.
        if request.url.path.startswith("/api/"):
            return ApiResponse({"error": "internal error"}, status_code=500)
        return page("error.html", 500, title="Something went wrong", message="The page could not be made; the server's log says why.", nav="")

    routes = [
        Route("/", stories), Route("/api/stories", stories),
        Route("/stories/{story_id:int}", story), Route("/api/stories/{story_id:int}", story),
        Route("/api/stories/{story_id:int}/page", story_api_page),
        Route("/articles/{article_id:int}", article), Route("/api/articles/{article_id:int}", article),
        Route("/feeds", feeds), Route("/api/feeds", feeds),
        Route("/alerts", alerts), Route("/api/alerts", alerts),
        Route("/favicon.ico", favicon),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={BadRequest: bad_request, 404: missing, 500: failed})


def _warm_up(env: Environment) -> None:
    """Compile the templates and load the text analysis's tables now, not in the first request
    (half a second the first story page would otherwise wait)."""
    for name in env.list_templates():
        env.get_template(name)
    doc = Document.from_blocks([Block("paragraph", "The council approved the budget on Tuesday. Officials said more would follow.")])
    compare_to_story([doc], doc)


# --- serving ---------------------------------------------------------------------------------

def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: one the system picks)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def allowed_hosts_for(host: str, public_url: str | None) -> list[str] | None:
    """Host headers the server answers: the names of this machine's loopback, the address it is
    bound to, and the public URL's host. Bound to every address without a public URL: any."""
    if host in ("0.0.0.0", "::", "") and not public_url:
        return None
    if ":" in host:  # an IPv6 literal: Starlette's host check cannot read one
        return None
    names = {"127.0.0.1", "localhost", host}
    if public_url and (public_host := urlsplit(public_url).hostname):
        names.add(public_host)
    return sorted(names)


def server(app: Starlette) -> Any:
    """A uvicorn server for `app` (start it with .run(sockets=[bind(...)]))."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", server_header=False))
