"""综合点评: remarks (suggestions and complaints not tied to a case) and their events

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remark_no", sa.String(length=32), nullable=False),
        sa.Column("query_code_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.String(length=1024), nullable=True),
        sa.Column("contact_phone", sa.String(length=1024), nullable=True),
        sa.Column("contact_email", sa.String(length=1024), nullable=True),
        sa.Column("profile_name", sa.String(length=50), nullable=False),
        sa.Column("profile_version", sa.String(length=80), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("message_hash", sa.String(length=64), nullable=True),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_text", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_estimated", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_remarks_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_remarks_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remarks")),
        sa.UniqueConstraint("client_id", "external_id", name="uq_remarks_client_external"),
        sa.UniqueConstraint("message_hash", name=op.f("uq_remarks_message_hash")),
        sa.UniqueConstraint("remark_no", name=op.f("uq_remarks_remark_no")),
    )
    op.create_index("ix_remarks_status_received", "remarks", ["status", "received_at"])
    op.create_index(op.f("ix_remarks_region_code"), "remarks", ["region_code"])
    op.create_index(op.f("ix_remarks_org_id"), "remarks", ["org_id"])
    op.create_table(
        "remark_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remark_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["remark_id"], ["remarks.id"], name=op.f("fk_remark_events_remark_id_remarks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remark_events")),
    )
    op.create_index(op.f("ix_remark_events_remark_id"), "remark_events", ["remark_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_remark_events_remark_id"), table_name="remark_events")
    op.drop_table("remark_events")
    op.drop_index(op.f("ix_remarks_org_id"), table_name="remarks")
    op.drop_index(op.f("ix_remarks_region_code"), table_name="remarks")
    op.drop_index("ix_remarks_status_received", table_name="remarks")
    op.drop_table("remarks")
