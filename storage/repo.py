"""Every query newsdelta makes. Callers pass a Session (one unit of work); inserts that must
happen once use INSERT .. ON CONFLICT DO NOTHING so reruns and concurrent workers are safe."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Integer, String, Table, TextClause, bindparam, column, func, insert, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from newsdelta.errors import NotFound
from newsdelta.storage.models import (
    Alert,
    Article,
    ArticleTerm,
    ArticleVersion,
    Feed,
    FeedPoll,
    Finding,
    OutletParagraph,
    Story,
    TrackingLock,
    utcnow,
)

T = TypeVar("T", bound=SQLModel)


def get(session: Session, model: type[T], row_id: int) -> T:
    """The row, or NotFound (a row deleted meanwhile, or an id that never existed)."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{model.__name__.lower()} {row_id} does not exist")
    return row


def row_id(row: SQLModel) -> int:
    """A stored row's id (typed as optional only because unsaved rows have none)."""
    value = getattr(row, "id", None)
    if value is None:
        raise NotFound(f"{type(row).__name__.lower()} has not been stored")
    return int(value)


def _table(model: type[SQLModel]) -> Table:
    """The model's table (SQLModel declares `__table__` on table models only, so its type does not)."""
    return cast(Table, getattr(model, "__table__"))  # noqa: B009 - the attribute is untyped, not dynamic


def _dialect(session: Session) -> str:
    """The database behind the session: inserts with ON CONFLICT, row locks that skip locked
    rows, and the PostgreSQL forms of the per-article statements (arrays, LATERAL) differ by it."""
    return session.get_bind().dialect.name


def _insert(session: Session, model: type[SQLModel] | Table) -> Any:
    dialect = _dialect(session)
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(dialect)  # pragma: no cover - other databases are not supported


def insert_ignore(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], conflict: Sequence[str]) -> list[int]:
    """Insert rows, skipping those that violate the unique key `conflict`; return the ids inserted."""
    if not rows:
        return []
    table = _table(model)
    stmt = _insert(session, table).on_conflict_do_nothing(index_elements=list(conflict))
    # Rows go as executemany parameters, not inlined with .values(): the statement's SQL is then
    # the same every call and is compiled once (compiling a 40-row VALUES cost more than running it).
    if "id" in table.c:
        return [r[0] for r in session.execute(stmt.returning(table.c.id), list(rows)).all()]
    session.execute(stmt, list(rows))
    return []


# --- feeds -----------------------------------------------------------------------------

def ensure_feed(session: Session, url: str, outlet: str, interval_s: int) -> Feed:
    insert_ignore(session, Feed, [{"url": url, "outlet": outlet, "poll_interval_s": interval_s, "created_at": utcnow(),
                                   "last_status": "never", "entries_seen": 0, "new_entries": 0, "consecutive_failures": 0,
                                   "total_polls": 0, "total_failures": 0}], ["url"])
    feed = session.exec(select(Feed).where(Feed.url == url)).one()
    if (outlet and feed.outlet != outlet) or feed.poll_interval_s != interval_s:
        feed.outlet, feed.poll_interval_s = outlet or feed.outlet, interval_s
        session.add(feed)
    return feed


def feeds(session: Session) -> list[Feed]:
    return list(session.exec(select(Feed).order_by(col(Feed.id))))


def record_poll(session: Session, feed: Feed, *, status: str, http_status: int | None, seen: int, new: int,
                error: str | None, next_poll_at: datetime, failed: bool) -> None:
    now = utcnow()
    feed.last_polled_at, feed.next_poll_at = now, next_poll_at
    feed.last_status, feed.last_http_status, feed.last_error = status, http_status, error
    feed.entries_seen, feed.new_entries = seen, new
    feed.total_polls += 1
    feed.consecutive_failures = feed.consecutive_failures + 1 if failed else 0
    feed.total_failures += 1 if failed else 0
    session.add(feed)
    session.add(FeedPoll(feed_id=row_id(feed), polled_at=now, status=status, http_status=http_status, entries_seen=seen, new_entries=new, error=error))


