"""``windowqa ingest | ratings import | queue import | report | flags list | followups | site load | explain``.

The store is ``--db`` or the configured one (``WINDOWQA_DATABASE_URL`` or the SQLite file in the
data directory), migrated on first use (:mod:`windowqa.context`). Engines (Whisper, the matcher,
the role classifier) are built once per command; nothing loads at import.
"""

from __future__ import annotations

import json
import logging
import sys
import tomllib
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from windowqa.app import app
from windowqa.context import DB_OPT, RULEBOOK_OPT, cli_context, fail
from windowqa.commands._shared import work_calendar

log = logging.getLogger("windowqa")

ratings_app = typer.Typer(help="Evaluation terminal ratings (好差评).", no_args_is_help=True)
queue_app = typer.Typer(help="Queue system call events (叫号).", no_args_is_help=True)
flags_app = typer.Typer(help="Flags for inspectors.", no_args_is_help=True)
followups_app = typer.Typer(help="Follow-up cases of 差评 (回访, 整改).", no_args_is_help=True)
site_app = typer.Typer(help="The hall's organisation: departments, windows, staff, roster, substitutes.", no_args_is_help=True)
app.add_typer(ratings_app, name="ratings")
app.add_typer(queue_app, name="queue")
app.add_typer(flags_app, name="flags")
app.add_typer(followups_app, name="followups")
app.add_typer(site_app, name="site")


