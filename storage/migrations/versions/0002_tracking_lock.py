"""tracking lock row, feed title

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "tracking_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "counter": 0}])
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("title", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("title")
    op.drop_table("tracking_lock")
