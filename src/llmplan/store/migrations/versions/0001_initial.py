"""Saved scenarios with every version, and plan results.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scenarios"),
    )
    op.create_index("ix_scenarios_updated_at", "scenarios", ["updated_at"])
    op.create_table(
        "scenario_versions",
        sa.Column("scenario_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("data", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name="fk_scenario_versions_scenario_id_scenarios",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scenario_id", "version", name="pk_scenario_versions"),
    )
    op.create_table(
        "plan_results",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("scenario_id", sa.String(32), nullable=True),
        sa.Column("scenario_version", sa.Integer(), nullable=True),
        sa.Column("scenario_name", sa.String(200), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("recommended", sa.String(40), nullable=True),
        sa.Column("npv_usd", sa.Float(), nullable=True),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name="fk_plan_results_scenario_id_scenarios",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plan_results"),
    )
    op.create_index("ix_plan_results_created_at", "plan_results", ["created_at"])
    op.create_index("ix_plan_results_scenario", "plan_results", ["scenario_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_plan_results_scenario", table_name="plan_results")
    op.drop_index("ix_plan_results_created_at", table_name="plan_results")
    op.drop_table("plan_results")
    op.drop_table("scenario_versions")
    op.drop_index("ix_scenarios_updated_at", table_name="scenarios")
    op.drop_table("scenarios")
