"""A small real hall in a SQLite file, built through the store and scoring functions, for the dashboard tests.

Site from ``tests/data/site/hall.toml``, the annotated window transcript stored as recordings of
A03 (张敏 on the 2nd, 李强 substituting on the 3rd) and B01 (王芳 on the 9th), the terminal
ratings export, a recording file in the archive (a real speech clip placed at the forbidden
hit, silence elsewhere), one citizen's phone number in a transcript, and one account per role.

Attendance (classified and stored through ``ATTENDANCE_THROUGH`` as ``windowqa attendance classify``
does): 张敏 12 minutes late on the morning of the 2nd and on approved 事假 on the 3rd, 李强 on time
substituting on the 3rd, 王芳 on time on the 2nd and absent (旷工) on the 3rd, 赵磊 never checked in.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import select

from attendance.classify import classify_and_store
from attendance.store import save_checkin, save_leave
from models.attendance import CheckIn, CheckMethod, LeaveRecord, LeaveStatus
from models.db import Recording, Staff, Window, init_db, make_engine, make_session_factory
from models.domain import MatchMethod, Role, RuleFamily, RuleHit
from models.domain import Utterance as DomainUtterance
from models.rulebook import load_rulebook
from scoring.accounts import create_account
from scoring.store.ratings import RatingImportOptions, import_ratings
from scoring.segment import MatchedUtterance
from scoring.store.site import load_site
from scoring.store import store_recording

DATA = Path(__file__).parent / "data"
PHONE = "13812345678"
PASSWORD = "correct-horse-9"
USERS = {"insp": "inspector", "zhang": "staff", "li": "staff", "mgr": "manager", "admin": "admin"}
STAFF_OF = {"zhang": "1001", "li": "1002"}
ATTENDANCE_MONTH = "2026-03"
ATTENDANCE_THROUGH = date(2026, 3, 3)  # later days of the month have not happened in this hall
CHECKS = {  # 工号 -> check-in times (March: the winter shift, 08:30-12:00 and 13:30-17:30)
    "1001": ["2026-03-02T08:42", "2026-03-02T12:01", "2026-03-02T13:25", "2026-03-02T17:35"],
    "1002": ["2026-03-03T08:25", "2026-03-03T12:02", "2026-03-03T13:28", "2026-03-03T17:31"],
    "2001": ["2026-03-02T08:20", "2026-03-02T12:05", "2026-03-02T13:20", "2026-03-02T17:40"],
}


@dataclass
class Hall:
    url: str
    archive: Path
    db_path: Path

    def env(self) -> dict[str, str]:
        return {
            "WINDOWQA_DATABASE_URL": self.url,
            "WINDOWQA_ARCHIVE_DIR": str(self.archive),
        }


def _transcript(rulebook, *, phone: bool) -> list[MatchedUtterance]:
    items = []
    lines = (DATA / "transcripts" / "window-a03-morning.jsonl").read_text(encoding="utf-8").splitlines()
    for seq, line in enumerate(l for l in lines if l.strip()):
        row = json.loads(line)
        text = row["text"]
        if phone and seq == 14:  # the citizen before the forbidden phrase leaves a phone number
            text = f"同志，我这个公积金提取怎么还没办好？我电话{PHONE}。"
        u = DomainUtterance(text=text, role=Role(row["role"]), start_s=row["start_s"], end_s=row["end_s"])
        hits = []
        for rid in row["hits"]:
            rule = rulebook.rule(rid)
            start = 0
            for wording in rule.templates:
                probe = wording.replace("××", "")[:4]
                if probe and probe in text:
                    start = text.index(probe)
                    break
            hits.append(RuleHit(rid, rule.family, 1.0, start, len(text), MatchMethod.EXACT, rulebook.version))
        abuse = (RuleHit("citizen.abuse", RuleFamily.FORBIDDEN, 1.0, 0, len(text), MatchMethod.EXACT, rulebook.version),) if row.get("abuse") else ()
        items.append(MatchedUtterance(seq, u, tuple(hits), abuse))
    return items


_AUDIO: dict[str, bytes] = {}


def _audio(path: Path, *, seconds: float = 450.0, at_s: float = 143.5) -> None:
    """A recording of silence with a real speech clip where the forbidden phrase was said."""
    if "flac" not in _AUDIO:
        clip, rate = sf.read(DATA / "speech" / "kimi_asr_example.flac", dtype="int16")
        samples = np.zeros(int(seconds * rate), dtype=np.int16)
        start = int(at_s * rate)
        samples[start : start + len(clip)] = clip[: len(samples) - start]
        buf = io.BytesIO()
        sf.write(buf, samples, rate, format="FLAC")
        _AUDIO["flac"] = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_AUDIO["flac"])


_TEMPLATES: dict[int, Path] = {}  # rounds -> a hall built once per test process, copied for each caller


def build_hall(root: Path, *, rounds: int = 4) -> Hall:
    """Build the hall database and archive under ``root`` (idempotent per folder).

    The hall is populated once per process and copied: every caller gets its own files (tests may
    change them), identical to a fresh build, without paying the build two dozen times a suite.
    """
    root.mkdir(parents=True, exist_ok=True)
    db_path = root / "windowqa.db"
    archive = root / "archive"
    hall = Hall(f"sqlite:///{db_path}", archive, db_path)
    if db_path.exists():
        return hall
    template = _TEMPLATES.get(rounds)
    if template is None:
        template = Path(tempfile.mkdtemp(prefix="windowqa-hall-"))
        atexit.register(shutil.rmtree, template, True)
        engine = init_db(make_engine(f"sqlite:///{template / 'windowqa.db'}"))
        populate(make_session_factory(engine), template / "archive", rounds=rounds)
        engine.dispose()
        _TEMPLATES[rounds] = template
    source, target = sqlite3.connect(template / "windowqa.db"), sqlite3.connect(db_path)
    try:
        source.backup(target)  # a consistent copy whatever the template's WAL holds
    finally:
        source.close()
        target.close()
    shutil.copytree(template / "archive", archive, dirs_exist_ok=True)
    return hall


def populate(factory, archive: Path, *, rounds: int = 4) -> None:
    """Fill an empty database (any URL) with the hall; audio files go under ``archive``."""
    rulebook = load_rulebook()
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
        windows = {w.code: w for w in s.scalars(select(Window))}
        for code, start, phone in (("A03", datetime(2026, 3, 2, 9), True), ("A03", datetime(2026, 3, 3, 9), False), ("B01", datetime(2026, 3, 9, 14), False)):
            rel = f"{code}/{start:%Y%m%dT%H%M}.flac"
            _audio(archive / rel)
            rec = Recording(content_hash=f"dash:{code}:{start.isoformat()}", path=rel, window_id=windows[code].id, started_at=start, channels=1)
            s.add(rec)
            s.flush()
            store_recording(s, rec, _transcript(rulebook, phone=phone), rulebook)
        import_ratings(s, DATA / "ratings" / "terminal-2026-03-02.csv", rulebook, RatingImportOptions(vendor_codes={"1": "非常不满意"}),
                       today=datetime(2026, 3, 20))
        for user, role in USERS.items():
            create_account(s, user, PASSWORD, role, staff_no=STAFF_OF.get(user), by="test", rounds=rounds)
        _attendance(s, rulebook)


def _attendance(s, rulebook) -> None:
    from models.workdays import WorkCalendar

    for staff_no, times in CHECKS.items():
        for at in times:
            save_checkin(s, CheckIn(staff_no, datetime.fromisoformat(at), CheckMethod.CARD, "T1"),
                         window_minutes=rulebook.attendance.duplicate_window_minutes)
    save_leave(s, LeaveRecord("1001", "事假", date(2026, 3, 3), date(2026, 3, 3), LeaveStatus.APPROVED, record_id="L-1"))
    classify_and_store(s, ATTENDANCE_MONTH, rulebook, WorkCalendar.from_file(None), through=ATTENDANCE_THROUGH)


def staff_id(session, staff_no: str) -> int:
    return session.scalar(select(Staff.id).where(Staff.staff_no == staff_no))


def set_env(hall: Hall, monkeypatch) -> None:
    for key, value in hall.env().items():
        monkeypatch.setenv(key, value)
    os.environ.setdefault("WINDOWQA_DASHBOARD_SESSION_MINUTES", "30")


__all__ = ["ATTENDANCE_MONTH", "ATTENDANCE_THROUGH", "CHECKS", "Hall", "populate", "PASSWORD", "PHONE", "STAFF_OF", "USERS", "build_hall", "set_env", "staff_id"]
