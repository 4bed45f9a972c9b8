"""Voiceprint table on the shared :class:`models.db.Base`.

A voiceprint is biometric data, under the same consent, retention and deletion rules as face
embeddings: only the embedding is stored (never the enrolment audio), with the source file's
name for the audit, the engine that made it and when. Deleting a staff member deletes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base, Staff


class VoiceprintRow(Base):
    """One staff member's voice embedding (float32 bytes) for one voice engine."""

    __tablename__ = "voice_voiceprint"
    __table_args__ = (Index("ix_voice_voiceprint_engine_staff", "engine", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    engine: Mapped[str] = mapped_column(String(32))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    source_name: Mapped[str] = mapped_column(String(500), default="")  # file name(s) only, for the audit
    speech_s: Mapped[float] = mapped_column(Float, default=0.0)  # seconds of audio the embedding came from
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())

    staff: Mapped[Staff] = relationship()


__all__ = ["VoiceprintRow"]
