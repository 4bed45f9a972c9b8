"""Attendance data functions: read and write the attendance tables through a given session.

Sessions live outside (the CLI or a worker owns ``with factory() as s, s.begin():``); these
functions only add, query and flush. Staff and windows are the core tables of
:mod:`models.db`, addressed here by 工号 (``Staff.staff_no``) and window code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.attendance import (
    AttendanceAppealStatus,
    CheckIn,
    CheckResult,
    HalfDayRecord,
    HalfDayStatus,
    HalfDay,
    CoverageFlag,
    DayRecord,
    PresenceFlag,
    StaffMonth,
    WindowMonth,
    LeaveExtension,
    LeaveRecord,
    PresenceSample,
    Substitute,
    WindowDuty,
)
from models.attendance_db import (
    AttendanceAppealRow,
    CheckInRow,
    CredentialRow,
    FaceEmbeddingRow,
    LeaveExtensionRow,
    LeaveRow,
    PresenceSampleRow,
)
from models.db import RosterEntry, Staff, Substitution, Window, staff_window

from models.rulebook import Rulebook

from models.workdays import WorkCalendar
from attendance.checkin import CredentialDirectory, hash_pin
from attendance.gallery import EnrolledFace, Gallery
from attendance.schedule import noon_split

logger = logging.getLogger("attendance")


class UnknownStaffError(LookupError):
    """A 工号 or window code that is not in the database."""


def staff_by_no(session: Session, staff_no: str, *, create_name: str | None = None) -> Staff:
    """The staff row of a 工号; created with ``create_name`` when missing and a name is given.

    Raises:
        UnknownStaffError: no such staff member and no name to create one.
    """
    row = session.scalar(select(Staff).where(Staff.staff_no == staff_no))
    if row is None:
        if create_name is None:
            raise UnknownStaffError(f"unknown staff 工号 {staff_no!r}: import the staff list first (or give a name)")
        row = Staff(staff_no=staff_no, name=create_name)
        session.add(row)
        session.flush()
    return row


def window_by_code(session: Session, code: str) -> Window:
    row = session.scalar(select(Window).where(Window.code == code))
    if row is None:
        raise UnknownStaffError(f"unknown window {code!r}")
    return row


# ---------------------------------------------------------------------------- enrolment


def save_enrolment(session: Session, face: EnrolledFace, *, photo_path: str | Path | None = None) -> FaceEmbeddingRow:
    """Store one accepted enrolment embedding (the photo path only when photos are kept)."""
    staff = staff_by_no(session, face.staff_id)
    vector = np.asarray(face.embedding, dtype=np.float32)
    row = FaceEmbeddingRow(
        staff_id=staff.id, engine=face.engine, dim=int(vector.shape[0]), vector=vector.tobytes(),
        source_name=Path(face.source).name, photo_path=str(photo_path) if photo_path else None,
        face_px=face.face_px, sharpness=float(face.sharpness),
    )
    session.add(row)
    session.flush()
    return row


def delete_enrolment(session: Session, staff_no: str, engine: str | None = None) -> int:
    """Remove a person's embeddings (withdrawn consent, leaving the hall); returns how many."""
    staff = staff_by_no(session, staff_no)
    q = select(FaceEmbeddingRow).where(FaceEmbeddingRow.staff_id == staff.id)
    if engine:
        q = q.where(FaceEmbeddingRow.engine == engine)
    rows = session.scalars(q).all()
    for r in rows:
        session.delete(r)
    session.flush()
    return len(rows)


def load_gallery(session: Session, gallery: Gallery) -> Gallery:
    """Fill ``gallery`` with every stored embedding of its engine (active staff only)."""
    rows = session.execute(
        select(Staff.staff_no, FaceEmbeddingRow.vector, FaceEmbeddingRow.dim)
        .join(Staff, Staff.id == FaceEmbeddingRow.staff_id)
        .where(FaceEmbeddingRow.engine == gallery.engine_name, Staff.active.is_(True))
        .order_by(FaceEmbeddingRow.id)
    ).all()
    for staff_no, blob, dim in rows:
        gallery.add(staff_no, np.frombuffer(blob, dtype=np.float32, count=dim))
    return gallery


