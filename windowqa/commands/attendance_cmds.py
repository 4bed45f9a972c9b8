"""``windowqa attendance enroll | checkin | eval | report | leave-import | presence | classify``.

Face engines are built here, once per command, from the settings (``face_engine``,
``insightface_model_dir``); nothing loads at import.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from models.rulebook import RulebookError, load_rulebook
from models.settings import Settings
from windowqa.app import app, eval_app

attendance_app = typer.Typer(help="Attendance (四 考勤): face check-ins, leave, substitutes, the monthly circular.",
                             no_args_is_help=True)
app.add_typer(attendance_app, name="attendance")

log = logging.getLogger("windowqa.attendance")


class ReportFormat(str, Enum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"


class EngineChoice(str, Enum):
    dlib = "dlib"
    insightface = "insightface"


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"windowqa: {message}", err=True)
    raise typer.Exit(code)


def _engine(settings: Settings, name: Optional[EngineChoice], model_dir: Optional[Path]):
    from attendance.faces import EngineUnavailableError, build_engine

    try:
        return build_engine((name.value if name else settings.face_engine),
                            insightface_model_dir=model_dir or settings.insightface_model_dir)
    except (EngineUnavailableError, ValueError) as exc:
        _fail(str(exc))


def _rulebook(settings: Settings, path: Optional[Path]):
    try:
        return load_rulebook(path or settings.rulebook_path)
    except RulebookError as exc:
        _fail(str(exc))


def _calendar(path: Optional[Path]):
    from models.workdays import CalendarFileError, WorkCalendar

    try:
        return WorkCalendar.from_file(path)
    except CalendarFileError as exc:
        _fail(str(exc))


def _sessions(settings: Settings, db_url: Optional[str]):
    from models.db import DatabaseError, open_database

    try:
        return open_database(db_url or settings)
    except DatabaseError as exc:
        _fail(str(exc))


def _match(engine, threshold: Optional[float], margin: Optional[float]):
    from attendance.gallery import MatchOptions

    return MatchOptions.for_engine(engine, threshold, margin)


ENGINE_OPT = typer.Option(None, "--engine", help="Face engine (default: settings face_engine).")
MODEL_DIR_OPT = typer.Option(None, "--model-dir", help="insightface model pack folder (default: settings).")
DB_OPT = typer.Option(None, "--db-url", help="Database URL (default: settings).")


@attendance_app.command("enroll")
def enroll(
    photos: List[Path] = typer.Argument(..., help="Enrolment photos of this person (several are better)."),
    staff: str = typer.Option(..., "--staff", help="工号 of the person."),
    name: Optional[str] = typer.Option(None, "--name", help="Create the staff member with this name if missing."),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
    db_url: Optional[str] = DB_OPT,
    min_face_px: int = typer.Option(80, help="Smallest accepted face (shorter side, pixels)."),
    min_sharpness: float = typer.Option(25.0, help="Smallest accepted sharpness (Laplacian variance)."),
) -> None:
    """Enrol a staff member's face: quality checks, then the embeddings are stored (photos only if configured)."""
    from attendance.gallery import EnrolmentOptions, EnrolmentRejected, enrol_file
    from attendance.store import UnknownStaffError, save_enrolment, staff_by_no

    settings = Settings()
    engine = _engine(settings, engine_name, model_dir)
    options = EnrolmentOptions(min_face_px=min_face_px, min_sharpness=min_sharpness)
    accepted = []
    for photo in photos:
        try:
            face = enrol_file(engine, staff, photo, options)
        except EnrolmentRejected as exc:
            typer.echo(f"rejected  {exc}")
            continue
        accepted.append((photo, face))
        typer.echo(f"accepted  {photo}: face {face.face_px} px, sharpness {face.sharpness:.0f}")
    if not accepted:
        _fail(f"no photo of {staff} passed the quality checks; nothing stored", 1)
    factory = _sessions(settings, db_url)
    with factory() as session, session.begin():
        try:
            staff_by_no(session, staff, create_name=name)
        except UnknownStaffError as exc:
            _fail(f"{exc}")
        for photo, face in accepted:
            kept = None
            if settings.keep_enrolment_photos:
                folder = settings.data_dir / "enrolment" / staff
                folder.mkdir(parents=True, exist_ok=True)
                kept = folder / photo.name
                shutil.copy2(photo, kept)
            save_enrolment(session, face, photo_path=kept)
    typer.echo(f"{staff}: {len(accepted)} of {len(photos)} photo(s) enrolled with engine {engine.name}"
               + ("" if settings.keep_enrolment_photos else " (photos not kept)"))