class ReportFormat(str, Enum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"


class GroupBy(str, Enum):
    staff = "staff"
    window = "window"
    department = "department"


class Period(str, Enum):
    day = "day"
    week = "week"
    month = "month"


UNMASK_OPT = typer.Option(False, "--unmask", help="Show citizens' ID/mobile/bank numbers (an inspector's own use; written to the audit log).")


def _masker(unmask: bool, factory, command: str, entity: str, entity_id: Optional[int] = None):
    """How transcripts and comments are printed: masked unless ``--unmask``, which is audited first."""
    import getpass

    from models.privacy import redact_pii
    from scoring.accounts import audit

    if unmask:
        with factory() as s, s.begin():
            audit(s, f"cli:{getpass.getuser()}", "pii.unmask", entity, entity_id, command=command)
        return lambda value: value

    def mask(value):
        if isinstance(value, str):
            return redact_pii(value).text
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        return value

    return mask


class FollowUpStep(str, Enum):
    called_back = "called_back"
    rectified = "rectified"
    closed = "closed"


def _audit(session, action: str, file: Path, **detail) -> None:
    from models.db import AuditLog

    session.add(AuditLog(actor="cli", action=action, entity="file", detail={"file": str(file), **detail}))


def _echo_rejects(rejected) -> None:
    for r in rejected:
        typer.echo(f"  line {r.line}: {r.reason}", err=True)


def _row_limits(settings):
    from scoring.store.tabular import RowLimits

    return RowLimits.from_settings(settings)


def _not_imported(file: Path, exc: Exception) -> None:
    """Say why a file was not imported (unreadable, or the store refused it); the other files go on."""
    from scoring.store.tabular import ImportFileError

    reason = str(exc if isinstance(exc, ImportFileError) else ImportFileError.from_database(file, exc))
    log.info("not imported: %s", reason)  # info: the user reads it on stderr, a log file keeps it
    typer.echo(f"windowqa: {reason}", err=True)


@app.command("ingest")
def ingest_cmd(
    ctx: typer.Context,
    paths: List[Path] = typer.Argument(..., help="Audio files or folders of one window."),
    window: str = typer.Option(..., "--window", help="Window code (as in the site file), e.g. A03."),
    start: Optional[datetime] = typer.Option(None, "--start", help="Wall-clock start (ISO) of a single recording; otherwise from the file name or metadata."),
    no_archive: bool = typer.Option(False, "--no-archive", help="Leave files where they are instead of copying them into the archive folder."),
    no_roles: bool = typer.Option(False, "--no-roles", help="Do not classify mono utterances as staff/citizen."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Analyse again recordings that failed on their content (corrupt audio); outside failures are always retried."),
    channels: Optional[str] = typer.Option(None, "--channels", help="Channel map of these files, e.g. staff,citizen,ignore,ignore (in place of the window's)."),
    voice: Optional[bool] = typer.Option(None, "--voice/--no-voice", help="Split mono recordings by voice and check who is serving by voice (default: on when staff voiceprints are enrolled)."),
    enhance: bool = typer.Option(False, "--enhance", help="Clean the staff channel with VoiceFilter-Lite and the rostered staff member's voiceprint (needs voiceprints; off by default: it did not help on the dev clips)."),
    rulebook_path: Optional[Path] = RULEBOOK_OPT,
    db: Optional[str] = DB_OPT,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file."),
    queue: bool = typer.Option(False, "--queue", help="Register the recordings and hand them to the workers (`windowqa worker`), then return."),
) -> None:
    """Transcribe, match, segment and score recordings into the store (idempotent, resumable).

    A failed file says whether it failed on an outside cause (retried on the next ingest) or
    on its content (retried with --retry-failed). With --queue the workers do it (see
    `windowqa jobs status`).
    """
    from sqlalchemy.exc import DBAPIError

    from nlp.role import build_role_classifier
    from scoring.store import StoreError
    from windowqa.ingest import IngestError, IngestOptions, ingest, speech_transcriber
    from windowqa.speech.voices import VoiceSetupError, site_voice_splitter

    cli = cli_context(ctx, db=db, rulebook=rulebook_path)
    if queue:
        if start is not None:
            fail("--start does not go with --queue: put each start time in its file name")
        if enhance:
            fail("--enhance does not go with --queue (the workers do not clean the staff channel)")
        from windowqa.commands._shared import queue_ingest

        queue_ingest(cli, paths, window, archive=not no_archive, channels=channels, retry_failed=retry_failed,
                     roles=not no_roles, as_json=as_json, voice=voice)
        return
    settings, rulebook, factory = cli.settings, cli.rulebook, cli.sessions
    try:
        splitter = site_voice_splitter(factory, window, wanted=voice, options=settings.voice_options)
    except (VoiceSetupError, StoreError) as exc:
        fail(str(exc))
    enhancer = _enhancer(splitter) if enhance else None
    transcriber = cli.transcriber()
    matcher = cli.matcher
    options = IngestOptions(
        window=window,
        start=start,
        archive_dir=None if no_archive else settings.resolved_archive_dir,
        progress=sys.stderr.isatty(),
        retry_failed=retry_failed,
        channels=channels,
    )
    try:
        report = ingest(
            paths,
            options,
            session_factory=factory,
            transcribe=speech_transcriber(transcriber, matcher=matcher, voice=splitter, enhancer=enhancer),
            matcher=matcher,
            rulebook=rulebook,
            role_classifier=None if no_roles else build_role_classifier(),
            asr_options=transcriber.describe() if hasattr(transcriber, "describe") else None,
        )
    except IngestError as exc:
        fail(str(exc))
    try:
        with factory() as s, s.begin():
            _audit(s, "ingest", Path(window), done=report.count("done"), skipped=report.count("skipped"), failed=report.count("failed"), utterances=report.utterances)
    except DBAPIError as exc:  # a database locked past the busy timeout: the files' results still count
        typer.echo(f"ingest not written to the audit log: {getattr(exc, 'orig', exc)}", err=True)
    _print_ingest_report(report, as_json)
    if report.count("failed"):
        raise typer.Exit(1)


def _enhancer(splitter):
    """The VoiceFilter-Lite enhancer, which needs the voice splitter's voiceprints."""
    from audio_capture.enhance import EnhancerUnavailableError, build_enhancer

    if splitter is None:
        fail("--enhance needs staff voiceprints (windowqa voice enroll) and the voice checks on")
    try:
        return build_enhancer("voicefilter-lite")
    except EnhancerUnavailableError as exc:
        fail(str(exc))


def _print_ingest_report(report, as_json: bool) -> None:
    """One line (or JSON object) per file, its failure kind and warnings, then the counts."""
    for f in report.files:
        if as_json:
            sys.stdout.write(json.dumps(f.__dict__, ensure_ascii=False) + "\n")
        else:
            detail = f.reason or f"{f.utterances} utterances, {f.interactions} interactions, {f.flags} flags"
            status = f"{f.status} ({f.failure_kind})" if f.failure_kind else f.status
            typer.echo(f"{status:8s} {f.path}: {detail}")
            for warning in f.warnings:
                typer.echo(f"{'':8s}   warning: {warning}")
    if not as_json:
        typer.echo(f"{report.count('done')} done, {report.count('skipped')} skipped, {report.count('failed')} failed")


@ratings_app.command("import")
def ratings_import(
    ctx: typer.Context,
    files: List[Path] = typer.Argument(..., help="The terminal's exports (CSV or JSON); each file is imported on its own."),
    codes: Optional[Path] = typer.Option(None, "--codes", help='TOML with a vendor\'s level codes, e.g. "5" = "非常满意".'),
    rulebook_path: Optional[Path] = RULEBOOK_OPT,
    db: Optional[str] = DB_OPT,
) -> None:
    """Import ratings: validate every row, link to interactions, check 工号, open follow-ups for 差评."""
    from sqlalchemy.exc import DBAPIError

    from scoring.store.ratings import RatingImportOptions, import_ratings
    from scoring.store.tabular import ImportFileError

    vendor_codes = {}
    if codes is not None:
        try:
            data = tomllib.loads(codes.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            fail(f"{codes}: {exc}")
        vendor_codes = {str(k): str(v) for k, v in data.get("vendor_codes", data).items()}
    cli = cli_context(ctx, db=db, rulebook=rulebook_path)
    rulebook, factory = cli.rulebook, cli.sessions
    unknown = sorted(set(vendor_codes.values()) - set(rulebook.ratings.levels))
    if unknown:
        fail(f"{codes}: codes map to unknown levels {unknown}; levels are {', '.join(rulebook.ratings.levels)}")
    options = RatingImportOptions(vendor_codes=vendor_codes, limits=_row_limits(cli.settings))
    failed = False
    for file in files:
        try:
            with factory() as s, s.begin():
                report = import_ratings(s, file, rulebook, options)
                _audit(s, "ratings.import", file, imported=report.imported, unchanged=report.unchanged, rejected=len(report.rejected))
        except (ImportFileError, DBAPIError) as exc:
            _not_imported(file, exc)
            failed = True
            continue
        typer.echo(
            f"{file}: {report.imported} imported, {report.unchanged} unchanged, {len(report.rejected)} rejected; "
            f"{report.linked} linked, {len(report.unlinked)} unlinked, {report.follow_ups_opened} follow-ups opened"
        )
        _echo_rejects(report.rejected)
        if report.unlinked:
            typer.echo("  not linked to an interaction: " + ", ".join(report.unlinked), err=True)
    if failed:
        raise typer.Exit(1)


@queue_app.command("import")
def queue_import(
    ctx: typer.Context,
    files: List[Path] = typer.Argument(..., help="The queue system's call exports (CSV or JSON); each file is imported on its own."),
    rulebook_path: Optional[Path] = RULEBOOK_OPT,
    db: Optional[str] = DB_OPT,
) -> None:
    """Import call events (time, window, ticket); recordings they fall into are re-scored."""
    from sqlalchemy.exc import DBAPIError

    from scoring.store.queue import import_queue
    from scoring.store.tabular import ImportFileError

    cli = cli_context(ctx, db=db, rulebook=rulebook_path)
    rulebook, factory = cli.rulebook, cli.sessions
    calendar, salt = work_calendar(cli.settings.calendar_path), cli.settings.citizen_ref_salt
    failed = False
    for file in files:
        try:
            with factory() as s, s.begin():
                report = import_queue(s, file, rulebook, limits=_row_limits(cli.settings), calendar=calendar,
                                      citizen_salt=salt.get_secret_value() if salt else None)
                _audit(s, "queue.import", file, imported=report.imported, unchanged=report.unchanged, rejected=len(report.rejected))
        except (ImportFileError, DBAPIError) as exc:
            _not_imported(file, exc)
            failed = True
            continue
        typer.echo(f"{file}: {report.imported} imported, {report.unchanged} unchanged, {len(report.rejected)} rejected; {report.rescored_recordings} recordings re-scored; "
                   f"{report.repeat_visit_flags} repeat-visit flags")
        if report.ids_dropped:
            typer.echo(f"{file}: {report.ids_dropped} citizen IDs not kept: set citizen_ref_salt (WINDOWQA_CITIZEN_REF_SALT) to check repeat visits", err=True)
        _echo_rejects(report.rejected)
    if failed:
        raise typer.Exit(1)


@site_app.command("load")
def site_load(
    ctx: typer.Context,
    files: List[Path] = typer.Argument(..., help="TOML site file, or CSV of staff / roster / substitutes."),
    rulebook_path: Optional[Path] = RULEBOOK_OPT,
    db: Optional[str] = DB_OPT,
) -> None:
    """Load (upsert) departments, windows, staff, roster and substitutes."""
    from sqlalchemy.exc import DBAPIError

    from scoring.store.site import SiteFileError, load_site
    from scoring.store.tabular import ImportFileError

    cli = cli_context(ctx, db=db, rulebook=rulebook_path)
    rulebook, factory = cli.rulebook, cli.sessions
    failed = False
    for file in files:
        try:
            with factory() as s, s.begin():
                report = load_site(s, file, rulebook)
                _audit(s, "site.load", file, created=report.created, rejected=len(report.rejected))
        except (ImportFileError, SiteFileError) as exc:
            typer.echo(f"windowqa: {exc}", err=True)
            failed = True
            continue
        except DBAPIError as exc:
            _not_imported(file, exc)
            failed = True
            continue
        created = ", ".join(f"{v} {k}" for k, v in report.created.items()) or "nothing new"
        typer.echo(f"{file}: created {created}; {sum(report.updated.values())} unchanged/updated; {len(report.rejected)} rejected")
        _echo_rejects(report.rejected)
    if failed:
        raise typer.Exit(1)


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    group: GroupBy = typer.Argument(..., help="staff, window or department."),
    month: str = typer.Option(..., "--month", help="YYYY-MM"),
    by: Period = typer.Option(Period.month, "--by", help="Buckets: day, week or month."),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (xlsx needs one; default windowqa-<group>-<month>.xlsx)."),
    db: Optional[str] = DB_OPT,
) -> None:
    """Roll-ups of scores, courtesy, forbidden hits, ratings and flags for a month."""
    from scoring.reports import ReportError, ReportOptions, month_range, render_csv, render_table, rollup, write_xlsx

    try:
        start, end = month_range(month)
    except ReportError as exc:
        fail(str(exc))
    context = cli_context(ctx, db=db)
    with context.sessions() as s:
        report = rollup(s, ReportOptions.for_rulebook(group.value, by.value, start, end, context.rulebook))
    if fmt is ReportFormat.xlsx:
        path = write_xlsx(report, output or Path(f"windowqa-{group.value}-{month}.xlsx"))
        typer.echo(f"wrote {path} ({len(report.rows)} rows)")
        return
    text = render_table(report) if fmt is ReportFormat.table else render_csv(report)
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output} ({len(report.rows)} rows)")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@flags_app.command("list")
def flags_list(
    ctx: typer.Context,
    kind: Optional[str] = typer.Option(None, "--kind", help="forbidden, poor_rating, missing_courtesy, citizen_abuse, overdue_follow_up, staff_mismatch, unlinked_rating, situation_phrase."),
    all_: bool = typer.Option(False, "--all", help="Include confirmed and dismissed flags."),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = typer.Option(False, "--json"),
    db: Optional[str] = DB_OPT,
    unmask: bool = UNMASK_OPT,
) -> None:
    """Flags for inspectors with their evidence (newest first; citizens' numbers masked); overdue follow-ups are checked first."""
    from models.db import FlagKind, FlagStatus
    from scoring.store.flags import list_flags
    from scoring.store.ratings import flag_overdue_follow_ups

    try:
        flag_kind = FlagKind(kind) if kind else None
    except ValueError:
        fail(f"unknown flag kind {kind!r}; expected one of {', '.join(k.value for k in FlagKind)}")
    factory = cli_context(ctx, db=db).sessions
    mask = _masker(unmask, factory, "flags list", "flag")
    with factory() as s, s.begin():
        flag_overdue_follow_ups(s, date.today())
        flags = list_flags(s, kind=flag_kind, status=None if all_ else FlagStatus.OPEN, limit=limit)
        rows = [
            {
                "id": f.id, "kind": f.kind.value, "severity": f.severity, "penalised": f.penalised, "status": f.status.value,
                "raised_at": f.raised_at.isoformat(sep=" "), "window": f.window.code if f.window else None,
                "staff": f"{f.staff.staff_no} {f.staff.name}" if f.staff else None, "summary": mask(f.summary), "evidence": mask(f.evidence),
            }
            for f in flags
        ]
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    if not rows:
        typer.echo("no flags")
    for r in rows:
        where = f"{r['window'] or '-'} {r['staff'] or '-'}"
        ev = r["evidence"]
        offsets = f" [{ev.get('recording')} {ev.get('start_s')}–{ev.get('end_s')} s]" if "start_s" in ev else ""
        typer.echo(f"#{r['id']:<5} {r['raised_at']}  {r['kind']:18s} {r['severity']:6s} {where}: {r['summary']}{offsets}")


@followups_app.command("list")
def followups_list(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Include closed cases."),
    unmask: bool = UNMASK_OPT,
    db: Optional[str] = DB_OPT,
) -> None:
    """Follow-up cases with their deadline (working days) and status (citizens' numbers in comments masked)."""
    from sqlalchemy import select

    from models.db import FollowUp, FollowUpStatus

    factory = cli_context(ctx, db=db).sessions
    mask = _masker(unmask, factory, "followups list", "follow_up")
    with factory() as s:
        query = select(FollowUp).order_by(FollowUp.due_on)
        if not all_:
            query = query.where(FollowUp.status != FollowUpStatus.CLOSED)
        cases = s.scalars(query).all()
        if not cases:
            typer.echo("no follow-up cases")
        for c in cases:
            overdue = " OVERDUE" if c.status is not FollowUpStatus.CLOSED and c.due_on < date.today() else ""
            typer.echo(f"#{c.id:<4} due {c.due_on}  {c.status.value:11s} rating {c.rating.serial_no} {c.rating.level}: {mask(c.rating.comment or '')}{overdue}")


@followups_app.command("update")
def followups_update(
    ctx: typer.Context,
    case_id: int = typer.Argument(...),
    step: FollowUpStep = typer.Option(..., "--step"),
    note: str = typer.Option("", "--note"),
    actor: str = typer.Option("cli", "--actor", help="Who records this step (audit log)."),
    db: Optional[str] = DB_OPT,
) -> None:
    """Record a callback (回访), the rectification (整改) or the closure of a case."""
    from models.db import AuditLog, FollowUpStatus
    from scoring.store.ratings import advance_follow_up

    factory = cli_context(ctx, db=db).sessions
    try:
        with factory() as s, s.begin():
            case = advance_follow_up(s, case_id, FollowUpStatus(step.value), note)
            s.add(AuditLog(actor=actor, action=f"follow_up.{step.value}", entity="follow_up", entity_id=case.id, detail={"note": note}))
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"follow-up #{case_id}: {step.value}")


