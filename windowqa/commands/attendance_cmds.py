"""``windowqa attendance enroll | checkin | terminal | eval | report | leave-import | leave-add | presence | classify``.

Face engines are built here, once per command, from the settings (``face_engine``,
``insightface_model_dir``); nothing loads at import. Enrolment, check-in and leave import run
through :mod:`attendance.services`, the same flows as the demo's.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from windowqa.app import attendance_app, eval_app
from windowqa.commands._shared import store_attendance_months, work_calendar as _calendar
from windowqa.context import DB_OPT, RULEBOOK_OPT, CliContext, cli_context, fail

log = logging.getLogger("windowqa.attendance")


class ReportFormat(str, Enum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"


class EngineChoice(str, Enum):
    dlib = "dlib"
    insightface = "insightface"


def _engine(cli: CliContext, name: Optional[EngineChoice], model_dir: Optional[Path]):
    """The face engine of the options, else of the settings (``face_engine``, ``insightface_model_dir``)."""
    from attendance.faces import EngineUnavailableError, build_engine

    settings = cli.settings
    try:
        return build_engine((name.value if name else settings.face_engine),
                            insightface_model_dir=model_dir or settings.insightface_model_dir)
    except (EngineUnavailableError, ValueError) as exc:
        fail(str(exc))


def _match(engine, threshold: Optional[float], margin: Optional[float]):
    from attendance.gallery import MatchOptions

    return MatchOptions.for_engine(engine, threshold, margin)


ENGINE_OPT = typer.Option(None, "--engine", help="Face engine (default: settings face_engine).")
MODEL_DIR_OPT = typer.Option(None, "--model-dir", help="insightface model pack folder (default: settings).")


@attendance_app.command("enroll")
def enroll(
    ctx: typer.Context,
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
    from attendance.gallery import EnrolmentOptions
    from attendance.services import check_enrolment_photos, store_enrolment
    from attendance.store import UnknownStaffError

    cli = cli_context(ctx, db=db_url)
    settings = cli.settings
    engine = _engine(cli, engine_name, model_dir)
    options = EnrolmentOptions(min_face_px=min_face_px, min_sharpness=min_sharpness)
    checks = check_enrolment_photos(engine, staff, photos, options)
    for check in checks:
        if check.face is None:
            typer.echo(f"rejected  {check.rejection}")
        else:
            typer.echo(f"accepted  {check.photo}: face {check.face.face_px} px, sharpness {check.face.sharpness:.0f}")
    accepted = sum(check.face is not None for check in checks)
    if not accepted:
        fail(f"no photo of {staff} passed the quality checks; nothing stored", 1)
    photo_dir = settings.data_dir / "enrolment" / staff if settings.keep_enrolment_photos else None
    with cli.sessions() as session, session.begin():
        try:
            store_enrolment(session, staff, checks, create_name=name, photo_dir=photo_dir)
        except UnknownStaffError as exc:
            fail(str(exc))
    typer.echo(f"{staff}: {accepted} of {len(photos)} photo(s) enrolled with engine {engine.name}"
               + ("" if settings.keep_enrolment_photos else " (photos not kept)"))


@attendance_app.command("unenroll")
def unenroll(
    ctx: typer.Context,
    staff: str = typer.Option(..., "--staff", help="工号 of the person."),
    engine_name: Optional[EngineChoice] = typer.Option(None, "--engine", help="Only this engine's embeddings (default: all)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Delete a person's face embeddings and voiceprints (withdrawn consent, leaving the hall)."""
    from attendance.store import UnknownStaffError, delete_enrolment
    from audio_capture.voiceprints import delete_voiceprints

    with cli_context(ctx, db=db_url).sessions() as session, session.begin():
        try:
            n = delete_enrolment(session, staff, engine_name.value if engine_name else None)
        except UnknownStaffError as exc:
            fail(str(exc))
        # biometric data goes together: the voiceprints too (every voice engine)
        voices = delete_voiceprints(session, staff) if engine_name is None else 0
    typer.echo(f"{staff}: {n} embedding(s) deleted, {voices} voiceprint(s) deleted")


