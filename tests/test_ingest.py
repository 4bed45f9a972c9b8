"""windowqa ingest (recorded transcripts): idempotent by content hash, bad files recorded, a killed ingest resumed."""

from __future__ import annotations

import os
from select import select as wait_readable
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from _store_support import (  # noqa: F401
    DATA,
    RecordedMatcher,
    RecordedTranscriber,
    any_factory,
    day_files,
    db_url,
    dump_results,
    factory,
    pg_url,
    rulebook,
    sqlite_url,
)
from models.db import Flag, FlagKind, Interaction, Rating, RatingLinkStatus, Recording, RecordingStatus, open_database
from scoring.store.ratings import RatingImportOptions, import_ratings
from scoring.store.site import load_site
from windowqa.ingest import IngestError, IngestOptions, ingest, start_from_name

DAYS = [datetime(2026, 3, d, 9, 0, 0) for d in (2, 3, 4, 5, 6, 9)]


def _run(factory, rulebook, files, archive, **kw):
    return ingest(
        files,
        IngestOptions(window="A03", archive_dir=archive, progress=False, **kw),
        session_factory=factory,
        transcribe=RecordedTranscriber(),
        matcher=RecordedMatcher(rulebook),
        rulebook=rulebook,
    )


def test_ingest_twice_changes_nothing(any_factory, rulebook, tmp_path):
    with any_factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
        import_ratings(s, DATA / "ratings" / "terminal-2026-03-02.csv", rulebook, RatingImportOptions(vendor_codes={"1": "非常不满意"}))
    files = day_files(tmp_path / "in", DAYS[:3])
    first = _run(any_factory, rulebook, files, tmp_path / "archive")
    assert [f.status for f in first.files] == ["done"] * 3 and first.utterances == 3 * 34
    with any_factory() as s:
        before = dump_results(s)
        # ratings imported before the recordings are linked by the ingest
        assert s.scalar(select(func.count()).select_from(Rating).where(Rating.link_status == RatingLinkStatus.LINKED)) == 4
        # the substitute of the 3rd (李强) gets that morning's interactions
        staff = {i.started_at.date().day: i.staff.staff_no for i in s.scalars(select(Interaction)) if i.seq == 0}
        assert staff == {2: "1001", 3: "1002", 4: "1001"}
    assert sorted(p.relative_to(tmp_path / "archive").as_posix() for p in (tmp_path / "archive").rglob("*.jsonl")) == [
        "A03/2026-03-02/A03_20260302-090000.jsonl", "A03/2026-03-03/A03_20260303-090000.jsonl", "A03/2026-03-04/A03_20260304-090000.jsonl",
    ]
    renamed = tmp_path / "copy_A03_20260302-090000.jsonl"
    renamed.write_bytes(files[0].read_bytes())
    again = _run(any_factory, rulebook, [*files, renamed], tmp_path / "archive")
    assert [f.status for f in again.files] == ["skipped"] * 4
    with any_factory() as s:
        assert dump_results(s) == before


def test_bad_files_are_recorded_as_failed_and_the_batch_goes_on(factory, rulebook, tmp_path):
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
    good = day_files(tmp_path, DAYS[:1])[0]
    no_time = tmp_path / "counter-a03.jsonl"
    no_time.write_bytes(good.read_bytes() + b"\n")
    broken = tmp_path / "A03_20260303-090000.jsonl"
    broken.write_text('{"start_s": 0, "end_s": 1, "role": "staff", "text": "您好"}\n{"start_s": 1, "end_', encoding="utf-8")
    report = _run(factory, rulebook, [no_time, tmp_path / "missing.wav", broken, good], None)
    assert [f.status for f in report.files] == ["failed", "failed", "failed", "done"]
    assert "no start time" in report.files[0].reason and report.files[1].reason == "file not found"
    assert report.files[2].reason.startswith("JSONDecodeError")
    with factory() as s:
        rows = {Path(r.path).name: r for r in s.scalars(select(Recording))}
        assert rows["counter-a03.jsonl"].status is RecordingStatus.FAILED and "no start time" in rows["counter-a03.jsonl"].failure_reason
        assert rows["A03_20260303-090000.jsonl"].status is RecordingStatus.FAILED
        assert rows[good.name].status is RecordingStatus.DONE
        assert s.scalar(select(func.count()).select_from(Interaction)) == 7


def test_options_are_checked_before_anything_runs(factory, rulebook, tmp_path):
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
    files = day_files(tmp_path, DAYS[:2])
    with pytest.raises(IngestError, match="one recording"):
        _run(factory, rulebook, files, None, start=DAYS[0])
    with pytest.raises(IngestError, match="unknown window 'Z9'"):
        ingest(files, IngestOptions(window="Z9", progress=False), session_factory=factory, transcribe=RecordedTranscriber(), matcher=RecordedMatcher(rulebook), rulebook=rulebook)
    assert start_from_name(Path("A03_2026-03-02T09-15-30.wav")) == datetime(2026, 3, 2, 9, 15, 30)
    assert start_from_name(Path("window3.wav")) is None


def test_killed_ingest_resumed_gives_identical_results(tmp_path, rulebook):
    files = day_files(tmp_path / "in", DAYS)
    urls = {name: f"sqlite:///{tmp_path / (name + '.db')}" for name in ("reference", "killed")}
    for url in urls.values():
        with open_database(url)() as s, s.begin():
            load_site(s, DATA / "site" / "hall.toml", rulebook)
    reference = open_database(urls["reference"])
    _run(reference, rulebook, files, tmp_path / "archive-ref")

    stored = 2  # the child stops while analysing the 3rd file, after storing the first two
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_ingest_child.py")), urls["killed"], str(tmp_path / "archive-killed"), str(stored), *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        ready, _, _ = wait_readable([child.stdout], [], [], 120)
        line = child.stdout.readline().decode() if ready else ""
        assert line.strip() == f"stored {stored}", (line, child.poll(), child.stderr.read().decode() if child.poll() is not None else "")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    killed = open_database(urls["killed"])
    with killed() as s:
        statuses = [r.status for r in s.scalars(select(Recording).order_by(Recording.id))]
        # the killed file's recording was committed as pending before its analysis; no rows of it
        assert statuses == [RecordingStatus.DONE] * stored + [RecordingStatus.PENDING]
        assert s.scalar(select(func.count()).select_from(Interaction)) == stored * 7
    resumed = _run(killed, rulebook, files, tmp_path / "archive-killed")
    assert [f.status for f in resumed.files] == ["skipped"] * stored + ["done"] * (len(files) - stored)
    with reference() as a, killed() as b:
        assert dump_results(a) == dump_results(b)
        assert b.scalar(select(func.count()).select_from(Flag).where(Flag.kind == FlagKind.FORBIDDEN)) == len(files)