# --- articles and versions ---------------------------------------------------------------

def add_articles(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    now = utcnow()
    for row in rows:
        row.setdefault("first_seen_at", now)
        row.setdefault("next_check_at", now)
        row.setdefault("status", "pending")
        row.setdefault("check_count", 0)
        row.setdefault("fetch_failures", 0)
        row.setdefault("outlet", "")
        row.setdefault("title", "")
    return insert_ignore(session, Article, rows, ["url"])


def article_by_url(session: Session, url: str) -> Article | None:
    return session.exec(select(Article).where(Article.url == url)).first()


def articles_due(session: Session, now: datetime, limit: int, feed_ids: Sequence[int] | None = None) -> list[Article]:
    query = select(Article).where(col(Article.next_check_at).is_not(None), col(Article.next_check_at) <= now)
    if feed_ids is not None:
        query = query.where(col(Article.feed_id).in_(list(feed_ids)))
    # Publication order, so that a story forms the way it was published: the original first,
    # then the rewrites that add to it.
    published = func.coalesce(col(Article.published_at), col(Article.first_seen_at))
    return list(session.exec(query.order_by(published, col(Article.id)).limit(limit)))


def article_urls(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(col(Article.id), col(Article.url)).where(col(Article.id).in_(list(ids)))).all() if ids else []
    return {int(i): str(u) for i, u in rows}


def versions(session: Session, article_id: int) -> list[ArticleVersion]:
    return list(session.exec(select(ArticleVersion).where(ArticleVersion.article_id == article_id).order_by(col(ArticleVersion.number))))


def version_hashes(session: Session, article_id: int) -> list[tuple[int, int, str]]:
    """(id, number, content hash) of each version of an article, oldest first: enough to tell
    whether a text is already stored and what number comes next, without loading bodies."""
    rows = session.execute(_VERSION_HASHES, {"article_id": article_id}).all()
    return [(int(i), int(n), h) for i, n, h in rows]


# The two reads made for every stored article, as SQL text: built with the expression API, each
# call cost more to construct and look up in SQLAlchemy's statement cache than to run
# (figures in docs/performance.md).
_VERSION_HASHES = text("SELECT id, number, content_hash FROM article_version WHERE article_id = :article_id ORDER BY number")
_STORY_VERSIONS = text(
    "SELECT article.id, article.outlet, article_version.id, article_version.source, article_version.title, article_version.blocks, "
    "COALESCE(article.published_at, article.first_seen_at) "
    "FROM article JOIN article_version ON article_version.article_id = article.id WHERE article.story_id = :story_id "
    "ORDER BY article_version.fetched_at DESC, article_version.id DESC LIMIT :limit"
).columns(
    # Typed, so that SQLite's stored text comes back as a datetime, as PostgreSQL's does.
    column("article_id", Integer), column("outlet", String), column("version_id", Integer), column("source", String),
    column("title", String), column("blocks", String), column("published_at", _table(Article).c.published_at.type),
)


def add_version(session: Session, article: Article, *, number: int, content_hash: str, title: str, byline: str | None,
                published_at: datetime | None, blocks: list[dict[str, str]], source: str, diff: str | None = None) -> ArticleVersion | None:
    """Store version `number` unless this article already has one with the same content hash
    (a concurrent writer, or a rerun, got there first): then None. The version is returned as
    written, detached: reading it back through the ORM cost more than writing it."""
    stored_blocks, fetched_at = json.dumps(blocks, ensure_ascii=False), utcnow()
    row = {
        "article_id": row_id(article), "number": number, "content_hash": content_hash, "title": title, "byline": byline,
        "published_at": published_at, "blocks": stored_blocks, "source": source, "fetched_at": fetched_at, "diff": diff,
    }
    version_id = session.execute(_upsert_statement("article_version", tuple(row), ("article_id", "content_hash"), (), True), row).scalar()
    if version_id is None:
        return None
    return ArticleVersion(id=version_id, article_id=row_id(article), number=number, content_hash=content_hash, title=title, byline=byline,
                          published_at=published_at, blocks=stored_blocks, source=source, fetched_at=fetched_at, diff=diff)


def lock_tracking(session: Session) -> bool:
    """Take the tracking lock for the rest of this transaction (see TrackingLock). True when
    this call took it; False when the transaction already held it (a batch of articles is
    tracked in one transaction, and one update of the lock row is enough for all of them)."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get("tracking_lock") is transaction:
        return False
    session.execute(update(TrackingLock).where(col(TrackingLock.id) == 1).values(counter=TrackingLock.counter + 1))
    session.info["tracking_lock"] = session.get_transaction()
    return True


# --- stories and the candidate index -----------------------------------------------------

def create_story(session: Session, title: str) -> int:
    """A new story's id (inserted directly: flushing the session here would write the
    article's half-made changes too, and then again when they are complete)."""
    now = utcnow()
    return int(session.execute(insert(Story).values(title=title[:1000], created_at=now, updated_at=now).returning(col(Story.id))).scalar_one())


def touch_story(session: Session, story_id: int) -> None:
    # On the table, not the entity: the ORM's bulk-update path (which would also look for
    # loaded Story objects to refresh; none are loaded while tracking) cost more than the UPDATE.
    stories = _table(Story)
    session.execute(update(stories).where(stories.c.id == story_id).values(updated_at=utcnow()))


def index_terms(session: Session, article: Article, terms: Sequence[str], published_at: datetime) -> None:
    """Index an article under its signature terms; rows it already has take its current story."""
    unique = list(dict.fromkeys(t[:64] for t in terms))  # one row per stored term, or an upsert hits a row twice
    if not unique:
        return
    if _dialect(session) == "postgresql":
        # One statement with the terms as an array, cheaper than a forty-row executemany
        # (docs/performance.md).
        session.execute(_INDEX_TERMS_PG, {"terms": unique, "article_id": article.id, "story_id": article.story_id,
                                          "outlet": article.outlet, "published_at": published_at})
        return
    rows = [{"term": t, "article_id": article.id, "story_id": article.story_id, "outlet": article.outlet, "published_at": published_at} for t in unique]
    session.execute(_upsert_statement("article_term", tuple(rows[0]), ("term", "article_id"), ("story_id",), False), rows)


_INDEX_TERMS_PG = text(
    "INSERT INTO article_term (term, article_id, story_id, outlet, published_at) "
    "SELECT term, :article_id, :story_id, :outlet, :published_at FROM unnest(CAST(:terms AS VARCHAR[])) AS t(term) "
    "ON CONFLICT (term, article_id) DO UPDATE SET story_id = excluded.story_id"
).bindparams(bindparam("published_at", type_=_table(ArticleTerm).c.published_at.type))


@lru_cache(maxsize=64)
def _upsert_statement(table: str, columns: tuple[str, ...], conflict: tuple[str, ...], update_columns: tuple[str, ...],
                      returning_id: bool) -> TextClause:
    """INSERT .. ON CONFLICT written as SQL text, for the inserts made for every article:
    SQLAlchemy does not cache the compiled form of its ON CONFLICT constructs ("no key" in its
    log), so built with the expression API they were compiled again on every call, which cost
    more than running them. Rows must give every column: text SQL applies no column defaults."""
    columns_table = SQLModel.metadata.tables[table].c
    action = f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in update_columns)}" if update_columns else "DO NOTHING"
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(f':{c}' for c in columns)}) "
           f"ON CONFLICT ({', '.join(conflict)}) {action}{' RETURNING id' if returning_id else ''}")
    return text(sql).bindparams(*(bindparam(c, type_=columns_table[c].type) for c in columns))


