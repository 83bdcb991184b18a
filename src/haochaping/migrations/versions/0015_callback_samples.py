"""监督查评 (D2, ZZ): callback samples, their items and events

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callback_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("period_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.Integer(), nullable=True),
        sa.Column("requested_size", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_callback_samples_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_callback_samples_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_callback_samples_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_samples")),
    )
    op.create_index(
        "ix_callback_samples_region_created",
        "callback_samples",
        ["region_code", "created_at"],
        unique=False,
    )
    op.create_table(
        "callback_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("in_open_sample", sa.Boolean(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("stated_level", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome_by", sa.String(length=100), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_callback_items_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_callback_items_evaluation_id_evaluations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_callback_items_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_callback_items_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["callback_samples.id"],
            name=op.f("fk_callback_items_sample_id_callback_samples"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_callback_items_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["window_id"], ["windows.id"], name=op.f("fk_callback_items_window_id_windows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_items")),
    )
    op.create_index(
        op.f("ix_callback_items_evaluation_id"), "callback_items", ["evaluation_id"], unique=False
    )
    op.create_index(
        "ix_callback_items_region_outcome",
        "callback_items",
        ["region_code", "outcome"],
        unique=False,
    )
    op.create_index(
        op.f("ix_callback_items_sample_id"), "callback_items", ["sample_id"], unique=False
    )
    # The same evaluation is never in two open samples (D2).
    op.create_index(
        "uq_callback_items_open_evaluation",
        "callback_items",
        ["evaluation_id"],
        unique=True,
        postgresql_where=sa.text("in_open_sample"),
        sqlite_where=sa.text("in_open_sample"),
    )
    op.create_table(
        "callback_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("from_outcome", sa.String(length=16), nullable=True),
        sa.Column("to_outcome", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["callback_items.id"],
            name=op.f("fk_callback_events_item_id_callback_items"),
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["callback_samples.id"],
            name=op.f("fk_callback_events_sample_id_callback_samples"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_events")),
    )
    op.create_index(
        op.f("ix_callback_events_item_id"), "callback_events", ["item_id"], unique=False
    )
    op.create_index(
        op.f("ix_callback_events_sample_id"), "callback_events", ["sample_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_callback_events_sample_id"), table_name="callback_events")
    op.drop_index(op.f("ix_callback_events_item_id"), table_name="callback_events")
    op.drop_table("callback_events")
    op.drop_index(
        "uq_callback_items_open_evaluation",
        table_name="callback_items",
        postgresql_where=sa.text("in_open_sample"),
        sqlite_where=sa.text("in_open_sample"),
    )
    op.drop_index(op.f("ix_callback_items_sample_id"), table_name="callback_items")
    op.drop_index("ix_callback_items_region_outcome", table_name="callback_items")
    op.drop_index(op.f("ix_callback_items_evaluation_id"), table_name="callback_items")
    op.drop_table("callback_items")
    op.drop_index("ix_callback_samples_region_created", table_name="callback_samples")
    op.drop_table("callback_samples")
