"""Attendance tables on the shared :class:`models.db.Base`.

Enrolment embeddings, check-ins (face and non-biometric), leave records with their extensions,
staff credentials for the fallback check-in, and window-camera presence samples. Staff,
windows, the duty roster and substitutes (替岗) are the core tables of :mod:`models.db`.

The classified month (``attendance classify``) is stored too: one :class:`AttendanceMonthRow` per
month with its working half-days, the circular's staff and window lines and the coverage and
presence flags, so that the dashboard reads attendance like everything else. Classifying a month
again replaces all of it. Windows are named there by code, as the circular names them: the stored
month is what the roster was when it was classified.

Face data is sensitive personal information: only embeddings are stored; the enrolment photo
path is kept only when the site sets ``Settings.keep_enrolment_photos``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.attendance import (
    AbsenteeismCause,
    ApprovalLevel,
    AttendanceAppealStatus,
    CheckMethod,
    CoverageIssue,
    DayType,
    HalfDay,
    HalfDayStatus,
    LeaveSource,
    LeaveStatus,
    PresenceIssue,
    SecondFactor,
)
from models.db import Base, Staff, UserAccount, Window, _enum


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
    """A leave (请假) with its approval; ``record_id`` is the id in the system it came from.

    ``status`` is what attendance reads. For a leave from a file it is the file's (an approval made
    outside windowqa); for one requested on the dashboard it follows the approval chain
    (:class:`LeaveApprovalRow`): approved once every step has approved, rejected by any step.
    """

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
    source: Mapped[LeaveSource] = mapped_column(_enum(LeaveSource, "leave_source"), default=LeaveSource.FILE,
                                                server_default=LeaveSource.FILE.value)
    requested_by: Mapped[Optional[str]] = mapped_column(String(64))  # the dashboard user who asked
    # the substitute the applicant proposes (替岗, 四.(三).1) and the window they cover; filed (备案)
    # as a substitution when the leave is approved
    substitute_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    substitute_window_id: Mapped[Optional[int]] = mapped_column(ForeignKey("window.id"))

    staff: Mapped[Staff] = relationship(foreign_keys=[staff_id])
    substitute: Mapped[Optional[Staff]] = relationship(foreign_keys=[substitute_id])
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
    note: Mapped[str] = mapped_column(Text, default="", server_default="")  # why (因特殊情况需要续假)

    leave: Mapped[LeaveRow] = relationship(back_populates="extensions")


class LeaveApproverRow(Base):
    """A manager account that decides one level of the leave chain (of one department, for its head)."""

    __tablename__ = "attendance_leave_approver"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    level: Mapped[ApprovalLevel] = mapped_column(_enum(ApprovalLevel, "approval_level"))
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"))  # None for the centre

    user: Mapped[UserAccount] = relationship()


class LeaveApprovalRow(Base):
    """One step's decision on a leave or on one of its extensions (who, what, when, why): the audit of the chain."""

    __tablename__ = "attendance_leave_approval"
    __table_args__ = (Index("ix_attendance_leave_approval_leave", "leave_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    leave_id: Mapped[int] = mapped_column(ForeignKey("attendance_leave.id", ondelete="CASCADE"))
    extension_id: Mapped[Optional[int]] = mapped_column(ForeignKey("attendance_leave_extension.id", ondelete="CASCADE"))
    level: Mapped[ApprovalLevel] = mapped_column(_enum(ApprovalLevel, "approval_level"))
    decision: Mapped[LeaveStatus] = mapped_column(_enum(LeaveStatus, "leave_status"))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64))  # kept if the account goes
    decided_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text, default="")