POSTINGS_PER_TERM = 200  # most recent index rows read per term inside the match window


def candidate_stories(session: Session, terms: Sequence[str], since: datetime, exclude_outlet: str | None,
                      exclude_article_id: int | None, limit: int = 5, min_hits: int = 3) -> list[tuple[int, int]]:
    """Stories sharing the most signature terms with a new article: (story_id, shared terms).

    Reads only the posting lists of the article's own terms, within the time window, and of
    each at most its POSTINGS_PER_TERM most recent rows, so the cost is bounded by the number
    of terms, not by how many articles are stored or how busy the window is. A term with more
    postings than that is common in the window and says little on its own; a story is still
    found through its rarer terms, and through its most recent articles for the common ones."""
    unique = list(dict.fromkeys(t[:64] for t in terms))
    if not unique:
        return []
    params: dict[str, Any] = {"since": since, "cap": POSTINGS_PER_TERM, "min_hits": min_hits, "limit": limit}
    if exclude_outlet:
        params["outlet"] = exclude_outlet
    if exclude_article_id is not None:
        params["article_id"] = exclude_article_id
    if _dialect(session) == "postgresql":
        params["terms"] = unique
        statement = _candidate_statement_pg(bool(exclude_outlet), exclude_article_id is not None)
    else:
        params.update((f"t{i}", t) for i, t in enumerate(unique))
        statement = _candidate_statement(len(unique), bool(exclude_outlet), exclude_article_id is not None)
    return [(int(s), int(h)) for s, h in session.execute(statement, params).all()]