@attendance_app.command("unenroll")
def unenroll(
    staff: str = typer.Option(..., "--staff", help="工号 of the person."),
    engine_name: Optional[EngineChoice] = typer.Option(None, "--engine", help="Only this engine's embeddings (default: all)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Delete a person's face embeddings (withdrawn consent, leaving the hall)."""
    from attendance.store import UnknownStaffError, delete_enrolment

    factory = _sessions(Settings(), db_url)
    with factory() as session, session.begin():
        try:
            n = delete_enrolment(session, staff, engine_name.value if engine_name else None)
        except UnknownStaffError as exc:
            _fail(str(exc))
    typer.echo(f"{staff}: {n} embedding(s) deleted")


@attendance_app.command("credential")
def credential(
    staff: str = typer.Option(..., "--staff", help="工号."),
    card: Optional[str] = typer.Option(None, "--card", help="Staff card number for the card check-in."),
    set_pin: bool = typer.Option(False, "--set-pin", help="Ask for a PIN (stored hashed) for the PIN check-in."),
    face_consent: Optional[bool] = typer.Option(None, "--face-consent/--no-face-consent",
                                                help="Record whether the person consents to face recognition."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Register the non-biometric check-in (card number, PIN) of a staff member."""
    from attendance.store import UnknownStaffError, set_credentials

    pin = typer.prompt("PIN", hide_input=True, confirmation_prompt=True) if set_pin else None
    if pin is not None and (len(pin) < 4 or not pin.isdigit()):
        _fail("a PIN is at least 4 digits")
    factory = _sessions(Settings(), db_url)
    with factory() as session, session.begin():
        try:
            set_credentials(session, staff, card_no=card, pin=pin, face_consent=face_consent)
        except UnknownStaffError as exc:
            _fail(str(exc))
    typer.echo(f"{staff}: credentials updated" + (" (card)" if card else "") + (" (PIN)" if pin else ""))


def _parse_at(at: Optional[str]) -> datetime:
    if at is None:
        return datetime.now().replace(microsecond=0)
    try:
        return datetime.fromisoformat(at)
    except ValueError:
        _fail(f"--at: expected YYYY-MM-DDTHH:MM[:SS], got {at!r}")


@attendance_app.command("checkin")
def checkin(
    image: Optional[Path] = typer.Option(None, "--image", help="A photo file taken at the terminal."),
    video: Optional[Path] = typer.Option(None, "--video", help="A video file: best frame of a short burst."),
    camera: Optional[str] = typer.Option(None, "--camera", help="cv2.VideoCapture device index or RTSP URL."),
    card: Optional[str] = typer.Option(None, "--card", help="Non-biometric: staff card number."),
    pin: bool = typer.Option(False, "--pin", help="Non-biometric: 工号 (--staff) and a PIN, asked at the prompt."),
    staff: Optional[str] = typer.Option(None, "--staff", help="工号, with --pin."),
    at: Optional[str] = typer.Option(None, "--at", help="Time of the check (default now), YYYY-MM-DDTHH:MM."),
    terminal: Optional[str] = typer.Option(None, "--terminal", help="Terminal or camera name."),
    threshold: Optional[float] = typer.Option(None, help="Accept distance (default: the engine's)."),
    margin: Optional[float] = typer.Option(None, help="Required gap to the second best (default: the engine's)."),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
    db_url: Optional[str] = DB_OPT,
    rulebook: Optional[Path] = typer.Option(None, help="A rulebook TOML instead of the configured one."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Record a check-in from a face (image, video, camera) or a card/PIN fallback."""
    from attendance.checkin import (
        CaptureError,
        CredentialError,
        checkin_capture,
        checkin_card,
        checkin_image_file,
        checkin_pin,
    )
    from attendance.faces import BadImageError
    from attendance.gallery import Gallery
    from attendance.store import load_credentials, load_gallery, save_checkin

    sources = [x for x in (image, video, camera, card, pin or None) if x]
    if len(sources) != 1:
        _fail("give exactly one of --image, --video, --camera, --card, --pin")
    settings = Settings()
    rb = _rulebook(settings, rulebook)
    when = _parse_at(at)
    factory = _sessions(settings, db_url)
    result: dict = {"at": when.isoformat(), "terminal": terminal}
    with factory() as session, session.begin():
        engine_label = None
        if card or pin:
            directory = load_credentials(session)
            try:
                if card:
                    check = checkin_card(directory, card, at=when, terminal=terminal)
                else:
                    if not staff:
                        _fail("--pin needs --staff 工号")
                    secret = typer.prompt("PIN", hide_input=True)
                    check = checkin_pin(directory, staff, secret, at=when, terminal=terminal)
            except CredentialError as exc:
                _fail(str(exc), 1)
        else:
            engine = _engine(settings, engine_name, model_dir)
            engine_label = engine.name
            gallery = load_gallery(session, Gallery.for_engine(engine))
            if not len(gallery):
                _fail(f"nobody is enrolled with engine {engine.name}: run `windowqa attendance enroll` first")
            match = _match(engine, threshold, margin)
            try:
                if image:
                    outcome = checkin_image_file(engine, gallery, image, match, at=when, terminal=terminal)
                else:
                    outcome = checkin_capture(engine, gallery, video or camera, match, at=when, terminal=terminal)
            except (BadImageError, CaptureError) as exc:
                _fail(str(exc), 1)
            if outcome.checkin is None:
                _fail(f"no face found in {image or video or camera} ({outcome.frames_read} frame(s)); nothing recorded", 1)
            check = outcome.checkin
            ident = outcome.identification
            result.update(decision=ident.decision.value, nearest=ident.best_staff_id, distance=ident.best_distance,
                          margin=ident.margin, threshold=match.threshold, required_margin=match.margin,
                          frames=outcome.frames_read)
        row, new = save_checkin(session, check, window_minutes=rb.attendance.duplicate_window_minutes, engine=engine_label)
        result.update(staff=check.staff_id, method=check.method.value, unknown=check.is_unknown, stored=new,
                      collapsed_into=None if new else row.at.isoformat())
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    who = check.staff_id or "unknown face"
    note = "" if new else f" (repeat: collapsed into the check at {row.at:%H:%M})"
    typer.echo(f"{when:%Y-%m-%d %H:%M:%S}  {who}  via {check.method.value}{note}")


@attendance_app.command("terminal")
def terminal_cmd(
    camera: str = typer.Option(..., "--camera", help="cv2.VideoCapture device index, RTSP URL or video file."),
    terminal: Optional[str] = typer.Option(None, "--terminal", help="Terminal name stored with each check-in."),
    min_face_px: int = typer.Option(100, help="Smallest face that counts as someone at the terminal."),
    cooldown_s: float = typer.Option(3.0, help="Seconds to skip after a check-in."),
    max_frames: Optional[int] = typer.Option(None, help="Stop after this many frames (default: until the source ends)."),
    threshold: Optional[float] = typer.Option(None, help="Accept distance (default: the engine's)."),
    margin: Optional[float] = typer.Option(None, help="Required gap to the second best (default: the engine's)."),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
    db_url: Optional[str] = DB_OPT,
    rulebook: Optional[Path] = typer.Option(None, help="A rulebook TOML instead of the configured one."),
) -> None:
    """Run a check-in terminal: watch a camera and record a check-in whenever someone steps up (Ctrl-C stops)."""
    import cv2

    from attendance.checkin import WatchOptions, watch_capture
    from attendance.gallery import Gallery
    from attendance.store import load_gallery, save_checkin

    settings = Settings()
    rb = _rulebook(settings, rulebook)
    engine = _engine(settings, engine_name, model_dir)
    factory = _sessions(settings, db_url)
    with factory() as session:
        gallery = load_gallery(session, Gallery.for_engine(engine))
    if not len(gallery):
        _fail(f"nobody is enrolled with engine {engine.name}: run `windowqa attendance enroll` first")
    if "://" not in camera and not camera.isdigit() and not Path(camera).is_file():
        _fail(f"{camera}: video file not found")
    capture = cv2.VideoCapture(int(camera) if camera.isdigit() else camera)
    if not capture.isOpened():
        _fail(f"{camera}: cannot open camera, stream or video", 1)
    options = WatchOptions(min_face_px=min_face_px, cooldown_s=cooldown_s, max_frames=max_frames)
    n = 0
    try:
        for result in watch_capture(engine, gallery, capture, _match(engine, threshold, margin), options,
                                    source=camera, terminal=terminal):
            check = result.checkin
            with factory() as session, session.begin():
                row, new = save_checkin(session, check, window_minutes=rb.attendance.duplicate_window_minutes,
                                        engine=engine.name)
            n += new
            typer.echo(f"{check.at:%Y-%m-%d %H:%M:%S}  {check.staff_id or 'unknown face'}"
                       + ("" if new else f"  (repeat: collapsed into {row.at:%H:%M:%S})"))
    except KeyboardInterrupt:
        pass
    finally:
        capture.release()
    typer.echo(f"{n} check-in(s) recorded")


def _run_eval(folder: Path, as_json: bool, threshold: Optional[float], margin: Optional[float],
              engine_name: Optional[EngineChoice], model_dir: Optional[Path]) -> None:
    from attendance.evaluation import EvalLayoutError, evaluate_faces

    settings = Settings()
    engine = _engine(settings, engine_name, model_dir)
    match = _match(engine, threshold, margin)
    try:
        report = evaluate_faces(engine, folder, match, progress=not as_json and sys.stderr.isatty())
    except EvalLayoutError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        return
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    typer.echo(f"engine {report.engine}  threshold {report.threshold}  margin {report.margin}")
    typer.echo(f"identities {report.identities}, enrolled {report.enrolled}")
    typer.echo(f"TAR {pct(report.tar)}: {report.accepted} of {report.probes} probes accepted as themselves "
               f"({report.no_face} without a face, {report.misidentified} as someone else)")
    typer.echo(f"FAR {pct(report.far)}: {report.false_accepts} false accepts in {report.impostor_trials} impostor trials "
               f"({report.impostor_photo_accepts}/{report.impostor_photos} impostor photos, "
               f"{report.cross_identity_accepts}/{report.cross_identity_trials} cross-identity)")
    for o in report.outcomes:
        if o.result not in ("accepted", "rejected") or o.cross_identity:
            typer.echo(f"  {o.result:12s} {o.path} (nearest {o.predicted}, distance {o.distance})")
    for e in report.errors:
        typer.echo(f"  error: {e}")


@attendance_app.command("eval")
def eval_faces_cmd(
    folder: Path = typer.Argument(..., help="faces/<identity>/<photo>, with _impostors/ (eval-formats.md)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    threshold: Optional[float] = typer.Option(None, help="Accept distance (default: the engine's)."),
    margin: Optional[float] = typer.Option(None, help="Required gap to the second best (default: the engine's)."),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
) -> None:
    """True- and false-accept rates of face identification on a folder of folders."""
    _run_eval(folder, as_json, threshold, margin, engine_name, model_dir)


@eval_app.command("faces")
def eval_faces_alias(
    folder: Path = typer.Argument(..., help="faces/<identity>/<photo>, with _impostors/ (eval-formats.md)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    threshold: Optional[float] = typer.Option(None),
    margin: Optional[float] = typer.Option(None),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
) -> None:
    """Same as ``windowqa attendance eval``."""
    _run_eval(folder, as_json, threshold, margin, engine_name, model_dir)


@attendance_app.command("report")
def report(
    month: str = typer.Option(..., "--month", help="YYYY-MM"),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", help="table, csv or xlsx."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file (xlsx: default attendance-YYYY-MM.xlsx)."),
    calendar: Optional[Path] = typer.Option(None, "--calendar", help="Site calendar TOML overriding national days (default: settings calendar_path)."),
    rulebook: Optional[Path] = typer.Option(None, help="A rulebook TOML instead of the configured one."),
    db_url: Optional[str] = DB_OPT,
    flags: bool = typer.Option(False, "--flags", help="Also list coverage and presence flags (table format)."),
    details: bool = typer.Option(False, "--details", help="Also list every half-day not on time (table format)."),
) -> None:
    """The monthly circular (按月通报): late, early, missing, absent, leave, punctuality, per staff and window."""
    from attendance.report import month_bounds, render_csv, render_details, render_table, write_xlsx
    from attendance.store import compute_month

    try:
        month_bounds(month)
    except ValueError as exc:
        _fail(f"--month: {exc}")
    settings = Settings()
    rb = _rulebook(settings, rulebook)
    cal = _calendar(calendar or settings.calendar_path)
    factory = _sessions(settings, db_url)
    with factory() as session:
        result = compute_month(session, month, rb, cal, as_of=date.today())
    if fmt is ReportFormat.xlsx:
        path = write_xlsx(output or Path(f"attendance-{month}.xlsx"), result.staff_lines, result.window_lines, month)
        typer.echo(f"wrote {path}")
        return
    text = render_csv(result.staff_lines, result.window_lines) if fmt is ReportFormat.csv else render_table(
        result.staff_lines, result.window_lines, month)
    if fmt is ReportFormat.table and flags:
        lines = ["", "空岗/替岗"] + [f"  {f.day} {f.half.value:9s} {f.window_id}: {f.issue.value} {','.join(f.staff_ids)} {f.detail}"
                                      for f in result.coverage]
        lines += ["", "离岗"] + [f"  {f.window_id}: {f.issue.value} {','.join(f.staff_ids)} {f.start:%Y-%m-%d %H:%M}–{f.end:%H:%M} "
                                 f"({f.duration_min:.0f} min)" for f in result.presence]
        text += "\n".join(lines) + "\n"
    if fmt is ReportFormat.table and details:
        text += "\n明细\n" + render_details(result.records)
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


LEAVE_COLUMNS = "staff,leave_type,start,end,status[,start_half,end_half,extension_end,extension_status,deceptive,record_id,note]"


@attendance_app.command("leave-import")
def leave_import(
    file: Path = typer.Argument(..., help=f"UTF-8 CSV with a header: {LEAVE_COLUMNS}"),
    rulebook: Optional[Path] = typer.Option(None, help="A rulebook TOML instead of the configured one."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Import leave records with approval and extensions (re-importing a record_id updates it)."""
    from models.attendance import HalfDay, LeaveExtension, LeaveRecord, LeaveStatus

    from attendance.store import UnknownStaffError, save_leave

    settings = Settings()
    rb = _rulebook(settings, rulebook)
    try:
        rows = list(csv.DictReader(file.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{file}: cannot read: {exc}")
    records, errors = [], []
    for n, r in enumerate(rows, start=2):
        try:
            if r.get("leave_type") not in rb.attendance.leave_types:
                raise ValueError(f"unknown leave type {r.get('leave_type')!r}; known: {', '.join(rb.attendance.leave_types)}")
            ext = ()
            if (r.get("extension_end") or "").strip():
                ext = (LeaveExtension(date.fromisoformat(r["extension_end"].strip()),
                                      LeaveStatus((r.get("extension_status") or "pending").strip())),)
            records.append(LeaveRecord(
                staff_id=r["staff"].strip(), leave_type=r["leave_type"].strip(),
                start=date.fromisoformat(r["start"].strip()), end=date.fromisoformat(r["end"].strip()),
                status=LeaveStatus((r.get("status") or "pending").strip()),
                start_half=HalfDay((r.get("start_half") or "morning").strip()),
                end_half=HalfDay((r.get("end_half") or "afternoon").strip()),
                extensions=ext, deceptive=(r.get("deceptive") or "").strip().lower() in ("1", "true", "yes", "是"),
                record_id=(r.get("record_id") or "").strip() or None, note=(r.get("note") or "").strip(),
            ))
        except (KeyError, ValueError, AttributeError) as exc:
            errors.append(f"{file}:{n}: {exc}")
    factory = _sessions(settings, db_url)
    saved = 0
    with factory() as session, session.begin():
        for lv in records:
            try:
                with session.begin_nested():
                    save_leave(session, lv)
                saved += 1
            except UnknownStaffError as exc:
                errors.append(f"{file}: {lv.record_id or lv.staff_id}: {exc}")
    for e in errors:
        typer.echo(f"rejected  {e}", err=True)
    typer.echo(f"{saved} leave record(s) imported, {len(errors)} rejected")
    _reclassify(settings, factory, rb, records)
    if errors and not saved:
        raise typer.Exit(1)


class LeaveStatusChoice(str, Enum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


@attendance_app.command("leave-add")
def leave_add(
    staff: str = typer.Option(..., "--staff", help="工号."),
    leave_type: str = typer.Option(..., "--type", help="A leave type of the rulebook (事假, 病假, 年假 ...)."),
    start: str = typer.Option(..., "--start", help="First day, YYYY-MM-DD."),
    end: str = typer.Option(..., "--end", help="Last day, YYYY-MM-DD."),
    status: LeaveStatusChoice = typer.Option(LeaveStatusChoice.pending, "--status", help="Approval of the leave."),
    afternoon_start: bool = typer.Option(False, "--afternoon-start", help="Starts in the afternoon of the first day."),
    morning_end: bool = typer.Option(False, "--morning-end", help="Ends after the morning of the last day."),
    extend_to: Optional[str] = typer.Option(None, "--extend-to", help="续假: requested new last day."),
    extension_status: LeaveStatusChoice = typer.Option(LeaveStatusChoice.pending, "--extension-status"),
    deceptive: bool = typer.Option(False, "--deceptive", help="Mark as obtained by deception (旷工 case 4)."),
    record_id: Optional[str] = typer.Option(None, "--record-id", help="Id in the leave system; the same id updates."),
    note: str = typer.Option("", "--note"),
    rulebook: Optional[Path] = typer.Option(None, help="A rulebook TOML instead of the configured one."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Enter (or, with the same --record-id, update) one leave record with its approval and extension."""
    from models.attendance import HalfDay, LeaveExtension, LeaveRecord, LeaveStatus

    from attendance.store import UnknownStaffError, save_leave

    settings = Settings()
    rb = _rulebook(settings, rulebook)
    if leave_type not in rb.attendance.leave_types:
        _fail(f"--type: unknown leave type {leave_type!r}; the rulebook lists: {', '.join(rb.attendance.leave_types)}")
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        ext = (LeaveExtension(date.fromisoformat(extend_to), LeaveStatus(extension_status.value)),) if extend_to else ()
        leave = LeaveRecord(staff, leave_type, first, last, LeaveStatus(status.value),
                            HalfDay.AFTERNOON if afternoon_start else HalfDay.MORNING,
                            HalfDay.MORNING if morning_end else HalfDay.AFTERNOON, ext, deceptive, record_id, note)
    except ValueError as exc:
        _fail(str(exc))
    factory = _sessions(settings, db_url)
    with factory() as session, session.begin():
        try:
            row = save_leave(session, leave)
        except UnknownStaffError as exc:
            _fail(str(exc))
        leave_id = row.id
    typer.echo(f"leave {leave_id}: {staff} {leave_type} {first}..{last} {status.value}"
               + (f", extension to {extend_to} {extension_status.value}" if extend_to else ""))
    _reclassify(settings, factory, rb, [leave])


@attendance_app.command("presence")
def presence(
    window: str = typer.Option(..., "--window", help="Window code."),
    camera: str = typer.Option(..., "--camera", help="cv2.VideoCapture device index, RTSP URL or video file."),
    samples: int = typer.Option(1, "--samples", help="How many samples to take."),
    interval_s: float = typer.Option(60.0, "--interval-s", help="Seconds between samples."),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Sample a window camera: who of the staff is at the window (stored for the 离岗 checks)."""
    import time

    from attendance.checkin import BurstOptions, CaptureError, presence_sample, read_burst
    from attendance.gallery import Gallery
    from attendance.store import UnknownStaffError, load_gallery, save_presence_sample

    settings = Settings()
    engine = _engine(settings, engine_name, model_dir)
    factory = _sessions(settings, db_url)
    with factory() as session:
        gallery = load_gallery(session, Gallery.for_engine(engine))
    match = _match(engine, None, None)
    for i in range(samples):
        try:
            frame = next(iter(read_burst(camera, BurstOptions(frames=1, step=1))))
        except CaptureError as exc:
            _fail(str(exc), 1)
        sample = presence_sample(engine, gallery, window, frame, match, datetime.now().replace(microsecond=0))
        with factory() as session, session.begin():
            try:
                save_presence_sample(session, sample)
            except UnknownStaffError as exc:
                _fail(str(exc))
        typer.echo(f"{sample.at:%H:%M:%S} {window}: {','.join(sorted(sample.staff_present)) or 'nobody'}"
                   + (f" (+{sample.unknown_faces} unknown)" if sample.unknown_faces else ""))
        if i + 1 < samples:
            time.sleep(interval_s)


# ---------------------------------------------------------------------------- the stored classification


def _store_months(settings: Settings, factory, rb, months: list[str], through: date) -> None:
    """Classify and store each month up to ``through``, with the settings' calendar (as ``report``)."""
    from attendance.classify import classify_months, describe

    with factory() as session, session.begin():
        for result in classify_months(session, months, rb, _calendar(settings.calendar_path), through=through,
                                      calendar_path=settings.calendar_path):
            typer.echo(describe(result))


def _reclassify(settings: Settings, factory, rb, leaves) -> None:
    """After leave was entered: classify again the months it touches, up to today."""
    from attendance.classify import months_to_reclassify

    _store_months(settings, factory, rb, months_to_reclassify(leaves, date.today()), date.today())


@attendance_app.command("classify")
def classify(
    month: Optional[str] = typer.Option(None, "--month", help="YYYY-MM: classify the month up to today (or its end)."),
    day: Optional[str] = typer.Option(None, "--day", help="YYYY-MM-DD, the daily run: classify its month up to that day."),
    rulebook: Optional[Path] = typer.Option(None, help="A rulebook TOML instead of the configured one."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Classify staff half-days and store the month for the dashboard and the circular (replacing its last run)."""
    from attendance.classify import MonthNotStartedError
    from attendance.report import month_bounds

    try:
        through = date.fromisoformat(day) if day else date.today()
        first, last = month_bounds(month or through.strftime("%Y-%m"))
    except ValueError as exc:
        _fail(f"--month/--day: {exc}")
    if not (month or day) or (day and not first <= through <= last):
        _fail("give --month YYYY-MM, --day YYYY-MM-DD, or both with the day inside the month")
    settings = Settings()
    try:
        _store_months(settings, _sessions(settings, db_url), _rulebook(settings, rulebook), [f"{first:%Y-%m}"], min(through, last))
    except MonthNotStartedError as exc:
        _fail(str(exc))