# ---------------------------------------------------------------------------- check-ins


def save_checkin(session: Session, checkin: CheckIn, *, window_minutes: int, engine: str | None = None, note: str = "") -> tuple[CheckInRow, bool]:
    """Store a check-in, collapsing it into the person's previous one within ``window_minutes``.

    Returns:
        The row and whether a new row was added (False: it was collapsed into an earlier one).
    """
    staff_id = staff_by_no(session, checkin.staff_id).id if checkin.staff_id is not None else None
    if staff_id is not None and window_minutes > 0:
        earlier = session.scalar(
            select(CheckInRow)
            .where(CheckInRow.staff_id == staff_id,
                   CheckInRow.at >= checkin.at - timedelta(minutes=window_minutes), CheckInRow.at <= checkin.at)
            .order_by(CheckInRow.at)
            .limit(1)
        )
        if earlier is not None:
            earlier.collapsed += checkin.collapsed
            session.flush()
            return earlier, False
    row = CheckInRow(
        staff_id=staff_id, at=checkin.at, method=checkin.method, terminal=checkin.terminal, distance=checkin.distance,
        margin=checkin.margin, source=checkin.source, collapsed=checkin.collapsed, engine=engine, note=note,
        second_factor=checkin.second_factor,
    )
    session.add(row)
    session.flush()
    return row, True


def load_checkins(session: Session, first: date, last: date, *, include_unknown: bool = False,
                  staff_nos: Iterable[str] | None = None) -> list[CheckIn]:
    """Check-ins from ``first`` to ``last`` inclusive, as domain objects.

    Args:
        staff_nos: only these people's check-ins (default: everyone's).
    """
    # one query of plain columns: a month of a large hall is tens of thousands of rows, and
    # building an ORM object per row cost more than the whole classification
    q = (
        select(Staff.staff_no, CheckInRow.at, CheckInRow.method, CheckInRow.terminal, CheckInRow.distance,
               CheckInRow.margin, CheckInRow.source, CheckInRow.collapsed, CheckInRow.second_factor)
        .select_from(CheckInRow)
        .outerjoin(Staff, Staff.id == CheckInRow.staff_id)
        .where(CheckInRow.at >= datetime.combine(first, time.min), CheckInRow.at < datetime.combine(last + timedelta(days=1), time.min))
        .order_by(CheckInRow.at)
    )
    if not include_unknown:
        q = q.where(Staff.staff_no.is_not(None))
    if staff_nos is not None:
        q = q.where(Staff.staff_no.in_(sorted(set(staff_nos))))
    return [CheckIn(*row) for row in session.execute(q)]


# ---------------------------------------------------------------------------- leave


def save_leave(session: Session, leave: LeaveRecord) -> LeaveRow:
    """Add a leave record, or update the one with the same ``record_id`` (re-imports change nothing twice)."""
    staff = staff_by_no(session, leave.staff_id)
    row = session.scalar(select(LeaveRow).where(LeaveRow.record_id == leave.record_id)) if leave.record_id else None
    if row is None:
        row = LeaveRow(record_id=leave.record_id)
        session.add(row)
    row.staff_id = staff.id
    row.leave_type = leave.leave_type
    row.start, row.end = leave.start, leave.end
    row.start_half, row.end_half = leave.start_half, leave.end_half
    row.status = leave.status
    row.deceptive = leave.deceptive
    row.note = leave.note
    row.extensions = [LeaveExtensionRow(new_end=e.new_end, new_end_half=e.new_end_half, status=e.status) for e in leave.extensions]
    session.flush()
    return row