def _posting_filters(exclude_outlet: bool, exclude_article: bool, table: str = "") -> str:
    """The conditions on a posting (an article_term row); `table` qualifies the columns."""
    q = f"{table}." if table else ""
    filters = f"{q}published_at >= :since AND {q}story_id IS NOT NULL"
    filters += f" AND {q}outlet != :outlet" if exclude_outlet else ""
    filters += f" AND {q}article_id != :article_id" if exclude_article else ""
    return filters


@lru_cache(maxsize=256)
def _candidate_statement(terms: int, exclude_outlet: bool, exclude_article: bool) -> TextClause:
    """One statement per shape, written as SQL text: built with the expression API, its forty
    sub-selects cost more to construct on every call than the query takes to run."""
    filters = _posting_filters(exclude_outlet, exclude_article)
    arms = " UNION ALL ".join(
        f"SELECT story_id FROM (SELECT story_id FROM article_term WHERE term = :t{i} AND {filters} "
        f"ORDER BY published_at DESC LIMIT :cap) AS p{i}"
        for i in range(terms)
    )
    sql = (f"SELECT story_id, count(*) AS hits FROM ({arms}) AS postings GROUP BY story_id "
           "HAVING count(*) >= :min_hits ORDER BY hits DESC, story_id DESC LIMIT :limit")
    return text(sql).bindparams(bindparam("since", type_=_table(ArticleTerm).c.published_at.type))


@lru_cache(maxsize=8)
def _candidate_statement_pg(exclude_outlet: bool, exclude_article: bool) -> TextClause:
    """The same reading on PostgreSQL, with the terms as one array and a LATERAL sub-select per
    term (each term's postings still read newest first and capped): one statement of one shape
    to parse and plan instead of forty UNION arms; it finds the same stories, faster at every
    size measured (docs/performance.md)."""
    filters = _posting_filters(exclude_outlet, exclude_article, "p")
    sql = ("SELECT postings.story_id, count(*) AS hits FROM unnest(CAST(:terms AS VARCHAR[])) AS t(term) "
           "CROSS JOIN LATERAL (SELECT p.story_id FROM article_term AS p "
           f"WHERE p.term = t.term AND {filters} ORDER BY p.published_at DESC LIMIT :cap) AS postings "
           "GROUP BY postings.story_id HAVING count(*) >= :min_hits ORDER BY hits DESC, postings.story_id DESC LIMIT :limit")
    return text(sql).bindparams(bindparam("since", type_=_table(ArticleTerm).c.published_at.type))