@attendance_app.command("credential")
def credential(
    ctx: typer.Context,
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
        fail("a PIN is at least 4 digits")
    with cli_context(ctx, db=db_url).sessions() as session, session.begin():
        try:
            set_credentials(session, staff, card_no=card, pin=pin, face_consent=face_consent)
        except UnknownStaffError as exc:
            fail(str(exc))
    typer.echo(f"{staff}: credentials updated" + (" (card)" if card else "") + (" (PIN)" if pin else ""))


def _parse_at(at: Optional[str]) -> datetime:
    if at is None:
        return datetime.now().replace(microsecond=0)
    try:
        return datetime.fromisoformat(at)
    except ValueError:
        fail(f"--at: expected YYYY-MM-DDTHH:MM[:SS], got {at!r}")


def _credential_checkin(desk, card: Optional[str], staff: Optional[str], when: datetime):
    """A card or PIN check-in (the PIN asked at the prompt)."""
    from attendance.checkin import CredentialError

    try:
        if card:
            return desk.card(card, when)
        if not staff:
            fail("--pin needs --staff 工号")
        secret = typer.prompt("PIN", hide_input=True)
        return desk.pin(staff, secret, when)
    except CredentialError as exc:
        fail(str(exc), 1)


def _face_checkin(desk, image: Optional[Path], capture: Optional[str], when: datetime, result: dict,
                  card: Optional[str] = None, pin: Optional[str] = None):
    """A face check-in from a photo or a video/camera; the identification goes into ``result``.

    ``card``/``pin`` are the second factor for a face within the threshold but not clearly inside it.
    """
    from attendance.checkin import CaptureError
    from attendance.faces import BadImageError

    if not len(desk.gallery):
        fail(f"nobody is enrolled with engine {desk.engine.name}: run `windowqa attendance enroll` first")
    try:
        if image:
            outcome = desk.face_image(image, when, card=card, pin=pin)
        else:
            outcome = desk.face_capture(capture, when, card=card, pin=pin)
    except (BadImageError, CaptureError) as exc:
        fail(str(exc), 1)
    if outcome.stored is None:
        fail(f"no face found in {image or capture} ({outcome.check.frames_read} frame(s)); nothing recorded", 1)
    ident, match = outcome.check.identification, desk.match
    second = outcome.stored.checkin.second_factor
    result.update(decision=ident.decision.value, nearest=ident.best_staff_id,
                  distance=ident.best_distance, margin=ident.margin, threshold=match.threshold,
                  sure_threshold=match.sure_threshold, required_margin=match.margin, frames=outcome.check.frames_read,
                  second_factor=second.value if second else None, awaits_second_factor=outcome.awaits_second_factor,
                  second_factor_refused=outcome.second_factor_refused)
    return outcome


@attendance_app.command("checkin")
def checkin(
    ctx: typer.Context,
    image: Optional[Path] = typer.Option(None, "--image", help="A photo file taken at the terminal."),
    video: Optional[Path] = typer.Option(None, "--video", help="A video file: best frame of a short burst."),
    camera: Optional[str] = typer.Option(None, "--camera", help="cv2.VideoCapture device index or RTSP URL."),
    card: Optional[str] = typer.Option(None, "--card", help="Non-biometric: staff card number (with a face: the second factor)."),
    pin: bool = typer.Option(False, "--pin", help="Non-biometric: 工号 (--staff) and a PIN, asked at the prompt (with a face: the second factor)."),
    staff: Optional[str] = typer.Option(None, "--staff", help="工号, with --pin."),
    at: Optional[str] = typer.Option(None, "--at", help="Time of the check (default now), YYYY-MM-DDTHH:MM."),
    terminal: Optional[str] = typer.Option(None, "--terminal", help="Terminal or camera name."),
    threshold: Optional[float] = typer.Option(None, help="Accept distance (default: the engine's)."),
    margin: Optional[float] = typer.Option(None, help="Required gap to the second best (default: the engine's)."),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
    db_url: Optional[str] = DB_OPT,
    rulebook: Optional[Path] = RULEBOOK_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Record a check-in from a face (image, video, camera) or a card/PIN fallback."""
    from attendance.services import CheckinDesk, DeskOptions

    faces = [x for x in (image, video, camera) if x]
    if len(faces) > 1 or (not faces and len([x for x in (card, pin or None) if x]) != 1):
        fail("give one of --image, --video, --camera (optionally with --card or --pin as a second factor), or --card, or --pin")
    cli = cli_context(ctx, db=db_url, rulebook=rulebook)
    rb = cli.rulebook
    when = _parse_at(at)
    factory = cli.sessions
    result: dict = {"at": when.isoformat(), "terminal": terminal}
    with factory() as session, session.begin():
        options = DeskOptions(window_minutes=rb.attendance.duplicate_window_minutes, terminal=terminal)
        outcome = None
        if not faces:
            stored = _credential_checkin(CheckinDesk(session, options), card, staff, when)
        else:
            engine = _engine(cli, engine_name, model_dir)
            desk = CheckinDesk(session, replace(options, match=_match(engine, threshold, margin)), engine)
            secret = typer.prompt("PIN", hide_input=True) if pin else None
            outcome = _face_checkin(desk, image, video or camera, when, result, card, secret)
            stored = outcome.stored
        check, row, new = stored.checkin, stored.row, stored.new
        result.update(staff=check.staff_id, method=check.method.value, unknown=check.is_unknown, stored=new,
                      collapsed_into=None if new else row.at.isoformat())
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    who = check.staff_id or "unknown face"
    note = "" if new else f" (repeat: collapsed into the check at {row.at:%H:%M})"
    if check.second_factor is not None:
        note += f" (confirmed by {check.second_factor.value})"
    typer.echo(f"{when:%Y-%m-%d %H:%M:%S}  {who}  via {check.method.value}{note}")
    if outcome is not None and outcome.second_factor_refused:
        typer.echo(f"第二验证未通过：{outcome.second_factor_refused}", err=True)
    elif outcome is not None and outcome.awaits_second_factor:
        typer.echo(f"人脸与 {outcome.check.candidate} 相似但不够确定：请刷卡或输入 PIN 再签到（--card 或 --pin）", err=True)


@attendance_app.command("terminal")
def terminal_cmd(
    ctx: typer.Context,
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
    rulebook: Optional[Path] = RULEBOOK_OPT,
) -> None:
    """Run a check-in terminal: watch a camera and record a check-in whenever someone steps up (Ctrl-C stops)."""
    import cv2

    from attendance.checkin import WatchOptions, watch_capture
    from attendance.services import CheckinDesk, DeskOptions

    cli = cli_context(ctx, db=db_url, rulebook=rulebook)
    desk_options = DeskOptions(window_minutes=cli.rulebook.attendance.duplicate_window_minutes, terminal=terminal)
    engine = _engine(cli, engine_name, model_dir)
    factory = cli.sessions
    with factory() as session:
        gallery = CheckinDesk(session, desk_options, engine).gallery
    if not len(gallery):
        fail(f"nobody is enrolled with engine {engine.name}: run `windowqa attendance enroll` first")
    if "://" not in camera and not camera.isdigit() and not Path(camera).is_file():
        fail(f"{camera}: video file not found")
    capture = cv2.VideoCapture(int(camera) if camera.isdigit() else camera)
    if not capture.isOpened():
        fail(f"{camera}: cannot open camera, stream or video", 1)
    options = WatchOptions(min_face_px=min_face_px, cooldown_s=cooldown_s, max_frames=max_frames)
    n = 0
    try:
        for result in watch_capture(engine, gallery, capture, _match(engine, threshold, margin), options,
                                    source=camera, terminal=terminal):
            check = result.checkin
            with factory() as session, session.begin():
                stored = CheckinDesk(session, desk_options, engine).store(check, engine=engine.name)
            row, new = stored.row, stored.new
            n += new
            typer.echo(f"{check.at:%Y-%m-%d %H:%M:%S}  {check.staff_id or 'unknown face'}"
                       + ("" if new else f"  (repeat: collapsed into {row.at:%H:%M:%S})"))
    except KeyboardInterrupt:
        pass
    finally:
        capture.release()
    typer.echo(f"{n} check-in(s) recorded")


def _run_eval(cli: CliContext, folder: Path, as_json: bool, threshold: Optional[float], margin: Optional[float],
              engine_name: Optional[EngineChoice], model_dir: Optional[Path]) -> None:
    from attendance.evaluation import EvalLayoutError, evaluate_faces

    engine = _engine(cli, engine_name, model_dir)
    match = _match(engine, threshold, margin)
    try:
        report = evaluate_faces(engine, folder, match, progress=not as_json and sys.stderr.isatty())
    except EvalLayoutError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        return
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    typer.echo(f"engine {report.engine}  threshold {report.threshold}  face alone up to {report.sure_threshold}  "
               f"margin {report.margin}")
    typer.echo(f"identities {report.identities}, enrolled {report.enrolled}")
    typer.echo(f"TAR {pct(report.tar)} on the face alone: {report.accepted} of {report.probes} probes accepted as themselves "
               f"({report.no_face} without a face, {report.misidentified} as someone else); "
               f"{pct(report.tar_with_second_factor)} with a second factor ({pct(report.second_factor_share)} needed one)")
    typer.echo(f"FAR {pct(report.far)} (open set, leave one identity out): {report.false_accepts} false accepts in "
               f"{report.impostor_trials} impostor trials ({report.impostor_photo_accepts}/{report.impostor_photos} "
               f"impostor photos, {report.cross_identity_accepts}/{report.cross_identity_trials} cross-identity; "
               f"{report.impostor_second_factor} asked for a card or PIN they do not have)")
    for o in report.outcomes:
        if o.result not in ("accepted", "rejected") or o.cross_identity:
            typer.echo(f"  {o.result:12s} {o.path} (nearest {o.predicted}, distance {o.distance})")
    for e in report.errors:
        typer.echo(f"  error: {e}")


@attendance_app.command("eval")
def eval_faces_cmd(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="faces/<identity>/<photo>, with _impostors/ (eval-formats.md)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    threshold: Optional[float] = typer.Option(None, help="Accept distance (default: the engine's)."),
    margin: Optional[float] = typer.Option(None, help="Required gap to the second best (default: the engine's)."),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
) -> None:
    """True- and false-accept rates of face identification on a folder of folders."""
    _run_eval(cli_context(ctx), folder, as_json, threshold, margin, engine_name, model_dir)


@eval_app.command("faces")
def eval_faces_alias(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="faces/<identity>/<photo>, with _impostors/ (eval-formats.md)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    threshold: Optional[float] = typer.Option(None),
    margin: Optional[float] = typer.Option(None),
    engine_name: Optional[EngineChoice] = ENGINE_OPT,
    model_dir: Optional[Path] = MODEL_DIR_OPT,
) -> None:
    """Same as ``windowqa attendance eval``."""
    _run_eval(cli_context(ctx), folder, as_json, threshold, margin, engine_name, model_dir)


@attendance_app.command("report")
def report(
    ctx: typer.Context,
    month: str = typer.Option(..., "--month", help="YYYY-MM"),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", help="table, csv or xlsx."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file (xlsx: default attendance-YYYY-MM.xlsx)."),
    calendar: Optional[Path] = typer.Option(None, "--calendar", help="Site calendar TOML overriding national days (default: settings calendar_path)."),
    rulebook: Optional[Path] = RULEBOOK_OPT,
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
        fail(f"--month: {exc}")
    cli = cli_context(ctx, db=db_url, rulebook=rulebook)
    rb = cli.rulebook
    cal = _calendar(calendar or cli.settings.calendar_path)
    with cli.sessions() as session:
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
    ctx: typer.Context,
    file: Path = typer.Argument(..., help=f"UTF-8 CSV with a header: {LEAVE_COLUMNS}"),
    rulebook: Optional[Path] = RULEBOOK_OPT,
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Import leave records with approval and extensions (re-importing a record_id updates it)."""
    from attendance.services import LeaveFileError, LeaveLimits, read_leave_file, save_leaves

    cli = cli_context(ctx, db=db_url, rulebook=rulebook)
    try:
        records, errors = read_leave_file(file, cli.rulebook.attendance.leave_types, LeaveLimits.from_settings(cli.settings))
    except LeaveFileError as exc:
        fail(str(exc))
    with cli.sessions() as session, session.begin():
        outcome = save_leaves(session, records, file)
    saved = outcome.saved
    errors += outcome.rejected
    for e in errors:
        typer.echo(f"rejected  {e}", err=True)
    typer.echo(f"{saved} leave record(s) imported, {len(errors)} rejected")
    _reclassify(cli, cli.rulebook, records)
    if errors and not saved:
        raise typer.Exit(1)


class LeaveStatusChoice(str, Enum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


@attendance_app.command("leave-add")
def leave_add(
    ctx: typer.Context,
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
    rulebook: Optional[Path] = RULEBOOK_OPT,
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Enter (or, with the same --record-id, update) one leave record with its approval and extension."""
    from models.attendance import HalfDay, LeaveExtension, LeaveRecord, LeaveStatus

    from attendance.store import UnknownStaffError, save_leave

    cli = cli_context(ctx, db=db_url, rulebook=rulebook)
    rb = cli.rulebook
    if leave_type not in rb.attendance.leave_types:
        fail(f"--type: unknown leave type {leave_type!r}; the rulebook lists: {', '.join(rb.attendance.leave_types)}")
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        ext = (LeaveExtension(date.fromisoformat(extend_to), LeaveStatus(extension_status.value)),) if extend_to else ()
        leave = LeaveRecord(staff, leave_type, first, last, LeaveStatus(status.value),
                            HalfDay.AFTERNOON if afternoon_start else HalfDay.MORNING,
                            HalfDay.MORNING if morning_end else HalfDay.AFTERNOON, ext, deceptive, record_id, note)
    except ValueError as exc:
        fail(str(exc))
    with cli.sessions() as session, session.begin():
        try:
            row = save_leave(session, leave)
        except UnknownStaffError as exc:
            fail(str(exc))
        leave_id = row.id
    typer.echo(f"leave {leave_id}: {staff} {leave_type} {first}..{last} {status.value}"
               + (f", extension to {extend_to} {extension_status.value}" if extend_to else ""))
    _reclassify(cli, rb, [leave])


@attendance_app.command("presence")
def presence(
    ctx: typer.Context,
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

    cli = cli_context(ctx, db=db_url)
    engine = _engine(cli, engine_name, model_dir)
    factory = cli.sessions
    with factory() as session:
        gallery = load_gallery(session, Gallery.for_engine(engine))
    match = _match(engine, None, None)
    for i in range(samples):
        try:
            frame = next(iter(read_burst(camera, BurstOptions(frames=1, step=1))))
        except CaptureError as exc:
            fail(str(exc), 1)
        sample = presence_sample(engine, gallery, window, frame, match, datetime.now().replace(microsecond=0))
        with factory() as session, session.begin():
            try:
                save_presence_sample(session, sample)
            except UnknownStaffError as exc:
                fail(str(exc))
        typer.echo(f"{sample.at:%H:%M:%S} {window}: {','.join(sorted(sample.staff_present)) or 'nobody'}"
                   + (f" (+{sample.unknown_faces} unknown)" if sample.unknown_faces else ""))
        if i + 1 < samples:
            time.sleep(interval_s)


# ---------------------------------------------------------------------------- the stored classification


def _reclassify(cli: CliContext, rb, leaves) -> None:
    """After leave was entered: classify again the months it touches, up to today."""
    from attendance.classify import months_to_reclassify

    store_attendance_months(cli, rb, months_to_reclassify(leaves, date.today()), date.today())


@attendance_app.command("classify")
def classify(
    ctx: typer.Context,
    month: Optional[str] = typer.Option(None, "--month", help="YYYY-MM: classify the month up to today (or its end)."),
    day: Optional[str] = typer.Option(None, "--day", help="YYYY-MM-DD, the daily run: classify its month up to that day."),
    rulebook: Optional[Path] = RULEBOOK_OPT,
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Classify staff half-days and store the month for the dashboard and the circular (replacing its last run)."""
    from attendance.classify import MonthNotStartedError
    from attendance.report import month_bounds

    try:
        through = date.fromisoformat(day) if day else date.today()
        first, last = month_bounds(month or through.strftime("%Y-%m"))
    except ValueError as exc:
        fail(f"--month/--day: {exc}")
    if not (month or day) or (day and not first <= through <= last):
        fail("give --month YYYY-MM, --day YYYY-MM-DD, or both with the day inside the month")
    cli = cli_context(ctx, db=db_url, rulebook=rulebook)
    try:
        store_attendance_months(cli, cli.rulebook, [f"{first:%Y-%m}"], min(through, last))
    except MonthNotStartedError as exc:
        fail(str(exc))
    # months a leave decision on the dashboard changed since they were stored (e.g. sick leave
    # approved after the month ended): each up to its end, or today
    from attendance.classify import stale_months

    with cli.sessions() as session:
        stale = [m for m in stale_months(session) if m != f"{first:%Y-%m}"]
    for m in stale:
        typer.echo(f"{m}: leave decided since it was classified")
        store_attendance_months(cli, cli.rulebook, [m], min(month_bounds(m)[1], date.today()))