def load_leaves(session: Session, first: date, last: date) -> list[LeaveRecord]:
    """Leave records that touch ``first``..``last`` (an extension may reach into the range)."""
    rows = session.execute(
        select(LeaveRow, Staff.staff_no).join(Staff, Staff.id == LeaveRow.staff_id)
        .options(selectinload(LeaveRow.extensions))
        .where(LeaveRow.start <= last)
        .order_by(LeaveRow.start)
    ).all()
    out = []
    for row, staff_no in rows:
        exts = tuple(LeaveExtension(e.new_end, e.status, e.new_end_half) for e in row.extensions)
        latest = max([row.end] + [e.new_end for e in exts])
        if latest < first - timedelta(days=31):
            continue  # long over: cannot matter for this range (overruns are looked for a month back)
        out.append(LeaveRecord(staff_no, row.leave_type, row.start, row.end, row.status, row.start_half, row.end_half,
                               exts, row.deceptive, row.record_id, row.note))
    return out


# ---------------------------------------------------------------------------- roster and substitutes


def load_window_duties(session: Session, first: date, last: date) -> list[WindowDuty]:
    """Who serves at each active window in the range: roster entries, else the staff-window links."""
    start, end = datetime.combine(first, time.min), datetime.combine(last + timedelta(days=1), time.min)
    duties: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for code, name in session.execute(select(Window.code, Window.name).where(Window.active.is_(True)).order_by(Window.code)):
        duties[code] = []
        names[code] = name
    rostered = session.execute(
        select(Window.code, Staff.staff_no).join(RosterEntry, RosterEntry.window_id == Window.id)
        .join(Staff, Staff.id == RosterEntry.staff_id)
        .where(RosterEntry.starts_at < end, RosterEntry.ends_at > start).distinct()
    ).all()
    has_roster = {code for code, _ in rostered}
    for code, staff_no in rostered:
        if code in duties and staff_no not in duties[code]:
            duties[code].append(staff_no)
    linked = session.execute(
        select(Window.code, Staff.staff_no).join(staff_window, staff_window.c.window_id == Window.id)
        .join(Staff, Staff.id == staff_window.c.staff_id).where(Staff.active.is_(True))
    ).all()
    for code, staff_no in linked:
        if code in duties and code not in has_roster and staff_no not in duties[code]:
            duties[code].append(staff_no)
    return [WindowDuty(code, tuple(sorted(ids)), names[code]) for code, ids in duties.items() if ids]


def load_substitutes(session: Session, first: date, last: date, rulebook: Rulebook | None = None) -> list[Substitute]:
    """Approved substitutions touching the range; ``filed`` means reported before it began (备案).

    With a rulebook, a one-day substitution within the morning or the afternoon covers only that half.
    """
    start, end = datetime.combine(first, time.min), datetime.combine(last + timedelta(days=1), time.min)
    sub_staff = Staff.__table__.alias("sub_staff")
    rep_staff = Staff.__table__.alias("rep_staff")
    rows = session.execute(
        select(Substitution, Window.code, sub_staff.c.staff_no, rep_staff.c.staff_no)
        .join(Window, Window.id == Substitution.window_id)
        .join(sub_staff, sub_staff.c.id == Substitution.substitute_id)
        .outerjoin(rep_staff, rep_staff.c.id == Substitution.replaced_id)
        .where(Substitution.starts_at < end, Substitution.ends_at > start, Substitution.approved.is_(True))
    ).all()
    out = []
    for sub, code, sub_no, rep_no in rows:
        filed = sub.filed_at is not None and sub.filed_at <= sub.starts_at
        last_day = (sub.ends_at - timedelta(seconds=1)).date() if sub.ends_at.time() == time.min else sub.ends_at.date()
        half = None
        if rulebook is not None and sub.starts_at.date() == last_day:
            # a one-day substitution that ends by the lunch split, or starts after it, covers that half only
            split = noon_split(last_day, rulebook.attendance)
            if sub.ends_at <= split:
                half = HalfDay.MORNING
            elif sub.starts_at >= split:
                half = HalfDay.AFTERNOON
        out.append(Substitute(code, sub_no, sub.starts_at.date(), last_day, rep_no, filed, half))
    return out


# ---------------------------------------------------------------------------- presence and credentials


