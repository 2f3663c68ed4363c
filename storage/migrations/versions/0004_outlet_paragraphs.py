"""per-outlet paragraph counts: an outlet's template text is what recurs across its stories

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Page furniture that rules cannot recognise by its form (a site's own promo line, disclaimer or
sign-off) shows itself by recurring in unrelated stories of one outlet. One row per outlet and
paragraph key counts the different stories it appeared in.
"""
import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outlet_paragraph",
        sa.Column("outlet", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("stories", sa.Integer(), nullable=False),
        sa.Column("last_story_id", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("outlet", "key"),
    )
    op.create_index("ix_outlet_paragraph_outlet_stories", "outlet_paragraph", ["outlet", "stories"], unique=False)
    op.create_index("ix_outlet_paragraph_first_seen", "outlet_paragraph", ["first_seen"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outlet_paragraph_first_seen", table_name="outlet_paragraph")
    op.drop_index("ix_outlet_paragraph_outlet_stories", table_name="outlet_paragraph")
    op.drop_table("outlet_paragraph")