class AttendanceAppealRow(Base):
    """A staff member's appeal against one classified half-day, and the manager's final decision.

    Keyed by staff, day and half (not by the stored half-day, which a new classification replaces):
    a granted appeal is applied again whenever the month is classified.
    """

    __tablename__ = "attendance_appeal"
    __table_args__ = (UniqueConstraint("staff_id", "day", "half", name="uq_attendance_appeal_staff_day_half"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    half: Mapped[HalfDay] = mapped_column(_enum(HalfDay, "half_day"))
    classified_as: Mapped[HalfDayStatus] = mapped_column(_enum(HalfDayStatus, "half_day_status"))
    reason: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[AttendanceAppealStatus] = mapped_column(
        _enum(AttendanceAppealStatus, "attendance_appeal_status"), default=AttendanceAppealStatus.PENDING)
    ruling: Mapped[Optional[str]] = mapped_column(Text)
    ruled_by: Mapped[Optional[str]] = mapped_column(String(64))
    decided_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


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


# ---------------------------------------------------------------------------- the classified month


class AttendanceMonthRow(Base):
    """One classified month: through which day, under which rulebook and calendar, and when."""

    __tablename__ = "attendance_month"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    through: Mapped[date] = mapped_column(Date)  # last day classified (later days had not happened)
    rulebook_version: Mapped[str] = mapped_column(String(64), default="")
    calendar: Mapped[str] = mapped_column(String(1000), default="")  # the site calendar file, "" for national days only
    classified_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())


class HalfDayRow(Base):
    """One staff member's working half-day as classified (四.(一)/(二))."""

    __tablename__ = "attendance_half_day"
    __table_args__ = (
        UniqueConstraint("staff_id", "day", "half", name="uq_attendance_half_day_staff_day_half"),
        Index("ix_attendance_half_day_month_staff", "month_id", "staff_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(ForeignKey("attendance_month.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    half: Mapped[HalfDay] = mapped_column(_enum(HalfDay, "half_day"))
    day_type: Mapped[DayType] = mapped_column(_enum(DayType, "day_type"))
    status: Mapped[HalfDayStatus] = mapped_column(_enum(HalfDayStatus, "half_day_status"))
    arrived_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    left_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    late_minutes: Mapped[int] = mapped_column(Integer, default=0)
    early_minutes: Mapped[int] = mapped_column(Integer, default=0)
    missing_checks: Mapped[int] = mapped_column(Integer, default=0)
    leave_type: Mapped[Optional[str]] = mapped_column(String(32))
    absenteeism: Mapped[Optional[AbsenteeismCause]] = mapped_column(_enum(AbsenteeismCause, "absenteeism_cause"))


class StaffMonthRow(Base):
    """One staff member's line of the monthly circular (按月通报)."""

    __tablename__ = "attendance_staff_month"
    __table_args__ = (UniqueConstraint("month_id", "staff_id", name="uq_attendance_staff_month_month_staff"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(ForeignKey("attendance_month.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    window_code: Mapped[Optional[str]] = mapped_column(String(32))  # the window they serve (None: substitute only)
    working_days: Mapped[int] = mapped_column(Integer, default=0)
    late_count: Mapped[int] = mapped_column(Integer, default=0)
    late_minutes: Mapped[int] = mapped_column(Integer, default=0)
    early_count: Mapped[int] = mapped_column(Integer, default=0)
    early_minutes: Mapped[int] = mapped_column(Integer, default=0)
    missing_checks: Mapped[int] = mapped_column(Integer, default=0)
    absenteeism_days: Mapped[float] = mapped_column(Float, default=0.0)
    leave_days: Mapped[float] = mapped_column(Float, default=0.0)
    leave_by_type: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"事假": 1.5}
    checks_due: Mapped[int] = mapped_column(Integer, default=0)
    checks_on_time: Mapped[int] = mapped_column(Integer, default=0)
    presence_flags: Mapped[int] = mapped_column(Integer, default=0)


class WindowMonthRow(Base):
    """One window's line of the monthly circular."""

    __tablename__ = "attendance_window_month"
    __table_args__ = (UniqueConstraint("month_id", "window_code", name="uq_attendance_window_month_month_window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(ForeignKey("attendance_month.id", ondelete="CASCADE"))
    window_code: Mapped[str] = mapped_column(String(32))
    staff_nos: Mapped[list[Any]] = mapped_column(JSON, default=list)
    late_count: Mapped[int] = mapped_column(Integer, default=0)
    early_count: Mapped[int] = mapped_column(Integer, default=0)
    missing_checks: Mapped[int] = mapped_column(Integer, default=0)
    absenteeism_days: Mapped[float] = mapped_column(Float, default=0.0)
    leave_days: Mapped[float] = mapped_column(Float, default=0.0)
    checks_due: Mapped[int] = mapped_column(Integer, default=0)
    checks_on_time: Mapped[int] = mapped_column(Integer, default=0)
    coverage_flags: Mapped[int] = mapped_column(Integer, default=0)
    presence_flags: Mapped[int] = mapped_column(Integer, default=0)


class CoverageFlagRow(Base):
    """A window left without staff in one half-day (替岗制度 四.(三), 三.4)."""

    __tablename__ = "attendance_coverage_flag"
    __table_args__ = (Index("ix_attendance_coverage_flag_month", "month_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(ForeignKey("attendance_month.id", ondelete="CASCADE"))
    window_code: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    half: Mapped[HalfDay] = mapped_column(_enum(HalfDay, "half_day"))
    issue: Mapped[CoverageIssue] = mapped_column(_enum(CoverageIssue, "coverage_issue"))
    staff_nos: Mapped[list[Any]] = mapped_column(JSON, default=list)
    detail: Mapped[str] = mapped_column(Text, default="")


class PresenceFlagRow(Base):
    """An absence from the post a window camera saw (三.3, 三.8)."""

    __tablename__ = "attendance_presence_flag"
    __table_args__ = (Index("ix_attendance_presence_flag_month", "month_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(ForeignKey("attendance_month.id", ondelete="CASCADE"))
    window_code: Mapped[str] = mapped_column(String(32))
    issue: Mapped[PresenceIssue] = mapped_column(_enum(PresenceIssue, "presence_issue"))
    start: Mapped[datetime] = mapped_column(DateTime)
    end: Mapped[datetime] = mapped_column(DateTime)
    staff_nos: Mapped[list[Any]] = mapped_column(JSON, default=list)


def leave_decided_after(session, first: date, last: date, after: datetime) -> int:
    """How many leave decisions made after ``after`` concern ``first``..``last`` (a stored month they make stale).

    A leave concerns the days from its start to the day after its latest end (an absence right
    after a leave is 超假).
    """
    from datetime import timedelta

    from sqlalchemy import select

    rows = session.execute(
        select(LeaveApprovalRow.id, LeaveRow).join(LeaveRow, LeaveRow.id == LeaveApprovalRow.leave_id)
        .where(LeaveApprovalRow.decided_at > after, LeaveRow.start <= last)
    ).all()
    return sum(1 for _, leave in rows
               if max([leave.end] + [e.new_end for e in leave.extensions]) + timedelta(days=1) >= first)


__all__ = [
    "leave_decided_after",
    "AttendanceAppealRow", "AttendanceMonthRow", "CheckInRow", "LeaveApprovalRow", "LeaveApproverRow", "CoverageFlagRow", "CredentialRow", "FaceEmbeddingRow", "HalfDayRow",
    "LeaveExtensionRow", "LeaveRow", "PresenceFlagRow", "PresenceSampleRow", "StaffMonthRow", "WindowMonthRow",
]