def save_presence_sample(session: Session, sample: PresenceSample) -> PresenceSampleRow:
    window = window_by_code(session, sample.window_id)
    row = PresenceSampleRow(window_id=window.id, at=sample.at, staff_nos=sorted(sample.staff_present), unknown_faces=sample.unknown_faces)
    session.add(row)
    session.flush()
    return row


def load_presence_samples(session: Session, first: date, last: date) -> list[PresenceSample]:
    rows = session.execute(
        select(PresenceSampleRow, Window.code).join(Window, Window.id == PresenceSampleRow.window_id)
        .where(PresenceSampleRow.at >= datetime.combine(first, time.min),
               PresenceSampleRow.at < datetime.combine(last + timedelta(days=1), time.min))
        .order_by(PresenceSampleRow.at)
    ).all()
    return [PresenceSample(code, r.at, frozenset(r.staff_nos or ()), r.unknown_faces) for r, code in rows]


def set_credentials(session: Session, staff_no: str, *, card_no: str | None = None, pin: str | None = None,
                    face_consent: bool | None = None) -> CredentialRow:
    """Register a card number and/or PIN (stored hashed) for the non-biometric check-in."""
    staff = staff_by_no(session, staff_no)
    row = session.scalar(select(CredentialRow).where(CredentialRow.staff_id == staff.id))
    if row is None:
        row = CredentialRow(staff_id=staff.id)
        session.add(row)
    if card_no is not None:
        row.card_no = card_no.strip()
    if pin is not None:
        row.pin_hash = hash_pin(pin, staff_no)
    if face_consent is not None:
        row.face_consent = face_consent
    session.flush()
    return row


def load_credentials(session: Session) -> CredentialDirectory:
    cards: dict[str, str] = {}
    pins: dict[str, str] = {}
    for row, staff_no in session.execute(select(CredentialRow, Staff.staff_no).join(Staff, Staff.id == CredentialRow.staff_id)):
        if row.card_no:
            cards[row.card_no] = staff_no
        if row.pin_hash:
            pins[staff_no] = row.pin_hash
    return CredentialDirectory(cards, pins)


def active_staff_nos(session: Session) -> list[str]:
    return list(session.scalars(select(Staff.staff_no).where(Staff.active.is_(True)).order_by(Staff.staff_no)))


def seed_leaves(session: Session, leaves: Iterable[LeaveRecord]) -> int:
    n = 0
    for lv in leaves:
        save_leave(session, lv)
        n += 1
    return n


__all__: Sequence[str] = [
    "UnknownStaffError", "active_staff_nos", "delete_enrolment", "load_checkins", "load_credentials", "load_gallery",
    "load_leaves", "load_presence_samples", "load_substitutes", "load_window_duties", "save_checkin", "save_enrolment",
    "save_leave", "save_presence_sample", "seed_leaves", "set_credentials", "staff_by_no", "window_by_code",
]


# ---------------------------------------------------------------------------- the month


_NOT_CONTESTED = (HalfDayStatus.OFF, HalfDayStatus.LEAVE, HalfDayStatus.ON_TIME)  # (leave approved since: it stays leave)


def apply_granted_appeals(session: Session, records: list[DayRecord]) -> list[DayRecord]:
    """The day records with every half-day a manager's granted appeal (考勤申诉) corrected counted as on time.

    The half-day keeps its checks where they were made; a missing one stands at its due time, so
    that the circular counts both checks as on time, as the decision said.
    """
    if not records:
        return records
    first, last = min(r.day for r in records), max(r.day for r in records)
    granted = set(session.execute(
        select(Staff.staff_no, AttendanceAppealRow.day, AttendanceAppealRow.half).join(Staff, Staff.id == AttendanceAppealRow.staff_id)
        .where(AttendanceAppealRow.status == AttendanceAppealStatus.GRANTED, AttendanceAppealRow.day >= first,
               AttendanceAppealRow.day <= last)
    ).all())
    if not granted:
        return records
    out = []
    for rec in records:
        halves = [_on_time(h) if (rec.staff_id, rec.day, h.half) in granted and h.status not in _NOT_CONTESTED else h
                  for h in rec.halves]
        out.append(DayRecord(rec.staff_id, rec.day, rec.day_type, halves[0], halves[1], rec.rulebook_version))
    return out