class StoryVersion(NamedTuple):
    """A version of one of a story's articles, as matching reads it: columns, not ORM
    entities, which are built and tracked by the session for every story compared."""

    article_id: int
    outlet: str
    version_id: int
    source: str
    title: str
    blocks: str  # JSON, as stored
    published_at: datetime | None = None  # the article's (first seen, when it gave none)


def story_versions(session: Session, story_id: int, limit: int = 60) -> list[StoryVersion]:
    """The story's most recently fetched versions, newest first."""
    return [StoryVersion(*row) for row in session.execute(_STORY_VERSIONS, {"story_id": story_id, "limit": limit}).all()]


def stories(session: Session, limit: int = 50) -> list[tuple[Story, int, int]]:
    """Stories with their article and finding counts, most recently updated first."""
    articles = select(func.count(col(Article.id))).where(Article.story_id == Story.id).scalar_subquery()
    findings = select(func.count(col(Finding.id))).where(Finding.story_id == Story.id).scalar_subquery()
    rows = session.exec(select(Story, articles, findings).order_by(col(Story.updated_at).desc(), col(Story.id).desc()).limit(limit)).all()
    return [(s, int(a), int(f)) for s, a, f in rows]


def story_articles(session: Session, story_id: int) -> list[Article]:
    return list(session.exec(select(Article).where(Article.story_id == story_id).order_by(col(Article.published_at), col(Article.id))))


# --- an outlet's template text ---------------------------------------------------------

def count_outlet_paragraphs(session: Session, outlet: str, story_id: int, keys: Collection[str]) -> None:
    """Count a story's paragraphs toward its outlet's template text, once per story: a row's
    count goes up when the paragraph appears under a story newer than any it was seen in.
    Stories are numbered as they are made, so an article joining an older story (A, then B,
    then A again) adds nothing: the count never exceeds the stories it was really seen in."""
    if not outlet or not keys:
        return
    now = utcnow()
    rows = [{"outlet": outlet[:200], "key": k, "stories": 1, "last_story_id": story_id, "first_seen": now} for k in sorted(keys)]
    # Keys in one order in every transaction, so two workers counting the same lines wait for
    # each other rather than each holding a row the other needs.
    session.execute(_COUNT_OUTLET_PARAGRAPHS, rows)


_COUNT_OUTLET_PARAGRAPHS = text(
    "INSERT INTO outlet_paragraph (outlet, key, stories, last_story_id, first_seen) "
    "VALUES (:outlet, :key, :stories, :last_story_id, :first_seen) "
    "ON CONFLICT (outlet, key) DO UPDATE SET "
    "stories = outlet_paragraph.stories + CASE WHEN excluded.last_story_id > outlet_paragraph.last_story_id THEN 1 ELSE 0 END, "
    "last_story_id = CASE WHEN excluded.last_story_id > outlet_paragraph.last_story_id "
    "THEN excluded.last_story_id ELSE outlet_paragraph.last_story_id END"
).bindparams(bindparam("first_seen", type_=_table(OutletParagraph).c.first_seen.type))


def forget_outlet_paragraphs(session: Session, seen_before: datetime, below: int) -> int:
    """Drop the counts of paragraphs first seen before `seen_before` that never reached `below`
    stories: an outlet's template recurs within weeks, and the rest (its reporting) would grow
    the table by every paragraph ever stored. Returns how many rows went."""
    table = _table(OutletParagraph)
    result = session.execute(table.delete().where(table.c.first_seen < seen_before, table.c.stories < below))
    return int(getattr(result, "rowcount", 0) or 0)


