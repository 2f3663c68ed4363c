"""The candidate index (`article_term`) on SQLite and PostgreSQL: which stored stories a new
article is compared with. Rows are written through the same repo functions the pipeline uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from newsdelta.storage import repo
from newsdelta.storage.db import make_engine, migrate
from newsdelta.storage.models import Article, ArticleTerm, TrackingLock
from tests.test_team_scale import pg_available, pg_url  # noqa: F401 - fixtures

NOW = datetime(2025, 3, 31, 12, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)
STORY_TERMS = [f"rare{i}" for i in range(30)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'index.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def stored(session: Session, url: str, outlet: str, terms: list[str], published: datetime) -> int:
    """An article in a story of its own, indexed under `terms`; returns the story id."""
    article = Article(url=url, outlet=outlet, first_seen_at=published, published_at=published)
    session.add(article)
    session.flush()
    article.story_id = repo.create_story(session, url)
    repo.index_terms(session, article, terms, published)
    return article.story_id  # type: ignore[return-value]


def test_best_sharing_stories_first_within_the_window_and_from_other_outlets(db) -> None:  # type: ignore[no-untyped-def]
    with Session(db) as s:
        full = stored(s, "http://a/1", "A", STORY_TERMS, NOW - timedelta(days=1))
        half = stored(s, "http://b/1", "B", STORY_TERMS[:15] + [f"b{i}" for i in range(15)], NOW - timedelta(days=2))
        stored(s, "http://c/1", "C", STORY_TERMS[:2] + [f"c{i}" for i in range(28)], NOW)  # 2 shared: under min_hits
        stored(s, "http://d/1", "D", STORY_TERMS, NOW - timedelta(days=30))  # outside the window
        own = stored(s, "http://n/0", "N", STORY_TERMS, NOW)  # the new outlet's own earlier article
        s.commit()
        found = repo.candidate_stories(s, STORY_TERMS, SINCE, "N", None)
    assert found == [(full, 30), (half, 15)]
    assert own not in [sid for sid, _ in found]


def test_a_story_is_found_through_its_rare_terms_when_common_terms_flood_the_window(db) -> None:  # type: ignore[no-untyped-def]
    """Hundreds of recent articles share the common terms; the story's articles are older
    within the window but share rare terms no one else has."""
    common = [f"common{i}" for i in range(10)]
    with Session(db) as s:
        target = stored(s, "http://t/1", "T", common + STORY_TERMS, NOW - timedelta(days=6))
        for i in range(repo.POSTINGS_PER_TERM + 50):
            stored(s, f"http://flood/{i}", f"F{i % 7}", common + [f"f{i}x{k}" for k in range(30)], NOW - timedelta(hours=i % 100))
        s.commit()
        found = repo.candidate_stories(s, common + STORY_TERMS[:12], SINCE, "N", None)
    story, hits = found[0]
    assert story == target and hits >= 12, "the flood's recent rows may fill the common terms' quota; the rare ones find the story"


def test_index_rows_take_the_articles_current_story_when_indexed_again(db) -> None:  # type: ignore[no-untyped-def]
    with Session(db) as session, session.begin():
        first = stored(session, "https://a.example/1", "A", STORY_TERMS[:10], NOW)
        article = session.get(Article, 1)
        assert article is not None
        article.story_id = repo.create_story(session, "another")
        repo.index_terms(session, article, STORY_TERMS[:12], NOW)  # 10 rows already there, 2 new
        hits = dict(repo.candidate_stories(session, STORY_TERMS[:12], SINCE, None, None, min_hits=1))
        second = article.story_id
    assert first not in hits and hits[second] == 12


def test_the_tracking_lock_is_taken_once_per_transaction(db) -> None:  # type: ignore[no-untyped-def]
    """A batch is tracked in one transaction: the lock row is updated for its first article only,
    and a new transaction takes it again."""
    with Session(db) as session:
        with session.begin():
            assert repo.lock_tracking(session) is True
            assert repo.lock_tracking(session) is False
        with session.begin():
            assert repo.lock_tracking(session) is True
        with session.begin():
            counter = session.exec(select(TrackingLock.counter)).one()
    assert counter == 2


def test_terms_that_agree_in_their_first_64_characters_are_indexed_once(db) -> None:  # type: ignore[no-untyped-def]
    """Terms are stored cut to 64 characters; two that differ only after that are one row (an
    upsert of both in one statement would touch the row twice, which PostgreSQL refuses)."""
    long_a, long_b = "x" * 64 + "a", "x" * 64 + "b"
    with Session(db) as s:
        story = stored(s, "http://a/1", "A", [long_a, long_b] + STORY_TERMS[:5], NOW)
        s.commit()
        rows = s.exec(select(ArticleTerm.term).where(ArticleTerm.article_id == 1)).all()
        found = repo.candidate_stories(s, [long_b] + STORY_TERMS[:5], SINCE, None, None)
    assert sorted(rows) == sorted(["x" * 64] + STORY_TERMS[:5])
    assert found == [(story, 6)]
