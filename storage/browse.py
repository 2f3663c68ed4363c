"""Reading for the web view (`newsdelta web`): an engine that cannot write, and the queries its
pages make. Nothing here changes a row; the ingest's queries are in repo.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from sqlalchemy import event, func, or_, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, create_engine

from newsdelta.errors import NewsdeltaError
from newsdelta.storage.db import SQLITE_BUSY_TIMEOUT_MS
from newsdelta.storage.models import Article, ArticleVersion, Feed, Finding, Story


class DatabaseUnavailable(NewsdeltaError):
    """There is no database to read, or not one newsdelta made."""


def read_only_engine(url: str) -> Engine:
    """An engine whose connections refuse every write: SQLite opened with mode=ro (and
    query_only), PostgreSQL sessions with default_transaction_read_only. Nothing is created
    or migrated: a database that is missing or was never migrated is an error that says so."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise DatabaseUnavailable("the web view reads a database file; an in-memory SQLite database has nothing in it")
        path = Path(database).expanduser().resolve()
        if not path.is_file():
            raise DatabaseUnavailable(f"no database at {path}: run `newsdelta ingest` (or `newsdelta demo --data-dir DIR`) first")
        uri = f"file:{quote(str(path))}?mode=ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False)

        engine = create_engine("sqlite://", creator=connect)
        event.listen(engine, "connect", _sqlite_read_only)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                               connect_args={"options": "-c default_transaction_read_only=on"})
    try:
        revision = schema_revision(engine)
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot read {parsed.render_as_string(hide_password=True)}: {reason}") from None
    if revision is None:
        engine.dispose()
        raise DatabaseUnavailable("the database has no newsdelta tables: run `newsdelta ingest` (or `newsdelta demo`) first")
    return engine


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at; None when it has no newsdelta schema (a
    database that cannot be reached raises)."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            return None


# --- the list of stories ----------------------------------------------------------------

@dataclass(frozen=True)
class StoryFilter:
    text: str = ""  # in the headline, whatever the case of its ASCII letters
    outlet: str = ""  # stories with an article from this outlet
    since: datetime | None = None  # last change at or after this time
    until: datetime | None = None  # last change before this time


class Cursor(NamedTuple):
    """Where a page of the list ends: the last story's last change and id (keyset pagination)."""

    updated_at: datetime
    story_id: int