@app.command("explain")
def explain(
    ctx: typer.Context,
    interaction_id: int = typer.Argument(..., help="Interaction id (see flags list --json)."),
    unmask: bool = UNMASK_OPT,
    db: Optional[str] = DB_OPT,
) -> None:
    """An interaction's score line by line, with its transcript (citizens' numbers masked)."""
    from models.db import Interaction

    factory = cli_context(ctx, db=db).sessions
    mask = _masker(unmask, factory, f"explain {interaction_id}", "interaction", interaction_id)
    with factory() as s:
        i = s.get(Interaction, interaction_id)
        if i is None:
            fail(f"no interaction {interaction_id}")
        staff = f"{i.staff.staff_no} {i.staff.name}" if i.staff else "nobody on duty"
        typer.echo(f"interaction #{i.id}  {i.window.code if i.window else '-'}  {i.started_at} – {i.ended_at}  {staff}  ticket {i.ticket_no or '-'}")
        for line in i.explanation:
            typer.echo(f"  {line['points']:+7.1f}  {mask(line['reason'])}")
        typer.echo(f"  {i.score:7.1f}  = score ({i.rulebook_version})")
        for u in i.utterances:
            typer.echo(f"    [{u.start_s:8.2f}] {u.role.value:8s} {mask(u.text)}")