def _on_time(h: HalfDayRecord) -> HalfDayRecord:
    checks = [CheckResult(c.slot, c.due, c.at or c.due, 0) if c is not None else None for c in (h.arrive, h.leave)]
    return HalfDayRecord(h.staff_id, h.day, h.half, HalfDayStatus.ON_TIME, checks[0], checks[1])


@dataclass(frozen=True)
class MonthResult:
    """A month classified: circular lines, day records and flags."""

    month: str
    staff_lines: list[StaffMonth]
    window_lines: list[WindowMonth]
    records: list[DayRecord]
    coverage: list[CoverageFlag]
    presence: list[PresenceFlag]


def compute_month(
    session: Session, month: str, rulebook: Rulebook, calendar: WorkCalendar, *, as_of: date | None = None,
    presence_options=None,
) -> MonthResult:
    """Everything the monthly circular needs, read from the database and classified.

    Args:
        as_of: last day to classify (days after it have not happened yet); default: the month's end.

    Returns:
        A :class:`MonthResult`.
    """
    from attendance.presence import presence_flags
    from attendance.report import month_bounds, monthly_circular
    from attendance.schedule import check_coverage, classify_month

    first, last = month_bounds(month)
    if as_of is not None:
        last = min(last, as_of)
    lookback = first - timedelta(days=31)  # an absence that began last month after a leave is still 超假
    duties = load_window_duties(session, first, last)
    leaves = load_leaves(session, lookback, last)
    # the days before the month only tell whether an absence at its start continues a leave
    # (超假): that needs a leave record, so only people with one are classified from the lookback
    with_leave = {lv.staff_id for lv in leaves}
    checks = load_checkins(session, first, last)
    if with_leave:
        checks = load_checkins(session, lookback, first - timedelta(days=1), staff_nos=with_leave) + checks
    substitutes = load_substitutes(session, first, last, rulebook)
    # staff at a window are held to the schedule every working day; anyone else (a floating
    # substitute, back-office staff) only on the days they substitute at a window
    active = set(active_staff_nos(session))
    # (a site that has not set up its windows yet: everyone active)
    rostered = ({sid for w in duties for sid in w.staff_ids} & active) if duties else active
    sub_days = {(s.substitute_staff_id, s.start + timedelta(days=i))
                for s in substitutes for i in range((s.end - s.start).days + 1)}
    others = {sid for sid, _ in sub_days} - rostered
    staff = sorted(rostered | others)
    classified = (classify_month([sid for sid in staff if sid in with_leave], lookback, last, checks, leaves, rulebook, calendar)
                  + classify_month([sid for sid in staff if sid not in with_leave], first, last, checks, leaves, rulebook, calendar))
    order = {sid: i for i, sid in enumerate(staff)}
    classified.sort(key=lambda r: order[r.staff_id])  # stable: each person's days stay in order
    records = [
        r for r in classified
        if r.day >= first and (r.staff_id in rostered or (r.staff_id, r.day) in sub_days)
    ]
    records = apply_granted_appeals(session, records)
    coverage = check_coverage(duties, records, substitutes)
    samples = load_presence_samples(session, first, last)
    flags = []
    if samples:
        by_day: dict[date, list] = {}
        for s in samples:
            by_day.setdefault(s.at.date(), []).append(s)
        status = {(r.staff_id, r.day): r for r in records}
        for day, day_samples in sorted(by_day.items()):
            expected = {
                w.window_id: [sid for sid in w.staff_ids if (rec := status.get((sid, day))) is not None
                              and all(h.present for h in rec.halves)]
                for w in duties
            }
            for sub in substitutes:
                if sub.start <= day <= sub.end:
                    expected.setdefault(sub.window_id, []).append(sub.substitute_staff_id)
            flags.extend(presence_flags(day_samples, expected, rulebook, calendar, presence_options))
    staff_lines, window_lines = monthly_circular(month, duties, records, staff, coverage, flags)
    return MonthResult(month, staff_lines, window_lines, records, coverage, flags)

