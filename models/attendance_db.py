"""Attendance tables on the shared :class:`models.db.Base`.

Enrolment embeddings, check-ins (face and non-biometric), leave records with their extensions,
staff credentials for the fallback check-in, and window-camera presence samples. Staff,
windows, the duty roster and substitutes (替岗) are the core tables of :mod:`models.db`.

Face data is sensitive personal information: only embeddings are stored; the enrolment photo
path is kept only when the site sets ``Settings.keep_enrolment_photos``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.attendance import CheckMethod, HalfDay, LeaveStatus, SecondFactor
from models.db import Base, Staff, Window, _enum


class FaceEmbeddingRow(Base):
    """One accepted enrolment photo's embedding (float32 bytes) for one engine."""

    __tablename__ = "attendance_face_embedding"
    __table_args__ = (Index("ix_attendance_face_embedding_engine_staff", "engine", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    engine: Mapped[str] = mapped_column(String(32))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    source_name: Mapped[str] = mapped_column(String(500), default="")  # file name only, for the audit
    photo_path: Mapped[Optional[str]] = mapped_column(String(1000))  # only when photos are kept
    face_px: Mapped[int] = mapped_column(Integer)
    sharpness: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())

    staff: Mapped[Staff] = relationship()


class CheckInRow(Base):
    """A check-in; ``staff_id`` is None for an unknown face (kept for review)."""

    __tablename__ = "attendance_checkin"
    __table_args__ = (Index("ix_attendance_checkin_staff_at", "staff_id", "at"), Index("ix_attendance_checkin_at", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime)
    method: Mapped[CheckMethod] = mapped_column(_enum(CheckMethod, "checkin_method"))
    terminal: Mapped[Optional[str]] = mapped_column(String(200))
    distance: Mapped[Optional[float]] = mapped_column(Float)
    margin: Mapped[Optional[float]] = mapped_column(Float)
    source: Mapped[Optional[str]] = mapped_column(String(1000))
    collapsed: Mapped[int] = mapped_column(Integer, default=1)
    engine: Mapped[Optional[str]] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    # what confirmed a face that was not clearly inside the threshold (None: the face alone)
    second_factor: Mapped[Optional[SecondFactor]] = mapped_column(_enum(SecondFactor, "second_factor"))

    staff: Mapped[Optional[Staff]] = relationship()


class LeaveRow(Base):
    """A leave (请假) with its approval; ``record_id`` is the id in the system it came from."""

    __tablename__ = "attendance_leave"
    __table_args__ = (Index("ix_attendance_leave_staff_start", "staff_id", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[Optional[str]] = mapped_column(String(128), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    leave_type: Mapped[str] = mapped_column(String(32))  # the rulebook's name: 事假, 病假 ...
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    start_half: Mapped[HalfDay] = mapped_column(_enum(HalfDay, "half_day"), default=HalfDay.MORNING)
    end_half: Mapped[HalfDay] = mapped_column(_enum(HalfDay, "half_day"), default=HalfDay.AFTERNOON)
    status: Mapped[LeaveStatus] = mapped_column(_enum(LeaveStatus, "leave_status"), default=LeaveStatus.PENDING)
    deceptive: Mapped[bool] = mapped_column(Boolean, default=False)  # 旷工 case 4, set by 督查考核科
    note: Mapped[str] = mapped_column(Text, default="")
    filed_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())

    staff: Mapped[Staff] = relationship()
    extensions: Mapped[list["LeaveExtensionRow"]] = relationship(
        back_populates="leave", order_by="LeaveExtensionRow.id", cascade="all, delete-orphan"
    )


class LeaveExtensionRow(Base):
    """A 续假 request on a leave."""

    __tablename__ = "attendance_leave_extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    leave_id: Mapped[int] = mapped_column(ForeignKey("attendance_leave.id", ondelete="CASCADE"), index=True)
    new_end: Mapped[date] = mapped_column(Date)
    new_end_half: Mapped[HalfDay] = mapped_column(_enum(HalfDay, "half_day"), default=HalfDay.AFTERNOON)
    status: Mapped[LeaveStatus] = mapped_column(_enum(LeaveStatus, "leave_status"), default=LeaveStatus.PENDING)
    filed_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())

    leave: Mapped[LeaveRow] = relationship(back_populates="extensions")


class CredentialRow(Base):
    """Non-biometric check-in credentials of one staff member (who does not consent to faces)."""

    __tablename__ = "attendance_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    card_no: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[Optional[str]] = mapped_column(String(128))  # attendance.checkin.hash_pin, never the PIN
    face_consent: Mapped[bool] = mapped_column(Boolean, default=True)

    staff: Mapped[Staff] = relationship()


class PresenceSampleRow(Base):
    """Who a window camera recognised in one periodic frame (staff numbers, not images)."""

    __tablename__ = "attendance_presence_sample"
    __table_args__ = (Index("ix_attendance_presence_sample_window_at", "window_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("window.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime)
    staff_nos: Mapped[list[Any]] = mapped_column(JSON, default=list)
    unknown_faces: Mapped[int] = mapped_column(Integer, default=0)

    window: Mapped[Window] = relationship()


__all__ = ["CheckInRow", "CredentialRow", "FaceEmbeddingRow", "LeaveExtensionRow", "LeaveRow", "PresenceSampleRow"]
