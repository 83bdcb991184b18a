"""business-system clients, keys, nonces

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "business_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_clients")),
        sa.UniqueConstraint("code", name=op.f("uq_business_clients_code")),
    )
    op.create_table(
        "client_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["business_clients.id"],
            name=op.f("fk_client_keys_client_id_business_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_keys")),
        sa.UniqueConstraint("client_id", "kid", name="uq_client_keys_client_kid"),
    )
    op.create_index(op.f("ix_client_keys_client_id"), "client_keys", ["client_id"])
    op.create_table(
        "client_scopes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["business_clients.id"],
            name=op.f("fk_client_scopes_client_id_business_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_client_scopes_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_client_scopes_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_scopes")),
    )
    op.create_index(op.f("ix_client_scopes_client_id"), "client_scopes", ["client_id"])
    op.create_table(
        "client_nonces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["business_clients.id"],
            name=op.f("fk_client_nonces_client_id_business_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_nonces")),
        sa.UniqueConstraint("client_id", "nonce", name="uq_client_nonces_nonce"),
    )
    op.create_index(op.f("ix_client_nonces_seen_at"), "client_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_client_nonces_seen_at"), table_name="client_nonces")
    op.drop_table("client_nonces")
    op.drop_index(op.f("ix_client_scopes_client_id"), table_name="client_scopes")
    op.drop_table("client_scopes")
    op.drop_index(op.f("ix_client_keys_client_id"), table_name="client_keys")
    op.drop_table("client_keys")
    op.drop_table("business_clients")
