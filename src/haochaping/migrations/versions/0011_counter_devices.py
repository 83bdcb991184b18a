"""counter rating devices (评价器) and their service-ended signals

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 11:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counter_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("pairing_hash", sa.String(length=64), nullable=True),
        sa.Column("pairing_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("paired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["window_id"], ["windows.id"], name=op.f("fk_counter_devices_window_id_windows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_devices")),
        sa.UniqueConstraint("pairing_hash", name=op.f("uq_counter_devices_pairing_hash")),
    )
    with op.batch_alter_table("counter_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_counter_devices_window_id"), ["window_id"], unique=False
        )

    op.create_table(
        "device_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("occasion_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["counter_devices.id"],
            name=op.f("fk_device_signals_device_id_counter_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["occasion_id"], ["occasions.id"], name=op.f("fk_device_signals_occasion_id_occasions")
        ),
        sa.ForeignKeyConstraint(
            ["window_id"], ["windows.id"], name=op.f("fk_device_signals_window_id_windows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_signals")),
    )
    with op.batch_alter_table("device_signals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_signals_occasion_id"), ["occasion_id"], unique=False
        )
        batch_op.create_index("ix_device_signals_window_id_id", ["window_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_device_signals_window_id_id")
        batch_op.drop_index(batch_op.f("ix_device_signals_occasion_id"))
    op.drop_table("device_signals")
    with op.batch_alter_table("counter_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_devices_window_id"))
    op.drop_table("counter_devices")