@app.command("rescore")
def rescore(
    ctx: typer.Context,
    month: str = typer.Option(..., "--month", help="YYYY-MM: recordings that started in this month."),
    window: Optional[str] = typer.Option(None, "--window", help="Only this window."),
    rulebook_path: Optional[Path] = RULEBOOK_OPT,
    db: Optional[str] = DB_OPT,
) -> None:
    """Rebuild interactions and scores from stored utterances and hits (e.g. with a new rulebook)."""
    from sqlalchemy import select

    from models.db import Recording, RecordingStatus
    from scoring.store.ratings import link_ratings
    from scoring.reports import ReportError, month_range
    from scoring.store import StoreError, rescore_recording, window_by_code

    try:
        start, end = month_range(month)
    except ReportError as exc:
        fail(str(exc))
    cli = cli_context(ctx, db=db, rulebook=rulebook_path)
    rulebook, factory = cli.rulebook, cli.sessions
    with factory() as s, s.begin():
        query = select(Recording).where(
            Recording.status == RecordingStatus.DONE,
            Recording.started_at >= datetime.combine(start, datetime.min.time()),
            Recording.started_at < datetime.combine(end, datetime.min.time()),
        )
        if window:
            try:
                query = query.where(Recording.window_id == window_by_code(s, window).id)
            except StoreError as exc:
                fail(str(exc))
        recordings = s.scalars(query.order_by(Recording.started_at)).all()
        for recording in recordings:
            rescore_recording(s, recording, rulebook)
        for window_id in {r.window_id for r in recordings}:
            link_ratings(s, rulebook, window_id=window_id, start=datetime.combine(start, datetime.min.time()), end=datetime.combine(end, datetime.min.time()))
        _audit(s, "rescore", Path(month), recordings=len(recordings), rulebook=rulebook.version)
    typer.echo(f"{len(recordings)} recordings re-scored with {rulebook.version}")
