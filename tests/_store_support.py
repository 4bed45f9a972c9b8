"""Shared fixtures and helpers of the store/scoring tests (imported by tests/test_store_*.py, test_scoring_*.py).

Databases are real: a SQLite file in tmp_path, and PostgreSQL from ``WINDOWQA_TEST_PG_URL``
(``.ci/run`` starts one). Each PostgreSQL test gets its own schema. With ``CI=true`` a missing
or unreachable server fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from models.db import Department, RosterEntry, Staff, Substitution, Window, init_db, make_engine, make_session_factory
from models.domain import MatchMethod, Role, RuleFamily, RuleHit, Utterance
from models.rulebook import load_rulebook
from scoring.segment import MatchedUtterance

DATA = Path(__file__).parent / "data"
TRANSCRIPTS = DATA / "transcripts"


@pytest.fixture(scope="session")
def rulebook():
    return load_rulebook()


def _pg_url_or_fail() -> str:
    url = os.environ.get("WINDOWQA_TEST_PG_URL")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but WINDOWQA_TEST_PG_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("WINDOWQA_TEST_PG_URL not set (run: eval \"$(bash scripts/pg-test-server.sh start)\")")
    return url


@pytest.fixture
def pg_url():
    """A URL to a fresh, empty schema on the test PostgreSQL server; dropped afterwards."""
    base = _pg_url_or_fail()
    base = base.replace("postgresql://", "postgresql+psycopg://", 1) if base.startswith("postgresql://") else base
    schema = f"t_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:12]}"  # the worker's name helps read a leftover
    try:
        admin = create_engine(base)
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {base} not reachable: {exc}")
        pytest.skip(f"PostgreSQL at {base} not reachable: {exc}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'windowqa.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request):
    """Both real databases: a SQLite file and a PostgreSQL schema."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def factory(sqlite_url):
    engine = init_db(make_engine(sqlite_url))
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def any_factory(db_url):
    engine = init_db(make_engine(db_url))
    yield make_session_factory(engine)
    engine.dispose()


def load_transcript(name: str, rulebook, *, window: str | None = None) -> list[MatchedUtterance]:
    """A fixture transcript as the scorer takes it: hits built from the annotated rule ids."""
    items = []
    lines = (TRANSCRIPTS / name).read_text(encoding="utf-8").splitlines()
    for seq, line in enumerate(l for l in lines if l.strip()):
        row = json.loads(line)
        u = Utterance(text=row["text"], role=Role(row["role"]), start_s=row["start_s"], end_s=row["end_s"], window=window)
        hits = tuple(
            RuleHit(rid, rulebook.rule(rid).family, 1.0, 0, len(row["text"]), MatchMethod.EXACT, rulebook.version) for rid in row["hits"]
        )
        abuse = (RuleHit("citizen.abuse", RuleFamily.FORBIDDEN, 1.0, 0, len(row["text"]), MatchMethod.EXACT, rulebook.version),) if row.get("abuse") else ()
        items.append(MatchedUtterance(seq, u, hits, abuse))
    return items


def add_site(session, *, day: datetime) -> dict:
    """A small hall: one department, windows A03 and B01, three staff, a day's roster at A03."""
    dept = Department(code="SCJG", name="市场监管")
    a03 = Window(code="A03", name="企业开办", department=dept)
    b01 = Window(code="B01", name="社保", department=dept)
    zhang = Staff(staff_no="1001", name="张敏", department=dept, windows=[a03])
    li = Staff(staff_no="1002", name="李强", department=dept, windows=[a03, b01])
    wang = Staff(staff_no="1003", name="王芳", department=dept, windows=[b01])
    session.add_all([dept, a03, b01, zhang, li, wang])
    session.flush()
    d = day.replace(hour=0, minute=0, second=0, microsecond=0)
    session.add_all(
        [
            RosterEntry(window_id=a03.id, staff_id=zhang.id, starts_at=d.replace(hour=8, minute=30), ends_at=d.replace(hour=12)),
            RosterEntry(window_id=a03.id, staff_id=zhang.id, starts_at=d.replace(hour=13, minute=30), ends_at=d.replace(hour=17, minute=30)),
            RosterEntry(window_id=b01.id, staff_id=wang.id, starts_at=d.replace(hour=8, minute=30), ends_at=d.replace(hour=17, minute=30)),
        ]
    )
    session.flush()
    return {"dept": dept, "A03": a03, "B01": b01, "zhang": zhang, "li": li, "wang": wang}


