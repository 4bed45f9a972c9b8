"""Scheduled jobs on a real SQLite store with real files on disk, from the command line and as a
Celery task through a real Redis broker and a real ``windowqa worker`` process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from _store_support import DATA, add_site, any_factory, db_url, factory, pg_url, rulebook, sqlite_url, store_fixture  # noqa: F401
from models.attendance_db import AttendanceMonthRow
from models.db import (
    AuditLog,
    Flag,
    FlagKind,
    FlagStatus,
    Interaction,
    Recording,
    RecordingStatus,
    Review,
    ReviewDecision,
    ReviewKind,
    RuleHitRow,
    Utterance,
)
from models.settings import Settings
from scoring.store import raise_flag
from windowqa.cli import app
from windowqa.jobs import JobRun, audio_file, run_job

NOW = datetime(2026, 9, 20, 2, 30)
OLD = NOW - timedelta(days=200)  # past the 180 days of retention
RECENT = NOW - timedelta(days=10)
runner = CliRunner()


def _settings(tmp_path: Path, url: str, **extra) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=url, archive_dir=tmp_path / "archive", **extra)


def _recording(s, rulebook, site, tmp_path: Path, name: str, start: datetime) -> Recording:
    """A stored fixture transcript whose audio is a real file of ``tmp_path``."""
    rec, _ = store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=start, content_hash=name)
    audio = tmp_path / "archive" / f"{name}.opus"
    audio.parent.mkdir(parents=True, exist_ok=True)
    audio.write_bytes(name.encode() * 1000)
    # ingest stores an archived file relative to the archive folder, a file left in place absolute
    rec.path = audio.name if name in ("closed", "open") else str(audio)
    rec.status = RecordingStatus.DONE
    return rec


def _hall(factory, rulebook, tmp_path: Path) -> dict[str, int]:
    """Four recordings: old ones whose flags are closed, open, or appealed; and a recent one."""
    with factory() as s, s.begin():
        site = add_site(s, day=OLD)
        recs = {name: _recording(s, rulebook, site, tmp_path, name, start)
                for name, start in (("closed", OLD), ("open", OLD), ("appealed", OLD + timedelta(hours=2)), ("recent", RECENT))}
        s.flush()
        for flag in s.scalars(select(Flag)):  # what scoring raised: all decided
            flag.status = FlagStatus.CONFIRMED
        first = {name: s.scalars(select(Interaction).where(Interaction.recording_id == r.id).order_by(Interaction.seq)).first()
                 for name, r in recs.items()}
        # an open flag on an interaction of "open"; a confirmed one under appeal on an utterance of "appealed"
        raise_flag(s, "test:open", FlagKind.FORBIDDEN, raised_at=OLD, summary="open", evidence={}, interaction_id=first["open"].id)
        utterance = s.scalars(select(Utterance).where(Utterance.recording_id == recs["appealed"].id)).first()
        appealed, _ = raise_flag(s, "test:appealed", FlagKind.FORBIDDEN, raised_at=OLD, summary="appealed", evidence={},
                                 utterance_id=utterance.id)
        appealed.status = FlagStatus.CONFIRMED
        s.flush()  # the flag's id for its appeal
        s.add(Review(kind=ReviewKind.APPEAL, flag_id=appealed.id, decision=ReviewDecision.PENDING, comment="申诉"))
        # a closed flag on "closed" holds nothing
        raise_flag(s, "test:closed", FlagKind.FORBIDDEN, raised_at=OLD, summary="closed", evidence={}, recording_id=recs["closed"].id)
        s.scalars(select(Flag).where(Flag.dedupe_key == "test:closed")).one().status = FlagStatus.DISMISSED
        return {name: r.id for name, r in recs.items()}


def _counts(factory) -> tuple[int, ...]:
    with factory() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Recording, Utterance, Interaction, RuleHitRow, Flag, Review))


def _audio(factory, ids: dict[str, int], archive: Path) -> dict[str, tuple[bool, bool]]:
    """Per recording: (file on disk, audio_deleted_at set)."""
    with factory() as s:
        recs = {name: s.get(Recording, rid) for name, rid in ids.items()}
        return {name: (audio_file(r.path, archive).exists(), r.audio_deleted_at is not None) for name, r in recs.items()}


def test_retention_deletes_closed_audio_keeps_flagged_and_recent(any_factory, rulebook, tmp_path, db_url):
    factory = any_factory
    ids = _hall(factory, rulebook, tmp_path)
    before = _counts(factory)
    run = JobRun(factory, _settings(tmp_path, db_url), rulebook, NOW)
    result = run_job("retention", run)
    assert result.ok and result.options.retention_days == 180 and len(result.deleted) == 1
    assert sorted(result.held) == sorted([ids["open"], ids["appealed"]])
    assert _audio(factory, ids, tmp_path / "archive") == {"closed": (False, True), "open": (True, False), "appealed": (True, False), "recent": (True, False)}
    assert _counts(factory) == before  # rows, transcripts, hits, interactions, flags, reviews: all stay
    # the flags close (the appeal decided): the next run deletes their audio too
    with factory() as s, s.begin():
        s.scalars(select(Flag).where(Flag.dedupe_key == "test:open")).one().status = FlagStatus.DISMISSED
        s.scalars(select(Review)).one().decision = ReviewDecision.CONFIRM
    again = run_job("retention", run)
    assert len(again.deleted) == 2 and not again.held
    assert _audio(factory, ids, tmp_path / "archive") == {"closed": (False, True), "open": (False, True), "appealed": (False, True), "recent": (True, False)}
    assert _counts(factory) == before
    with factory() as s:
        audits = s.scalars(select(AuditLog).where(AuditLog.action == "job.retention").order_by(AuditLog.id)).all()
    assert [(a.actor, a.detail["deleted"], len(a.detail["held"])) for a in audits] == [("jobs", 1, 2), ("jobs", 2, 0)]


def test_consistency_lists_stuck_failed_and_missing(factory, rulebook, tmp_path, sqlite_url):
    ids = _hall(factory, rulebook, tmp_path)
    run = JobRun(factory, _settings(tmp_path, sqlite_url), rulebook, NOW)
    assert run_job("consistency", run).ok
    run_job("retention", run)  # a file deleted by retention is not "missing"
    with factory() as s, s.begin():
        s.add(Recording(content_hash="stuck", path=str(tmp_path / "archive" / "recent.opus"), status=RecordingStatus.PENDING,
                        created_at=NOW - timedelta(hours=7)))
        s.add(Recording(content_hash="young", path=str(tmp_path / "archive" / "recent.opus"), status=RecordingStatus.PENDING,
                        created_at=NOW - timedelta(hours=1)))
        s.add(Recording(content_hash="bad", path=str(tmp_path / "archive" / "open.opus"), status=RecordingStatus.FAILED,
                        failure_reason="cannot decode", created_at=NOW))
        appealed_audio = Path(s.get(Recording, ids["appealed"]).path)
    appealed_audio.unlink()  # gone behind the store's back
    result = run_job("consistency", run)
    assert not result.ok and result.checked == 7
    assert sorted((p.problem, p.reason) for p in result.problems) == [
        ("failed", "cannot decode"), ("missing_file", ""), ("stuck", "")]
    missing = next(p for p in result.problems if p.problem == "missing_file")
    assert missing.recording_id == ids["appealed"] and missing.window == "A03"


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WINDOWQA_DATABASE_URL", raising=False)
    return tmp_path


def test_cron_runs_overdue_followups_and_attendance_day(cli_home, rulebook):
    from models.db import open_database
    from scoring.store.ratings import RatingImportOptions, import_ratings

    factory = open_database(Settings())
    with factory() as s, s.begin():
        site = add_site(s, day=datetime(2026, 3, 2))
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=datetime(2026, 3, 2, 9))
        codes = RatingImportOptions(vendor_codes={"5": "非常满意", "4": "满意", "3": "基本满意", "2": "不满意", "1": "非常不满意"})
        import_ratings(s, DATA / "ratings" / "terminal-2026-03-02.csv", rulebook, codes, today=datetime(2026, 3, 3))
    early = runner.invoke(app, ["jobs", "run", "overdue-followups", "--at", "2026-03-09T07:30"])
    assert early.exit_code == 0 and "0 new overdue" in early.output, early.output
    late = runner.invoke(app, ["jobs", "run", "overdue-followups", "--at", "2026-03-20T07:30"])
    assert late.exit_code == 0 and "new overdue follow-up flag(s)" in late.output and "0 new" not in late.output, late.output
    day = runner.invoke(app, ["jobs", "run", "attendance-day", "--at", "2026-03-02T23:30"])
    assert day.exit_code == 0 and day.output.startswith("2026-03: classified through 2026-03-02"), day.output
    with factory() as s:
        assert s.scalar(select(AttendanceMonthRow.through).where(AttendanceMonthRow.month == "2026-03")) == date(2026, 3, 2)
        assert s.scalar(select(func.count()).select_from(Flag).where(Flag.kind == FlagKind.OVERDUE_FOLLOW_UP)) > 0
        actions = s.scalars(select(AuditLog.action).where(AuditLog.actor == "jobs").order_by(AuditLog.id)).all()
    assert actions == ["job.overdue-followups", "job.overdue-followups", "job.attendance-day"]
    unknown = runner.invoke(app, ["jobs", "run", "vacuum"])
    assert unknown.exit_code == 2 and "no job 'vacuum'" in unknown.output


def test_beat_schedule_covers_every_job():
    from windowqa.jobs import JOBS
    from windowqa.worker import RUN_JOB_TASK, beat_schedule

    schedule = beat_schedule(Settings())
    assert sorted(entry["args"][0] for entry in schedule.values()) == sorted(JOBS)
    assert {entry["task"] for entry in schedule.values()} == {RUN_JOB_TASK}
    with pytest.raises(ValueError, match="no job"):
        beat_schedule(Settings(job_schedule={"vacuum": "03:00"}))


def test_celery_app_acknowledges_late_and_retries_a_bounded_number_of_times():
    from windowqa.worker import RUN_JOB_TASK, make_celery

    celery_app = make_celery(Settings(broker_url="redis://127.0.0.1:1/0", worker_concurrency=3, task_max_retries=2))
    conf = celery_app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.task_ignore_result) == (True, True, True)
    assert conf.worker_concurrency == 3 and conf.broker_url == "redis://127.0.0.1:1/0"
    assert celery_app.tasks[RUN_JOB_TASK].max_retries == 2


# ---------------------------------------------------------------------------- through Celery


def _windowqa() -> str:
    script = Path(sys.executable).with_name("windowqa")
    return str(script) if script.exists() else shutil.which("windowqa") or "windowqa"


@pytest.mark.redis
@pytest.mark.timeout(180)
def test_retention_as_a_celery_task_in_a_worker_process(factory, rulebook, tmp_path, sqlite_url, redis_url):
    from windowqa.worker import RUN_JOB_TASK, make_celery

    ids = _hall(factory, rulebook, tmp_path)
    env = {**os.environ, "WINDOWQA_BROKER_URL": redis_url, "WINDOWQA_DATABASE_URL": sqlite_url,
           "WINDOWQA_DATA_DIR": str(tmp_path / "data"), "WINDOWQA_ARCHIVE_DIR": str(tmp_path / "archive"), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([_windowqa(), "worker", "--pool", "solo", "--hostname", f"test-{os.getpid()}@localhost"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        producer = make_celery(_settings(tmp_path, sqlite_url, broker_url=redis_url))
        producer.send_task(RUN_JOB_TASK, args=["retention", NOW.isoformat()])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and worker.poll() is None:
            with factory() as s:
                if s.scalar(select(AuditLog.id).where(AuditLog.action == "job.retention")):
                    break
            time.sleep(0.5)
        else:
            pytest.fail(f"no retention run within 120 s:\n{(tmp_path / 'worker.log').read_text()}")
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown: the task at hand finishes first
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
    assert f"Task {RUN_JOB_TASK}" in (tmp_path / "worker.log").read_text()  # run by the worker, not in this process
    assert _audio(factory, ids, tmp_path / "archive") == {"closed": (False, True), "open": (True, False), "appealed": (True, False), "recent": (True, False)}