def template_keys(session: Session, outlets: Collection[str], min_stories: int) -> dict[str, frozenset[str]]:
    """For each outlet, the keys of the paragraphs it has carried in `min_stories` or more
    different stories."""
    wanted = sorted({o[:200] for o in outlets if o})
    if not wanted:
        return {}
    found: dict[str, set[str]] = {}
    rows = session.execute(select(OutletParagraph.outlet, OutletParagraph.key)
                           .where(col(OutletParagraph.outlet).in_(wanted), col(OutletParagraph.stories) >= min_stories))
    for outlet, key in rows:
        found.setdefault(outlet, set()).add(key)
    # Keyed by the names asked for: an outlet name longer than the column is stored cut short.
    return {o: frozenset(found[o[:200]]) for o in outlets if o and o[:200] in found}


# --- findings and the alert outbox -------------------------------------------------------

def add_finding(session: Session, **values: Any) -> Finding | None:
    """Store a finding once: per version, and per identical new material within a story."""
    row = Finding(**values).model_dump(exclude={"id"})  # through the model, so its defaults apply
    ids = insert_ignore(session, Finding, [row], ["story_id", "content_key"])
    return session.get(Finding, ids[0]) if ids else None


def findings(session: Session, story_id: int | None = None, limit: int = 100) -> list[Finding]:
    query = select(Finding).order_by(col(Finding.id))
    if story_id is not None:
        query = query.where(Finding.story_id == story_id)
    return list(session.exec(query.limit(limit)))


def alerted_findings(session: Session, finding_ids: Sequence[int]) -> set[int]:
    """Which of these findings have alerts queued (or sent): the others were too small to send."""
    if not finding_ids:
        return set()
    return set(session.exec(select(Alert.finding_id).where(col(Alert.finding_id).in_(list(finding_ids))).distinct()).all())


def enqueue_alerts(session: Session, finding: Finding, channels: Sequence[str], dedup_key: str) -> list[int]:
    now = utcnow()
    rows = [{"finding_id": finding.id, "channel": c, "dedup_key": dedup_key, "status": "pending", "attempts": 0,
             "next_attempt_at": now, "created_at": now} for c in channels]
    return insert_ignore(session, Alert, rows, ["channel", "dedup_key"])


def _due_alerts(channels: Sequence[str], now: datetime, stale_after: timedelta, force: bool) -> SelectOfScalar[Alert]:
    """The alerts a delivery would send now on these channels. A row left in 'sending' by a
    crashed worker is taken again once stale (at-least-once; see README, "Delivery guarantees")."""
    due = or_(
        col(Alert.status) == "pending",
        (col(Alert.status) == "sending") & (col(Alert.claimed_at) < now - stale_after),
        col(Alert.status) == "failed",
    )
    query = select(Alert).where(col(Alert.channel).in_(list(channels)), due)
    if not force:
        query = query.where(col(Alert.next_attempt_at) <= now)
    return query


def any_alert_due(session: Session, channels: Sequence[str], now: datetime, stale_after: timedelta, force: bool = False) -> bool:
    return session.exec(_due_alerts(channels, now, stale_after, force).limit(1)).first() is not None


def claim_alerts(session: Session, channels: Sequence[str], now: datetime, stale_after: timedelta,
                 force: bool = False, limit: int = 100) -> list[Alert]:
    """Alerts due for sending on these channels, marked as being sent."""
    query = _due_alerts(channels, now, stale_after, force)
    if _dialect(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = list(session.exec(query.order_by(col(Alert.id)).limit(limit)))
    for alert in claimed:
        alert.status, alert.claimed_at = "sending", now
        session.add(alert)
    return claimed


def alerts(session: Session, status: str | None = None, limit: int = 200) -> list[Alert]:
    query = select(Alert).order_by(col(Alert.id).desc())
    if status:
        query = query.where(Alert.status == status)
    return list(session.exec(query.limit(limit)))