__all__ = [
    "DATA",
    "Substitution",
    "add_site",
    "any_factory",
    "db_url",
    "factory",
    "load_transcript",
    "pg_url",
    "rulebook",
    "sqlite_url",
    "store_fixture",
    "RecordedMatcher",
    "RecordedTranscriber",
    "day_files",
    "dump_results",
]


def store_fixture(session, rulebook, name: str, *, window, start: datetime, content_hash: str | None = None):
    """Store a fixture transcript as a recording of ``window`` starting at ``start``."""
    from models.db import Recording
    from scoring.store import store_recording

    recording = Recording(content_hash=content_hash or f"fixture:{name}:{window.code}:{start.isoformat()}", path=f"{window.code}/{name}", window_id=window.id, started_at=start)
    session.add(recording)
    session.flush()
    return recording, store_recording(session, recording, load_transcript(name, rulebook), rulebook)


class RecordedTranscriber:
    """Transcription replayed from a recorded transcript file (JSON lines, as in tests/data/transcripts).

    The "audio" file given to ingest is the transcript itself; lines with a ``"#"`` key are
    comments (they make copies of one transcript differ in content).
    """

    def __call__(self, path, *, started_at=None, channel_map=None):
        from datetime import timedelta

        from windowqa.utterance_stream import HeardUtterance

        out = []
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if "#" in row:
                continue
            at = started_at + timedelta(seconds=row["start_s"]) if started_at else None
            utterance = Utterance(text=row["text"], role=Role(row.get("role", "unknown")), start_s=row["start_s"], end_s=row["end_s"], started_at=at)
            out.append(HeardUtterance(utterance))
        return out


class RecordedMatcher:
    """Matcher results replayed from the transcripts' annotations (text -> rule ids)."""

    def __init__(self, rulebook):
        self.rulebook = rulebook
        self.hits: dict[str, list[str]] = {}
        self.abuse: set[str] = set()
        for path in TRANSCRIPTS.glob("*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.hits[row["text"]] = row.get("hits", [])  # some transcripts annotate situations only
                    if row.get("abuse"):
                        self.abuse.add(row["text"])

    def match_many(self, utterances):
        rb = self.rulebook
        return [
            [RuleHit(r, rb.rule(r).family, 1.0, 0, len(u.text), MatchMethod.EXACT, rb.version) for r in self.hits.get(u.text, [])]
            for u in utterances
        ]

    def citizen_abuse(self, utterance):
        if utterance.text in self.abuse:
            return [RuleHit("citizen.abuse", RuleFamily.FORBIDDEN, 1.0, 0, len(utterance.text), MatchMethod.EXACT, self.rulebook.version)]
        return []


def day_files(folder: Path, days: list[datetime], *, window: str = "A03", name: str = "window-a03-morning.jsonl") -> list[Path]:
    """Copies of a transcript as one "recording" per day, the start time in the file name."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (TRANSCRIPTS / name).read_text(encoding="utf-8")
    files = []
    for day in days:
        path = folder / f"{window}_{day:%Y%m%d-%H%M%S}.jsonl"
        path.write_text(json.dumps({"#": f"{window} {day.isoformat()}"}) + "\n" + text, encoding="utf-8")
        files.append(path)
    return files


def dump_results(session) -> dict:
    """Everything ingest derives, keyed by content (not by row ids), for comparing two stores."""
    from sqlalchemy import select

    from models.db import Flag, Interaction, Recording, RuleHitRow, Utterance as U

    rec = {r.id: r.content_hash for r in session.scalars(select(Recording))}
    utt = {u.id: (rec[u.recording_id], u.seq) for u in session.scalars(select(U))}
    inter = {i.id: (rec[i.recording_id], i.seq) for i in session.scalars(select(Interaction))}
    return {
        "recordings": sorted((r.content_hash, r.status.value, r.started_at, r.path) for r in session.scalars(select(Recording))),
        "utterances": sorted((utt[u.id], u.text, u.role.value, u.staff_id, u.started_at, inter.get(u.interaction_id)) for u in session.scalars(select(U))),
        "interactions": sorted(
            (inter[i.id], i.score, json.dumps(i.explanation, ensure_ascii=False), i.staff_id, i.started_at, i.ended_at, i.split_reason)
            for i in session.scalars(select(Interaction))
        ),
        "hits": sorted((utt[h.utterance_id], h.rule_id, h.method.value, inter.get(h.interaction_id)) for h in session.scalars(select(RuleHitRow))),
        "flags": sorted((f.dedupe_key.split(":")[0], f.kind.value, f.summary, inter.get(f.interaction_id)) for f in session.scalars(select(Flag))),
    }