class StoryRow(NamedTuple):
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    articles: int
    outlets: list[tuple[str, int]]  # (outlet, articles from it), by name
    findings: int


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def list_stories(session: Session, where: StoryFilter, after: Cursor | None = None, limit: int = 50) -> tuple[list[StoryRow], Cursor | None]:
    """One page of stories, most recent activity first, and the cursor of the next page (None
    on the last). The order is an index's (story.updated_at, story.id), so a page costs the
    same at the top of 100,000 stories as at the bottom; counts are read for the page only."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    query = select(col(Story.id), col(Story.title), col(Story.created_at), col(Story.updated_at))
    conditions: list[Any] = []
    if where.text:
        # Case is ignored for ASCII letters, on both databases: SQLite's LIKE does no more, and on
        # PostgreSQL lower() under the "C" collation does the same, well faster than ILIKE's
        # Unicode case folding (docs/performance.md).
        escaped = where.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        title = col(Story.title)
        if sqlite:
            conditions.append(title.like(f"%{escaped}%", escape="\\"))
        else:
            conditions.append(func.lower(title.collate("C")).like(f"%{escaped.translate(_ASCII_LOWER)}%", escape="\\"))
    if where.outlet:
        conditions.append(col(Story.id).in_(select(col(Article.story_id)).where(col(Article.outlet) == where.outlet)))
    if where.since is not None:
        conditions.append(col(Story.updated_at) >= where.since)
    if where.until is not None:
        conditions.append(col(Story.updated_at) < where.until)
    if after is not None:
        # "<=" first: a range the index can start from (the OR alone made both databases scan from the top).
        conditions += [col(Story.updated_at) <= after.updated_at,
                       or_(col(Story.updated_at) < after.updated_at, col(Story.id) < after.story_id)]
    if conditions:
        query = query.where(*conditions)
    order: tuple[Any, ...] = (col(Story.updated_at).desc(), col(Story.id).desc())
    if where.text:
        # Filtering by text, both databases walked the (updated_at, id) index and looked every
        # story up to read its headline, far slower for a rare headline than a scan and a sort of
        # what matched (docs/performance.md).
        # Ordering by an expression keeps the index out of it; the order is the same.
        order = (func.coalesce(col(Story.updated_at), col(Story.updated_at)).desc(), (col(Story.id) + 0).desc())
    query = query.order_by(*order).limit(limit + 1)
    found = session.execute(query).all()
    page, more = found[:limit], len(found) > limit
    ids = [int(r[0]) for r in page]
    outlets: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
    findings: dict[int, int] = {}
    if ids:
        per_outlet = (select(col(Article.story_id), col(Article.outlet), func.count())
                      .where(col(Article.story_id).in_(ids)).group_by(col(Article.story_id), col(Article.outlet)))
        for story_id, outlet, n in session.execute(per_outlet).all():
            outlets[int(story_id)].append((str(outlet), int(n)))
        per_story = select(col(Finding.story_id), func.count()).where(col(Finding.story_id).in_(ids)).group_by(col(Finding.story_id))
        findings = {int(s): int(n) for s, n in session.execute(per_story).all()}
    rows = [
        StoryRow(id=int(i), title=str(t), created_at=c, updated_at=u, articles=sum(n for _, n in outlets[int(i)]),
                 outlets=sorted(outlets[int(i)]), findings=findings.get(int(i), 0))
        for i, t, c, u in page
    ]
    return rows, (Cursor(rows[-1].updated_at, rows[-1].id) if more and rows else None)


def outlet_names(session: Session) -> list[str]:
    """The outlets the feeds are configured with (the list page's outlet filter offers these)."""
    return [str(o) for o in session.execute(select(col(Feed.outlet)).where(col(Feed.outlet) != "").distinct().order_by(col(Feed.outlet))).scalars()]


# --- one story, one article --------------------------------------------------------------

class VersionRow(NamedTuple):
    """A stored version of one of a story's articles, with the article's own columns."""

    article_id: int
    outlet: str
    url: str
    article_title: str
    article_published_at: datetime | None
    first_seen_at: datetime
    status: str
    version_id: int
    number: int
    fetched_at: datetime
    published_at: datetime | None
    source: str
    title: str
    blocks: str  # JSON, as stored


def story_versions(session: Session, story_id: int) -> list[VersionRow]:
    """Every version of every article of the story, articles in publication order, versions in number order."""
    query = (
        select(col(Article.id), col(Article.outlet), col(Article.url), col(Article.title), col(Article.published_at),
               col(Article.first_seen_at), col(Article.status), col(ArticleVersion.id), col(ArticleVersion.number),
               col(ArticleVersion.fetched_at), col(ArticleVersion.published_at), col(ArticleVersion.source),
               col(ArticleVersion.title), col(ArticleVersion.blocks))
        .join(ArticleVersion, col(ArticleVersion.article_id) == col(Article.id))
        .where(col(Article.story_id) == story_id)
        .order_by(col(Article.published_at), col(Article.id), col(ArticleVersion.number))
    )
    return [VersionRow(*row) for row in session.execute(query).all()]


def story_articles_without_versions(session: Session, story_id: int) -> list[Article]:
    """Articles of the story with no stored text (failed before a version was stored)."""
    stored = select(col(ArticleVersion.article_id)).where(col(ArticleVersion.article_id) == col(Article.id)).exists()
    return list(session.scalars(select(Article).where(col(Article.story_id) == story_id, ~stored)))


def story_findings(session: Session, story_id: int) -> list[Finding]:
    return list(session.scalars(select(Finding).where(col(Finding.story_id) == story_id).order_by(col(Finding.id))))


def article_versions(session: Session, article_id: int) -> list[ArticleVersion]:
    return list(session.scalars(select(ArticleVersion).where(col(ArticleVersion.article_id) == article_id).order_by(col(ArticleVersion.number))))


def article_findings(session: Session, article_id: int) -> list[Finding]:
    return list(session.scalars(select(Finding).where(col(Finding.article_id) == article_id).order_by(col(Finding.id))))


def stories_titles(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {int(i): str(t) for i, t in session.execute(select(col(Story.id), col(Story.title)).where(col(Story.id).in_(list(ids)))).all()}
