"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 14:07:20.781259
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulletins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("audio_path", sa.String(length=500), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("transcript_approved", sa.Boolean(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletins")),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "scheme",
            sa.Enum(
                "neighbourhood_watch",
                "pubwatch",
                "business_watch",
                "other",
                name="scheme",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("area", sa.String(length=200), nullable=True),
        sa.Column("coordinator", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("fax", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(
                "voice", "fax", name="channel", native_enum=False, create_constraint=True, length=8
            ),
            nullable=False,
        ),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "opted_out",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(quiet_start IS NULL AND quiet_end IS NULL)"
            " OR (quiet_start IS NOT NULL AND quiet_end IS NOT NULL)",
            name=op.f("ck_members_quiet_hours_pair"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("phone", name=op.f("uq_members_phone")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "running",
                "paused",
                "completed",
                "cancelled",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum(
                "normal",
                "urgent",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bulletin_id"],
            ["bulletins.id"],
            name=op.f("fk_campaigns_bulletin_id_bulletins"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_bulletin_id"), "campaigns", ["bulletin_id"], unique=False)
    op.create_table(
        "memberships",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_memberships_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_memberships_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "group_id", name=op.f("pk_memberships")),
    )
    op.create_index(
        "ix_memberships_group_id_opted_out", "memberships", ["group_id", "opted_out"], unique=False
    )
    op.create_table(
        "campaign_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "dialling",
                "done",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "confirmed",
                "heard_no_confirm",
                "voicemail",
                "busy",
                "no_answer",
                "failed",
                "opted_out",
                "cancelled",
                "invalid_number",
                "outside_window",
                "fax_sent",
                "fax_partial",
                "fax_failed",
                name="outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_cause", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_targets_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_campaign_targets_group_id_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_campaign_targets_member_id_members"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_targets")),
        sa.UniqueConstraint(
            "campaign_id", "member_id", name=op.f("uq_campaign_targets_campaign_id_member_id")
        ),
    )
    op.create_index(
        "ix_campaign_targets_due",
        "campaign_targets",
        ["campaign_id", "state", "next_attempt_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_campaign_targets_member_id"), "campaign_targets", ["member_id"], unique=False
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column(
            "result",
            sa.Enum(
                "confirmed",
                "heard_no_confirm",
                "voicemail",
                "busy",
                "no_answer",
                "failed",
                "opted_out",
                "cancelled",
                "invalid_number",
                "outside_window",
                "fax_sent",
                "fax_partial",
                "fax_failed",
                name="result",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("amd_status", sa.String(length=32), nullable=True),
        sa.Column("digits", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["campaign_targets.id"],
            name=op.f("fk_attempts_target_id_campaign_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_attempts_channel_id")),
        sa.UniqueConstraint("target_id", "number", name=op.f("uq_attempts_target_id_number")),
    )


def downgrade() -> None:
    op.drop_table("attempts")
    op.drop_index(op.f("ix_campaign_targets_member_id"), table_name="campaign_targets")
    op.drop_index("ix_campaign_targets_due", table_name="campaign_targets")
    op.drop_table("campaign_targets")
    op.drop_index("ix_memberships_group_id_opted_out", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(op.f("ix_campaigns_bulletin_id"), table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_table("members")
    op.drop_table("groups")
    op.drop_table("bulletins")
