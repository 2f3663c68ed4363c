"""indexes for the web view: stories by last change, articles by outlet

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The story list (`newsdelta web`, `newsdelta stories`) reads stories most recent activity
first, a page at a time from a (updated_at, id) cursor: without an index every page sorted
every story. Its outlet filter reads the stories an outlet's articles belong to.
"""
from alembic import op


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("story") as batch:
        batch.create_index("ix_story_updated_at_id", ["updated_at", "id"], unique=False)
    with op.batch_alter_table("article") as batch:
        batch.create_index("ix_article_outlet_story_id", ["outlet", "story_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.drop_index("ix_article_outlet_story_id")
    with op.batch_alter_table("story") as batch:
        batch.drop_index("ix_story_updated_at_id")
