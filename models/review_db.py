"""Sampled review (抽检) tables on the shared :class:`models.db.Base`.

A :class:`SamplingPlanRow` says how many interactions to draw per staff member (or window) per
week or month, split into strata (flagged / unflagged by the system); a :class:`SampleDrawRow` is
one seeded draw of a plan for one period, over *every* interaction of the period, and
:class:`SampledInteractionRow` the interactions it drew, each with its stratum's size and sample
size (its inclusion probability, the weight of the field estimates). An inspector's review of a
whole sampled interaction is a :class:`SampleReviewRow` with a mark per system hit
(:class:`SampleHitMarkRow`) and what the system missed (:class:`SampleMissRow`).

The same plan, seed and data give the same draw, so a draw can be checked afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base


class SamplingPlanRow(Base):
    """How an inspector or manager wants interactions drawn for review."""

    __tablename__ = "sampling_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))  # a username
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())
    unit: Mapped[str] = mapped_column(String(16))  # "staff" or "window": what per_unit counts per
    period_kind: Mapped[str] = mapped_column(String(16))  # "week" or "month"
    per_unit: Mapped[int] = mapped_column(Integer)  # interactions per unit per period
    # Stratified by the system's flags: flagged_share of per_unit from flagged interactions.
    stratify_flagged: Mapped[bool] = mapped_column(Boolean, default=True)
    flagged_share: Mapped[float] = mapped_column(Float, default=0.5)
    window_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty: every window
    department_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)  # empty: every department
    seed: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SampleDrawRow(Base):
    """One seeded draw of a plan for one period (``2026-11`` or ``2026-W45``)."""

    __tablename__ = "sample_draw"
    __table_args__ = (UniqueConstraint("plan_id", "period", name="uq_sample_draw_plan_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sampling_plan.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer)
    drawn_at: Mapped[datetime] = mapped_column(DateTime)
    drawn_by: Mapped[str] = mapped_column(String(64))
    population: Mapped[int] = mapped_column(Integer)  # interactions of the period the plan covers
    # {stratum: {"N": size, "n": drawn}}: what the weights were made from, for the audit
    strata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    plan: Mapped[SamplingPlanRow] = relationship()
    items: Mapped[list["SampledInteractionRow"]] = relationship(back_populates="draw", order_by="SampledInteractionRow.id")


class SampledInteractionRow(Base):
    """An interaction a draw picked, with its stratum and inclusion probability n_h / N_h."""

    __tablename__ = "sampled_interaction"
    __table_args__ = (
        UniqueConstraint("draw_id", "interaction_id", name="uq_sampled_interaction_draw_interaction"),
        Index("ix_sampled_interaction_assigned", "assigned_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draw.id", ondelete="CASCADE"))
    # SET NULL: re-scoring rebuilds interactions; the draw's record stays.
    interaction_id: Mapped[Optional[int]] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"), index=True)
    stratum: Mapped[str] = mapped_column(String(120))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    stratum_size: Mapped[int] = mapped_column(Integer)  # N_h
    stratum_drawn: Mapped[int] = mapped_column(Integer)  # n_h
    inclusion_prob: Mapped[float] = mapped_column(Float)
    assigned_to: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))

    draw: Mapped[SampleDrawRow] = relationship(back_populates="items")
    review: Mapped[Optional["SampleReviewRow"]] = relationship(back_populates="item", uselist=False)


class SampleReviewRow(Base):
    """An inspector's review of one whole sampled interaction (one per sampled interaction)."""

    __tablename__ = "sample_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    sampled_id: Mapped[int] = mapped_column(ForeignKey("sampled_interaction.id", ondelete="CASCADE"), unique=True)
    reviewer_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime)
    comment: Mapped[str] = mapped_column(Text, default="")

    item: Mapped[SampledInteractionRow] = relationship(back_populates="review")
    marks: Mapped[list["SampleHitMarkRow"]] = relationship(back_populates="review", cascade="all, delete-orphan")
    misses: Mapped[list["SampleMissRow"]] = relationship(back_populates="review", cascade="all, delete-orphan")


class SampleHitMarkRow(Base):
    """The reviewer's mark on one system hit of the reviewed interaction: correct or wrong."""

    __tablename__ = "sample_hit_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("sample_review.id", ondelete="CASCADE"), index=True)
    rule_hit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("rule_hit.id", ondelete="SET NULL"))
    rule_id: Mapped[str] = mapped_column(String(64))  # kept: the hit row may be rebuilt
    family: Mapped[str] = mapped_column(String(16))
    correct: Mapped[bool] = mapped_column(Boolean)

    review: Mapped[SampleReviewRow] = relationship(back_populates="marks")


class SampleMissRow(Base):
    """What the system missed: a phrase said (``said``) or a required phrase really missing (``missing``)."""

    __tablename__ = "sample_miss"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("sample_review.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    family: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # "said" or "missing"
    utterance_id: Mapped[Optional[int]] = mapped_column(ForeignKey("utterance.id", ondelete="SET NULL"))
    start_s: Mapped[Optional[float]] = mapped_column(Float)
    end_s: Mapped[Optional[float]] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    flag_id: Mapped[Optional[int]] = mapped_column(ForeignKey("flag.id", ondelete="SET NULL"))  # the confirmed flag it raised

    review: Mapped[SampleReviewRow] = relationship(back_populates="misses")


__all__ = ["SampleDrawRow", "SampleHitMarkRow", "SampleMissRow", "SampleReviewRow", "SampledInteractionRow", "SamplingPlanRow"]
