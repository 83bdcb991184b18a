"""lighter rating writes: occasions' status unindexed (HOT updates), credits without
catalogue foreign keys

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 19:00:00.000000

Every rating updates its occasion's status and inserts one credit per organisation (issue 2).

- ``ix_occasions_status`` made that UPDATE write a new entry in each of the occasion's four
  indexes. Nothing reads occasions by status alone on a hot path (the yearly recomputation of
  estimated windows and the full statistics rebuild scan the table), so it goes; on PostgreSQL
  the table keeps 30% of each page free (fillfactor 70) so that the new row version fits on its
  page: a heap-only (HOT) update, no index touched.
- A credit's staff, organisation, business line, region and item are copied by the writer from
  the case (or the bundle's cases) it rates, whose own foreign keys reference the same rows;
  cases and catalogue rows are never deleted. The five checks repeated per credit were a fifth
  of a bulk's database time. The credit's foreign key to its evaluation stays.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CATALOGUE_KEYS = (
    ("staff_id", "staff", "id"),
    ("org_id", "organizations", "id"),
    ("line_id", "business_lines", "id"),
    ("region_code", "regions", "code"),
    ("item_id", "service_items", "id"),
)


def upgrade() -> None:
    with op.batch_alter_table("occasions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_occasions_status"))
    with op.batch_alter_table("evaluation_credits", schema=None) as batch_op:
        for column, table, _ in _CATALOGUE_KEYS:
            batch_op.drop_constraint(
                batch_op.f(f"fk_evaluation_credits_{column}_{table}"), type_="foreignkey"
            )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE occasions SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE occasions RESET (fillfactor)")
    with op.batch_alter_table("evaluation_credits", schema=None) as batch_op:
        for column, table, key in _CATALOGUE_KEYS:
            batch_op.create_foreign_key(
                batch_op.f(f"fk_evaluation_credits_{column}_{table}"), table, [column], [key]
            )
    with op.batch_alter_table("occasions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_occasions_status"), ["status"], unique=False)
