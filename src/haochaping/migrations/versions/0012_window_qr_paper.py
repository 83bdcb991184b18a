"""window QR one-time codes (ZZ, D2) and paper forms (ZZ, C8)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "window_qr_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("phone_index", sa.String(length=64), nullable=False),
        sa.Column("phone_masked", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("session_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["window_id"], ["windows.id"], name=op.f("fk_window_qr_challenges_window_id_windows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_window_qr_challenges")),
        sa.UniqueConstraint("public_id", name=op.f("uq_window_qr_challenges_public_id")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_window_qr_challenges_session_hash")),
    )
    with op.batch_alter_table("window_qr_challenges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_window_qr_challenges_phone_created", ["phone_index", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_window_qr_challenges_window_id"), ["window_id"], unique=False
        )
    op.create_table(
        "paper_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("filled_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("entered_by", sa.String(length=120), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_paper_forms_evaluation_id_evaluations"),
        ),
        sa.ForeignKeyConstraint(
            ["window_id"], ["windows.id"], name=op.f("fk_paper_forms_window_id_windows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_forms")),
        sa.UniqueConstraint("evaluation_id", name=op.f("uq_paper_forms_evaluation_id")),
    )


def downgrade() -> None:
    op.drop_table("paper_forms")
    with op.batch_alter_table("window_qr_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_window_qr_challenges_window_id"))
        batch_op.drop_index("ix_window_qr_challenges_phone_created")
    op.drop_table("window_qr_challenges")
