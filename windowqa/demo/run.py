"""The demo end to end: simulate a hall, run the whole pipeline into the embedded store, summarise.

:func:`run_demo` is what ``windowqa demo`` does before it starts the dashboard:

1. generate the hall (:mod:`windowqa.demo.simulator`) into the demo folder;
2. load the site file (departments, windows, staff, roster, the filed substitute) and the queue
   system's call events into a SQLite database in that folder;
3. register staff cards, enrol the two consenting staff members' faces and run every check-in
   through the real face engine; import the leave record;
4. ingest every window's recordings with the real speech pipeline (VAD, crosstalk gate, Whisper),
   the phrase matcher, segmentation and scoring (:func:`windowqa.ingest.ingest`);
5. import the evaluation terminal's ratings (linking, 工号 check, follow-ups for 差评);
6. create one dashboard account per role and return a summary.

Engines (Whisper, matcher, face engine) are built by the caller or here, explicitly, once.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from models.rulebook import Rulebook, load_rulebook
from models.settings import Settings
from windowqa.demo.simulator import PHOTOS_DIR, HallTruth, SimOptions, generate_hall

log = logging.getLogger("windowqa.demo")

MARKER = ".windowqa-demo"
DB_NAME = "windowqa.db"
TERMINAL = "大厅考勤机"
ROLES = ("admin", "manager", "inspector", "staff")


class DemoError(RuntimeError):
    """The demo cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    """Options of one demo run.

    Attributes:
        folder: where the simulated hall, its database and the run summary go.
        sim: the simulation (size, seed, levels).
        progress: progress bars on stderr.
        accounts: create one dashboard account per role.
        voice: on a mono hall (``sim.mono``), enrol every staff member's voice from their
            enrolment recording and split and label the recordings by voice (content as the
            second opinion); False: roles from the content alone (``nlp.role``), as before
            voiceprints existed. Stereo halls take roles from the channels either way.
    """

    folder: Path
    sim: SimOptions = field(default_factory=SimOptions)
    progress: bool = True
    accounts: bool = True
    voice: bool = True


@dataclass
class DemoResult:
    """What the run stored, for the summary and the evaluation."""

    folder: Path
    database_url: str
    options: DemoOptions
    summary: dict[str, Any] = field(default_factory=dict)
    accounts: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # (role, user, password, 工号)
    timings_s: dict[str, float] = field(default_factory=dict)


def database_url(folder: Path) -> str:
    """The demo folder's SQLite database."""
    return f"sqlite:///{(Path(folder) / DB_NAME).resolve()}"


