"""Tables. Uniqueness lives here, in the database, so that reruns after a crash and several
workers at once cannot store a version, a finding or an alert twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Feed(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, max_length=2048)
    outlet: str = Field(default="", max_length=200)
    title: str | None = Field(default=None, max_length=1000)  # the feed's own <title>
    poll_interval_s: int = 900
    etag: str | None = Field(default=None, max_length=512)
    last_modified: str | None = Field(default=None, max_length=128)
    body_hash: str | None = Field(default=None, max_length=64)
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    last_status: str = Field(default="never", max_length=32)  # ok | not_modified | unchanged | malformed | error | deferred
    last_http_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    entries_seen: int = 0
    new_entries: int = 0
    consecutive_failures: int = 0
    total_polls: int = 0
    total_failures: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class FeedPoll(SQLModel, table=True):
    """One line of a feed's health history."""

    __tablename__ = "feed_poll"
    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    polled_at: datetime = Field(default_factory=utcnow)
    status: str = Field(max_length=32)
    http_status: int | None = None
    entries_seen: int = 0
    new_entries: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))


class Story(SQLModel, table=True):
    # The story list reads stories most recent activity first, a page at a time (migration 0003).
    __table_args__ = (Index("ix_story_updated_at_id", "updated_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Article(SQLModel, table=True):
    __table_args__ = (Index("ix_article_outlet_story_id", "outlet", "story_id"),)  # the story list's outlet filter (0003)
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, max_length=2048)  # normalised (tracking parameters stripped)
    feed_id: int | None = Field(default=None, foreign_key="feed.id", index=True)
    outlet: str = Field(default="", max_length=200)
    entry_id: str | None = Field(default=None, max_length=2048)
    title: str = Field(default="", max_length=1000)
    byline: str | None = Field(default=None, max_length=500)
    published_at: datetime | None = None
    feed_blocks: str | None = Field(default=None, sa_column=Column(Text))  # the feed's own content, as a fallback
    story_id: int | None = Field(default=None, foreign_key="story.id", index=True)
    status: str = Field(default="pending", max_length=32)  # pending | ok | feed_only | failed | gone
    source: str | None = Field(default=None, max_length=16)  # page | feed: where the stored text came from
    first_seen_at: datetime = Field(default_factory=utcnow)
    last_fetched_at: datetime | None = None
    next_check_at: datetime | None = Field(default_factory=utcnow, index=True)
    check_count: int = 0
    fetch_failures: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class ArticleVersion(SQLModel, table=True):
    __tablename__ = "article_version"
    __table_args__ = (UniqueConstraint("article_id", "content_hash", name="uq_version_article_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    number: int = 1
    content_hash: str = Field(max_length=64)
    title: str = Field(default="", max_length=1000)
    byline: str | None = Field(default=None, max_length=500)
    published_at: datetime | None = None
    blocks: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of {"kind", "text"}
    source: str = Field(default="page", max_length=16)
    diff: str | None = Field(default=None, sa_column=Column(Text))  # JSON comparison with the previous version
    fetched_at: datetime = Field(default_factory=utcnow)


class ArticleTerm(SQLModel, table=True):
    """Candidate index: an article's signature terms (names, numbers, rare words).

    A new article looks up its own terms here, so finding which stories it may belong to reads
    a few short posting lists instead of scanning every article."""

    __tablename__ = "article_term"
    __table_args__ = (Index("ix_article_term_term_published", "term", "published_at"),)
    term: str = Field(primary_key=True, max_length=64)
    article_id: int = Field(primary_key=True, foreign_key="article.id", index=True)
    story_id: int | None = Field(default=None, index=False)
    outlet: str = Field(default="", max_length=200)
    published_at: datetime = Field(default_factory=utcnow)


class Finding(SQLModel, table=True):
    """New material an article brought to a story."""

    __table_args__ = (
        UniqueConstraint("version_id", name="uq_finding_version"),
        UniqueConstraint("story_id", "content_key", name="uq_finding_story_content"),
    )
    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="story.id", index=True)
    article_id: int = Field(foreign_key="article.id")
    version_id: int = Field(foreign_key="article_version.id")
    kind: str = Field(default="new_outlet", max_length=32)  # new_outlet | new_version
    outlet: str = Field(default="", max_length=200)
    compared_outlets: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list
    score: float = 0.0
    new_sections: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of {"heading", "paragraphs"}
    new_sentences: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    content_key: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class Alert(SQLModel, table=True):
    """Outbox: one row per finding and channel, sent by the delivery flow."""

    __table_args__ = (UniqueConstraint("channel", "dedup_key", name="uq_alert_channel_key"),)
    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="finding.id", index=True)
    channel: str = Field(max_length=32)
    dedup_key: str = Field(max_length=64)
    status: str = Field(default="pending", max_length=16, index=True)  # pending | sending | sent | failed
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class TrackingLock(SQLModel, table=True):
    """One row, updated at the start of every tracking transaction. Story matching must see
    every story committed before it (else two workers could each start a story for the same
    event), so tracking is serialised by this row lock; fetching and extracting stay parallel."""

    __tablename__ = "tracking_lock"
    id: int = Field(default=1, primary_key=True)
    counter: int = 0


class OutletParagraph(SQLModel, table=True):
    """How many different stories an outlet has carried a paragraph in: one that recurs across
    unrelated stories is the outlet's template text (a promo, a credit line, a disclaimer),
    not reporting. Keyed by the paragraph's text key, so no text is kept twice."""

    __tablename__ = "outlet_paragraph"
    # Matching reads an outlet's template lines (few) out of all its lines (many); each run
    # forgets the old lines that never recurred.
    __table_args__ = (Index("ix_outlet_paragraph_outlet_stories", "outlet", "stories"),
                      Index("ix_outlet_paragraph_first_seen", "first_seen"))
    outlet: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=32)
    stories: int = 1
    last_story_id: int = 0
    first_seen: datetime = Field(default_factory=utcnow)
