"""raters' personal data encrypted (SM4-GCM) with blind indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:00:00

C9: the rater's information is confidential. Name, ID number and phone become ciphertext
columns (``sm4gcm:{kid}:...``, up to 1024 characters) and the phone and ID number get keyed
blind indexes for lookups. The migration needs no key: rows written before it keep their clear
values, which stay readable as legacy values, and have no blind index until
``haochaping keys rotate`` encrypts them and computes their indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column(
            "applicant_name",
            existing_type=sa.String(length=200),
            type_=sa.String(length=1024),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "applicant_id_no",
            existing_type=sa.String(length=64),
            type_=sa.String(length=1024),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "applicant_phone",
            existing_type=sa.String(length=32),
            type_=sa.String(length=1024),
            existing_nullable=True,
        )
        batch_op.add_column(sa.Column("applicant_phone_index", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("applicant_id_index", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_cases_applicant_phone_index"), ["applicant_phone_index"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cases_applicant_id_index"), ["applicant_id_index"], unique=False
        )


def downgrade() -> None:
    # The three columns keep their width: ciphertext does not fit the old one, and shortening
    # would lose data. Decrypting back to clear text needs the key file, not a migration.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_applicant_id_index"))
        batch_op.drop_index(batch_op.f("ix_cases_applicant_phone_index"))
        batch_op.drop_column("applicant_id_index")
        batch_op.drop_column("applicant_phone_index")
