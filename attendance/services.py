"""Attendance services: enrolment, check-in (card, PIN, face) and leave import.

The command line and the demo run these same flows. Each function works through a session the
caller opened (the caller owns the transaction) and engines the caller built; nothing here reads
settings or loads a model.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from sqlalchemy.orm import Session

from models.attendance import CheckIn, LeaveRecord
from models.attendance_db import CheckInRow

from attendance.checkin import (
    CredentialDirectory,
    CredentialError,
    FaceCheck,
    checkin_capture,
    checkin_card,
    checkin_image_file,
    checkin_pin,
    confirm_face_with_credential,
)
from attendance.faces import FaceEngine
from attendance.leave_file import LeaveFileError, LeaveLimits, leave_from_row, read_leave_file
from attendance.gallery import EnrolledFace, EnrolmentOptions, EnrolmentRejected, Gallery, MatchOptions, enrol_file
from attendance.store import (
    UnknownStaffError,
    load_credentials,
    load_gallery,
    save_checkin,
    save_enrolment,
    save_leave,
    staff_by_no,
)

# ---------------------------------------------------------------------------- enrolment


@dataclass(frozen=True)
class PhotoCheck:
    """One enrolment photo after the quality checks: an accepted face or the rejection."""

    photo: Path
    face: EnrolledFace | None = None
    rejection: EnrolmentRejected | None = None


def check_enrolment_photos(
    engine: FaceEngine, staff_no: str, photos: Iterable[Path], options: EnrolmentOptions | None = None
) -> list[PhotoCheck]:
    """Run every photo through the enrolment checks; a rejected photo does not stop the others."""
    checks = []
    for photo in photos:
        try:
            checks.append(PhotoCheck(Path(photo), face=enrol_file(engine, staff_no, photo, options)))
        except EnrolmentRejected as exc:
            checks.append(PhotoCheck(Path(photo), rejection=exc))
    return checks


def store_enrolment(
    session: Session, staff_no: str, checks: Sequence[PhotoCheck], *, create_name: str | None = None,
    photo_dir: Path | None = None,
) -> int:
    """Store the accepted faces of ``checks``; returns how many.

    Args:
        session: an open session (the caller commits).
        staff_no: 工号 of the person.
        checks: from :func:`check_enrolment_photos`; rejected photos are skipped.
        create_name: create the staff member with this name when the 工号 is unknown.
        photo_dir: keep a copy of each accepted photo here (only where the site keeps photos).

    Raises:
        UnknownStaffError: the 工号 is unknown and no name was given.
    """
    staff_by_no(session, staff_no, create_name=create_name)
    stored = 0
    for check in checks:
        if check.face is None:
            continue
        kept = None
        if photo_dir is not None:
            photo_dir.mkdir(parents=True, exist_ok=True)
            kept = photo_dir / check.photo.name
            shutil.copy2(check.photo, kept)
        save_enrolment(session, check.face, photo_path=kept)
        stored += 1
    return stored


# ---------------------------------------------------------------------------- check-in


@dataclass(frozen=True)
class DeskOptions:
    """How a check-in desk records.

    Attributes:
        window_minutes: a person's repeated check-ins within this many minutes collapse into
            one (the rulebook's ``attendance.duplicate_window_minutes``).
        terminal: terminal or camera name stored with each check-in.
        match: face acceptance distance and margin; the engine's defaults when None.
    """

    window_minutes: int
    terminal: str | None = None
    match: MatchOptions | None = None


@dataclass(frozen=True)
class StoredCheckin:
    """A check-in and its row; ``new`` is False when it collapsed into an earlier check."""

    checkin: CheckIn
    row: CheckInRow
    new: bool


@dataclass(frozen=True)
class FaceCheckin:
    """A face check-in attempt: what the engine saw, and the stored check (None: no face found).

    ``second_factor_refused`` says why a card or PIN given for a face that needed one did not
    confirm it (the attempt is then stored as an unknown face, with that reason).
    """

    check: FaceCheck
    stored: StoredCheckin | None
    second_factor_refused: str | None = None

    @property
    def awaits_second_factor(self) -> bool:
        """The face was only a candidate and nothing confirmed it: ask for the card or PIN."""
        return self.check.needs_second_factor and self.stored is not None and self.stored.checkin.is_unknown


@dataclass
class CheckinDesk:
    """Check-ins into one session: card, PIN and face, the gallery and cards loaded once.

    Attributes:
        session: an open session (the caller commits).
        options: collapsing window, terminal and match options.
        engine: the face engine; only face check-ins need one.
    """

    session: Session
    options: DeskOptions
    engine: FaceEngine | None = None

    @cached_property
    def gallery(self) -> Gallery:
        """Every enrolled face of this desk's engine."""
        if self.engine is None:
            raise ValueError("a face check-in needs a face engine")
        return load_gallery(self.session, Gallery.for_engine(self.engine))

    @cached_property
    def credentials(self) -> CredentialDirectory:
        return load_credentials(self.session)

    @cached_property
    def match(self) -> MatchOptions:
        if self.options.match is not None:
            return self.options.match
        if self.engine is None:
            raise ValueError("a face check-in needs a face engine")
        return MatchOptions.for_engine(self.engine)

    def card(self, card_no: str, at: datetime) -> StoredCheckin:
        """Check in by staff card.

        Raises:
            CredentialError: the card is not registered.
        """
        return self.store(checkin_card(self.credentials, card_no, at=at, terminal=self.options.terminal))

    def pin(self, staff_no: str, pin: str, at: datetime) -> StoredCheckin:
        """Check in by 工号 and PIN.

        Raises:
            CredentialError: wrong PIN or none registered.
        """
        return self.store(checkin_pin(self.credentials, staff_no, pin, at=at, terminal=self.options.terminal))

    def face_image(self, path: Path, at: datetime, *, card: str | None = None, pin: str | None = None) -> FaceCheckin:
        """Check in from a photo file; ``card`` or ``pin`` confirm a face that needs a second factor.

        Raises:
            BadImageError: the file is missing, empty or corrupt.
        """
        return self._face(checkin_image_file(self.engine, self.gallery, path, self.match, at=at,
                                             terminal=self.options.terminal), card, pin)

    def face_capture(self, source: int | str | Path, at: datetime, *, card: str | None = None,
                     pin: str | None = None) -> FaceCheckin:
        """Check in from a video file, camera index or stream URL (best frame of a burst).

        Raises:
            CaptureError: the source cannot be opened or gives no frames.
        """
        return self._face(checkin_capture(self.engine, self.gallery, source, self.match, at=at,
                                          terminal=self.options.terminal), card, pin)

    def _face(self, check: FaceCheck, card: str | None = None, pin: str | None = None) -> FaceCheckin:
        if check.checkin is None:
            return FaceCheckin(check, None)
        if not check.needs_second_factor:
            return FaceCheckin(check, self.store(check.checkin, engine=self.engine.name))
        if not (card or pin):
            note = f"人脸与 {check.candidate} 相似但不够确定：需刷卡或输入 PIN 确认"
            return FaceCheckin(check, self.store(check.checkin, engine=self.engine.name, note=note))
        try:
            confirmed = confirm_face_with_credential(check, self.credentials, card=card, pin=pin)
        except CredentialError as exc:
            note = f"第二验证未通过：{exc}"
            return FaceCheckin(check, self.store(check.checkin, engine=self.engine.name, note=note), str(exc))
        return FaceCheckin(check, self.store(confirmed, engine=self.engine.name))

    def store(self, checkin: CheckIn, *, engine: str | None = None, note: str = "") -> StoredCheckin:
        """Store a check-in, collapsing a repeat into the person's earlier check."""
        row, new = save_checkin(self.session, checkin, window_minutes=self.options.window_minutes, engine=engine,
                                note=note)
        return StoredCheckin(checkin, row, new)


# ---------------------------------------------------------------------------- leave


@dataclass(frozen=True)
class LeaveImport:
    """The outcome of saving leave records: how many were saved and why others were not."""

    saved: int
    rejected: list[str]


def save_leaves(session: Session, records: Iterable[LeaveRecord], source: str | Path) -> LeaveImport:
    """Save leave records (the same ``record_id`` updates); one of an unknown 工号 is rejected alone."""
    saved, rejected = 0, []
    for leave in records:
        try:
            with session.begin_nested():
                save_leave(session, leave)
            saved += 1
        except UnknownStaffError as exc:
            rejected.append(f"{source}: {leave.record_id or leave.staff_id}: {exc}")
    return LeaveImport(saved, rejected)


__all__ = [
    "CheckinDesk",
    "DeskOptions",
    "FaceCheckin",
    "LeaveFileError",
    "LeaveImport",
    "LeaveLimits",
    "PhotoCheck",
    "StoredCheckin",
    "check_enrolment_photos",
    "leave_from_row",
    "read_leave_file",
    "save_leaves",
    "store_enrolment",
]