def prepare_folder(folder: Path) -> None:
    """Make ``folder`` ready for a fresh demo; only a folder made by the demo is ever emptied.

    Raises:
        DemoError: the folder exists, is not empty and was not made by the demo.
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise DemoError(f"{folder} exists and was not made by `windowqa demo`; give an empty or new folder with --dir")
    if folder.exists():
        for child in folder.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `windowqa demo`; the whole folder is replaced on the next run\n", encoding="utf-8")


def run_demo(
    options: DemoOptions,
    *,
    settings: Settings,
    rulebook: Rulebook | None = None,
    transcriber: Any | None = None,
    matcher: Any | None = None,
    face_engine: Any | None = None,
) -> DemoResult:
    """Simulate the hall and process it end to end into the demo folder's SQLite store.

    Args:
        options: folder, simulation, progress.
        settings: model folder and threads, built by the caller (the database is always the demo folder's).
        rulebook: the shipped rulebook when None.
        transcriber: an ``asr.Transcriber``; built from the settings when None.
        matcher: an ``nlp.PhraseMatcher``; built from the rulebook when None.
        face_engine: an ``attendance`` face engine; dlib when None.

    Returns:
        The summary, the demo accounts and the time each stage took.

    Raises:
        DemoError: the folder cannot be used or the Whisper model is missing.
    """
    rulebook = rulebook or load_rulebook(settings.rulebook_path)
    folder = Path(options.folder).resolve()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now

    prepare_folder(folder)
    hall = generate_hall(folder, options.sim, rulebook=rulebook, progress=options.progress)
    truth = hall.truth
    lap("simulate")

    from models.db import open_database

    url = database_url(folder)
    factory = open_database(url)
    # The queue export names citizens (made-up IDs): the import keeps only their hash under a salt,
    # the site's secret or, for a demo without one, this run's.
    salt = settings.citizen_ref_salt.get_secret_value() if settings.citizen_ref_salt else secrets.token_hex(16)
    _load_site_and_queue(factory, truth, folder, rulebook, salt)
    lap("site_and_queue")

    _attendance(factory, truth, folder, rulebook, face_engine)
    _store_attendance(factory, truth, rulebook)
    lap("attendance")

    transcriber, matcher = _engines(settings, rulebook, transcriber, matcher)
    lap("engines")
    voice = options.sim.mono and options.voice
    if voice:
        _enrol_voices(factory, truth, folder)
        lap("voices")
    ingest_report = _ingest(factory, truth, folder, rulebook, transcriber, matcher, options.progress,
                            mono=options.sim.mono, voice=voice, voice_options=settings.voice_options)
    _link_repeat_visits(factory, rulebook, settings)
    lap("ingest")

    ratings = _import_ratings(factory, truth, folder, rulebook)
    lap("ratings")

    result = DemoResult(folder=folder, database_url=url, options=options, timings_s=timings)
    if options.accounts:
        result.accounts = _accounts(factory, truth)
    lap("accounts")
    result.summary = _run_summary(factory, truth, rulebook, ingest_report, ratings)
    result.summary.update(mono=options.sim.mono, voice=voice)
    lap("summary")
    result.timings_s["total"] = round(sum(v for k, v in timings.items() if k != "total"), 2)
    return result


def _engines(settings: Settings, rulebook: Rulebook, transcriber: Any | None, matcher: Any | None) -> tuple[Any, Any]:
    """The given engines, or the default ones built from the settings."""
    if transcriber is None:
        transcriber = _build_transcriber(settings)
    if matcher is None:
        from nlp import build_matcher

        # the shipped corpus (never a site's retrained model), trained once and cached
        matcher = build_matcher(rulebook, cache_dir=settings.data_dir / "cache")
    return transcriber, matcher


def _load_site_and_queue(factory, truth: HallTruth, folder: Path, rulebook: Rulebook, salt: str) -> None:
    """The site file (with the substitute's filing time, 备案) and the queue system's call events."""
    from scoring.store.queue import import_queue
    from scoring.store.site import load_site

    with factory() as s, s.begin():
        load_site(s, folder / truth.files.site, rulebook)
        import_queue(s, folder / truth.files.queue, rulebook, citizen_salt=salt)


def _link_repeat_visits(factory, rulebook: Rulebook, settings: Settings) -> None:
    """Repeat visits again, now that the recordings' interactions exist (the flags gain their links)."""
    from models.workdays import WorkCalendar
    from scoring.store.repeat_visits import flag_repeat_visits

    with factory() as s, s.begin():
        flag_repeat_visits(s, rulebook, WorkCalendar.from_file(settings.calendar_path))


def _import_ratings(factory, truth: HallTruth, folder: Path, rulebook: Rulebook):
    """The evaluation terminal's export, imported the day after the last simulated day."""
    from scoring.store.ratings import import_ratings

    last_day = truth.days[-1]
    with factory() as s, s.begin():
        return import_ratings(s, folder / truth.files.ratings, rulebook,
                              today=datetime.combine(last_day + timedelta(days=1), datetime.min.time()))


def _run_summary(factory, truth: HallTruth, rulebook: Rulebook, ingest_report: list, ratings) -> dict[str, Any]:
    """What the store holds, with the ingest's failures and the ratings import's counts."""
    summary = summarise(factory, truth, rulebook)
    summary["ingest"] = {
        "files": len(ingest_report),
        "failed": [f"{f.path}: {f.reason}" for f in ingest_report if f.status == "failed"],
    }
    summary["ratings_import"] = {
        "imported": ratings.imported, "linked": ratings.linked, "unlinked": len(ratings.unlinked),
        "rejected": len(ratings.rejected), "follow_ups_opened": ratings.follow_ups_opened,
    }
    return summary


def _build_transcriber(settings: Settings):
    """The same default transcriber as ``windowqa ingest`` (model, threads, rescorer)."""
    from asr.transcriber import TranscriberError
    from windowqa.engines import site_transcriber

    try:
        return site_transcriber(settings)
    except TranscriberError as exc:
        raise DemoError(f"the demo needs the Whisper model: run `windowqa models install` ({exc})") from None


def _enrol_voices(factory, truth: HallTruth, folder: Path) -> None:
    """Every staff member's voiceprint from their enrolment recording, as ``windowqa voice enroll FILE``."""
    from audio_capture.voice import build_voice_engine
    from windowqa.speech.enrol import enrol_from_files

    if truth.files.enrolment is None:
        raise DemoError(f"{folder}: no enrolment recordings in this hall (made without --mono?)")
    engine = build_voice_engine("dvector")
    with factory() as s, s.begin():
        for person in truth.staff:
            path = folder / truth.files.enrolment / f"{person.staff_no}.flac"
            if not enrol_from_files(s, person.staff_no, engine, [path]).stored:
                raise DemoError(f"{path}: too little speech to enrol {person.staff_no}")


def _ingest(factory, truth: HallTruth, folder: Path, rulebook: Rulebook, transcriber, matcher, progress: bool, *,
            mono: bool = False, voice: bool = False, voice_options: dict | None = None) -> list:
    from windowqa.ingest import IngestOptions, ingest, speech_transcriber
    from windowqa.speech.voices import site_voice_splitter

    role_classifier = None
    if mono:  # as `windowqa ingest`: the content decides the roles the voices (or channels) leave open
        from nlp.role import build_role_classifier

        role_classifier = build_role_classifier()
    describe = transcriber.describe() if hasattr(transcriber, "describe") else None
    files = []
    by_window: dict[str, list[Path]] = {}
    for rec in truth.recordings:
        by_window.setdefault(rec.window, []).append(folder / rec.path)
    for window, paths in by_window.items():
        splitter = site_voice_splitter(factory, window, wanted=True, options=voice_options) if voice else None
        # as `windowqa ingest`: near misses of the text matcher are verified against the audio
        transcribe = speech_transcriber(transcriber, matcher=matcher, voice=splitter)
        report = ingest(
            paths,
            IngestOptions(window=window, progress=progress),
            session_factory=factory,
            transcribe=transcribe,
            matcher=matcher,
            rulebook=rulebook,
            role_classifier=role_classifier,
            asr_options=describe,
        )
        files.extend(report.files)
    return files


def _attendance(factory, truth: HallTruth, folder: Path, rulebook: Rulebook, engine) -> None:
    """Cards, face enrolment, every check-in through the face engine or the card reader, the leave record.

    The same services as ``windowqa attendance enroll | checkin | leave-import``.
    """
    from attendance.services import CheckinDesk, DeskOptions, check_enrolment_photos, leave_from_row, save_leaves, store_enrolment
    from attendance.store import set_credentials

    if engine is None:
        from attendance.faces import build_engine

        engine = build_engine("dlib")
    with factory() as s, s.begin():
        for person in truth.staff:
            if person.photo:
                checks = check_enrolment_photos(engine, person.staff_no, [PHOTOS_DIR / person.photo])
                if checks[0].rejection is not None:
                    raise checks[0].rejection
                store_enrolment(s, person.staff_no, checks)
                # a PIN too: the terminal asks for it when a face is not clearly inside the threshold
                set_credentials(s, person.staff_no, pin=_demo_pin(person.staff_no), face_consent=True)
            else:
                set_credentials(s, person.staff_no, card_no=person.card_no, face_consent=False)
        desk = CheckinDesk(s, DeskOptions(window_minutes=rulebook.attendance.duplicate_window_minutes, terminal=TERMINAL), engine)
        for check in truth.attendance.checkins:
            if check.method != "face":
                desk.card(check.card_no, check.at)
            elif desk.face_image(folder / check.image, check.at,
                                 pin=_demo_pin(check.staff_no) if check.staff_no else None).stored is None:
                log.warning("%s: no face found at the terminal; nothing recorded", check.image)
        leave = save_leaves(s, [leave_from_row(lv.to_json(), rulebook.attendance.leave_types) for lv in truth.leave], "truth.json")
        if leave.rejected:
            raise DemoError("; ".join(leave.rejected))


def _demo_pin(staff_no: str) -> str:
    """The PIN a simulated staff member types when the terminal asks for one."""
    return f"{staff_no[-4:]:0>4}"


def _accounts(factory, truth: HallTruth) -> list[tuple[str, str, str, str | None]]:
    """One account per role with a fresh random password (printed once, stored only as a hash)."""
    from scoring.accounts import create_account, generate_password

    staff_no = truth.staff[0].staff_no
    out = []
    with factory() as s, s.begin():
        for role in ROLES:
            username = f"demo-{role}"
            password = generate_password()
            create_account(s, username, password, role, staff_no=staff_no if role == "staff" else None, by="windowqa demo", rounds=10)
            out.append((role, username, password, staff_no if role == "staff" else None))
    return out


def _store_attendance(factory, truth: HallTruth, rulebook: Rulebook) -> None:
    """Classify and store the simulated months through the last simulated day (later days have not happened)."""
    from attendance.classify import classify_months, months_touched
    from models.workdays import WorkCalendar

    first, last = truth.days[0], truth.days[-1]
    with factory() as s, s.begin():
        classify_months(s, months_touched(first, last), rulebook, WorkCalendar.from_file(None), through=last)


def attendance_records(session, truth: HallTruth, rulebook: Rulebook) -> list:
    """The simulated days classified by the attendance rules (only those days, nothing before)."""
    from attendance.schedule import classify_month
    from attendance.store import active_staff_nos, load_checkins, load_leaves
    from models.workdays import WorkCalendar

    first, last = truth.days[0], truth.days[-1]
    checks = load_checkins(session, first, last)
    leaves = load_leaves(session, first, last)
    return classify_month(active_staff_nos(session), first, last, checks, leaves, rulebook, WorkCalendar.from_file(None))


def summarise(factory, truth: HallTruth, rulebook: Rulebook) -> dict[str, Any]:
    """Counts of what the store holds after the run (read-only)."""
    from attendance.store import load_checkins
    from models.db import Flag, Interaction, Rating, Recording, RecordingStatus, RuleHitRow, Utterance

    first, last = truth.days[0], truth.days[-1]
    with factory() as s:
        hits = Counter(f.value for f in s.scalars(select(RuleHitRow.family)))
        flags = Counter(k.value for k in s.scalars(select(Flag.kind)))
        scores = list(s.scalars(select(Interaction.score).where(Interaction.served.is_(True))))
        records = attendance_records(s, truth, rulebook)
        halves = Counter(h.status.value for r in records for h in (r.morning, r.afternoon))
        checkins = load_checkins(s, first, last, include_unknown=True)
        # what the management view should find: 差评 follow forbidden phrases and missing courtesy
        flagged = {
            iid for iid, kind in s.execute(select(Flag.interaction_id, Flag.kind).where(Flag.interaction_id.is_not(None)))
            if kind.value in ("forbidden", "missing_courtesy")
        }
        rated = list(s.execute(select(Rating.interaction_id, Rating.is_poor).where(Rating.interaction_id.is_not(None))))
        poor_if = [p for iid, p in rated if iid in flagged]
        poor_else = [p for iid, p in rated if iid not in flagged]
        summary = {
            "poor_rate_flagged": round(sum(poor_if) / len(poor_if), 3) if poor_if else None,
            "poor_rate_unflagged": round(sum(poor_else) / len(poor_else), 3) if poor_else else None,
            "days": [d.isoformat() for d in truth.days],
            "windows": len(truth.windows),
            "staff": len(truth.staff),
            "recordings": s.scalar(select(func.count()).select_from(Recording).where(Recording.status == RecordingStatus.DONE)),
            "audio_s": round(sum(r.duration_s for r in truth.recordings), 1),
            "utterances": s.scalar(select(func.count()).select_from(Utterance)),
            "interactions": s.scalar(select(func.count()).select_from(Interaction)),
            "served": len(scores),
            "mean_score": round(sum(scores) / len(scores), 1) if scores else None,
            "hits": dict(sorted(hits.items())),
            "flags": dict(sorted(flags.items())),
            "ratings": s.scalar(select(func.count()).select_from(Rating)),
            "poor_ratings": s.scalar(select(func.count()).select_from(Rating).where(Rating.is_poor.is_(True))),
            "attendance": dict(sorted(halves.items())),
            "checkins": Counter(c.method.value if c.staff_id else "unknown_face" for c in checkins),
        }
    summary["checkins"] = dict(sorted(summary["checkins"].items()))
    return summary


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def format_summary(result: DemoResult) -> str:
    """The short summary ``windowqa demo`` prints."""
    s = result.summary
    hits = ", ".join(f"{k} {v}" for k, v in s["hits"].items()) or "none"
    flags = ", ".join(f"{k} {v}" for k, v in s["flags"].items()) or "none"
    attendance = ", ".join(f"{k} {v}" for k, v in s["attendance"].items())
    checkins = ", ".join(f"{k} {v}" for k, v in s["checkins"].items())
    lines = [
        f"demo hall: {s['windows']} windows, {s['staff']} staff, {len(s['days'])} day(s) from {s['days'][0]}",
        f"recordings: {s['recordings']} ({s['audio_s'] / 60:.1f} min of {'mono' if s.get('mono') else 'stereo'} audio"
        + (", roles by voice and content)" if s.get("voice") else ", roles by content)" if s.get("mono") else ")"),
        f"utterances: {s['utterances']}   interactions: {s['interactions']} ({s['served']} served, mean score {s['mean_score']})",
        f"rule hits: {hits}",
        f"flags: {flags}",
        f"ratings: {s['ratings']} ({s['poor_ratings']} 差评; linked {s['ratings_import']['linked']}, "
        f"follow-ups opened {s['ratings_import']['follow_ups_opened']}); 差评 rate {_pct(s['poor_rate_flagged'])} after a "
        f"forbidden phrase or missing courtesy, {_pct(s['poor_rate_unflagged'])} otherwise",
        f"attendance (staff half-days): {attendance}",
        f"check-ins: {checkins}",
    ]
    if s["ingest"]["failed"]:
        lines.append("failed recordings: " + "; ".join(s["ingest"]["failed"]))
    t = result.timings_s
    lines.append("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in t.items()))
    return "\n".join(lines)


__all__ = [
    "DB_NAME",
    "DemoError",
    "DemoOptions",
    "DemoResult",
    "attendance_records",
    "database_url",
    "format_summary",
    "prepare_folder",
    "run_demo",
    "summarise",
]
