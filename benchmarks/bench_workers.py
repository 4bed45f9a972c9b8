"""Queued ingest on Celery workers against in-process ingest of the same recordings.

A simulated hall (the demo's generator: stereo window recordings of real-voice TTS dialogue with
hall noise) is ingested three ways into fresh SQLite stores, every process with one CPU thread:

* ``in-process``: ``windowqa ingest FILES --window W`` per window, one after the other;
* ``1 worker``: ``windowqa worker --concurrency 1`` and ``windowqa ingest ... --queue``;
* ``2 workers``: the same with ``--concurrency 2`` (two worker processes).

Each figure is audio hours processed per wall-clock hour, timed from the first command to the last
recording stored (engine loading included in every mode: one model per process). The queue's
overhead is ``1 worker`` against ``in-process``: same cores, same work, plus the broker, the job
rows and the per-task window-day lock. A throw-away Redis is started unless ``--broker-url`` names one.

    .venv/bin/python benchmarks/bench_workers.py                    # 4 windows x 12 interactions, 2 runs
    .venv/bin/python benchmarks/bench_workers.py --size 2x6 --runs 1  # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _windowqa() -> str:
    script = Path(sys.executable).with_name("windowqa")
    return str(script) if script.exists() else shutil.which("windowqa") or "windowqa"


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([_windowqa(), *args], env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"windowqa {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _env(work: Path, name: str, broker_url: str, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "WINDOWQA_DATABASE_URL": f"sqlite:///{work / name}.db", "WINDOWQA_BROKER_URL": broker_url,
            "WINDOWQA_DATA_DIR": str(data_dir), "WINDOWQA_ARCHIVE_DIR": str(work / f"archive-{name}"),
            "WINDOWQA_WHISPER_MODEL_DIR": str(_model_dir()), "WINDOWQA_CPU_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _model_dir() -> Path:
    """The installed Whisper model (``windowqa models install``), shared by every mode."""
    from models.settings import Settings

    return Settings().resolved_whisper_model_dir


def _start_redis(work: Path) -> tuple[str, Path]:
    folder = work / "redis"
    out = subprocess.run(["bash", str(ROOT / "scripts" / "redis-test-server.sh"), "start", str(folder)],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1], folder


def _finished(env: dict[str, str]) -> tuple[int, int]:
    """(finished jobs, dead jobs) in the store of ``env``."""
    from sqlalchemy import func, select

    from models.db import IngestJob, JobState, make_engine, make_session_factory

    engine = make_engine(env["WINDOWQA_DATABASE_URL"])
    try:
        with make_session_factory(engine)() as s:
            done = s.scalar(select(func.count()).select_from(IngestJob).where(IngestJob.state.in_([JobState.DONE, JobState.DEAD])))
            dead = s.scalar(select(func.count()).select_from(IngestJob).where(IngestJob.state == JobState.DEAD))
    finally:
        engine.dispose()
    return int(done or 0), int(dead or 0)


def _utterances(env: dict[str, str]) -> int:
    from sqlalchemy import func, select

    from models.db import Utterance, make_engine, make_session_factory

    engine = make_engine(env["WINDOWQA_DATABASE_URL"])
    try:
        with make_session_factory(engine)() as s:
            return int(s.scalar(select(func.count()).select_from(Utterance)) or 0)
    finally:
        engine.dispose()


def in_process(work: Path, name: str, by_window: dict[str, list[Path]], site: Path, broker_url: str, data_dir: Path) -> tuple[float, int]:
    env = _env(work, name, broker_url, data_dir)
    _run(env, "site", "load", str(site))
    start = time.perf_counter()
    for window, paths in by_window.items():
        _run(env, "ingest", *map(str, paths), "--window", window)
    return time.perf_counter() - start, _utterances(env)


def queued(work: Path, name: str, by_window: dict[str, list[Path]], site: Path, broker_url: str, data_dir: Path,
           concurrency: int, timeout_s: float) -> tuple[float, int]:
    env = _env(work, name, broker_url, data_dir)
    _run(env, "site", "load", str(site))
    log = work / f"{name}.log"
    node = ["worker", "--pool", "prefork", "--concurrency", str(concurrency), "--hostname", f"bench-{name}-{os.getpid()}@localhost"]
    with log.open("w") as out:
        worker = subprocess.Popen([_windowqa(), *node], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=work)
    try:
        start = time.perf_counter()
        for window, paths in by_window.items():
            _run(env, "ingest", *map(str, paths), "--window", window, "--queue")
        total = sum(len(p) for p in by_window.values())
        while _finished(env)[0] < total:
            if worker.poll() is not None or time.perf_counter() - start > timeout_s:
                raise SystemExit(f"{name}: worker stopped or timed out:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
    return elapsed, _utterances(env)


def _hall(work: Path, size: str, seed: int) -> tuple[dict[str, list[Path]], Path, float]:
    import soundfile as sf

    from windowqa.demo.simulator import HallSize, SimOptions, generate_hall

    hall = generate_hall(work / "hall", SimOptions(seed=seed, size=HallSize.parse(size)))
    by_window: dict[str, list[Path]] = {}
    for rec in hall.truth.recordings:
        by_window.setdefault(rec.window, []).append(work / "hall" / rec.path)
    audio_s = sum(sf.info(str(p)).duration for paths in by_window.values() for p in paths)
    return by_window, work / "hall" / "site.toml", audio_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="4x12", help="demo hall size WxN[xD] (default 4x12)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--runs", type=int, default=2, help="repeats of every mode (ranges are reported)")
    parser.add_argument("--broker-url", default=None, help="an existing Redis (default: a throw-away one)")
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from models.rulebook import load_rulebook
    from models.settings import Settings
    from windowqa.engines import site_matcher

    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    redis_dir = None
    try:
        broker_url = args.broker_url
        if broker_url is None:
            broker_url, redis_dir = _start_redis(work)
        by_window, site, audio_s = _hall(work, args.size, args.seed)
        data_dir = work / "data"
        site_matcher(Settings(data_dir=data_dir), load_rulebook(None))  # the classifier cache, trained before timing
        files = sum(len(p) for p in by_window.values())
        print(f"hall {args.size} seed {args.seed}: {files} recordings, {audio_s / 60:.1f} min of audio; load {os.getloadavg()[0]:.1f}",
              file=sys.stderr)
        times: dict[str, list[float]] = {"in-process": [], "1 worker": [], "2 workers": []}
        utterances: dict[str, set[int]] = {k: set() for k in times}
        for run in range(args.runs):
            for mode in times:
                name = f"{mode.replace(' ', '-')}-{run}"
                if mode == "in-process":
                    elapsed, n = in_process(work, name, by_window, site, broker_url, data_dir)
                else:
                    elapsed, n = queued(work, name, by_window, site, broker_url, data_dir, int(mode[0]), args.timeout_s)
                times[mode].append(elapsed)
                utterances[mode].add(n)
                print(f"run {run + 1} {mode}: {elapsed:.1f} s, {n} utterances; load {os.getloadavg()[0]:.1f}", file=sys.stderr)
        rate = {mode: [audio_s / t for t in ts] for mode, ts in times.items()}  # audio hours per wall-clock hour
        overhead = [q / p - 1 for q, p in zip(times["1 worker"], times["in-process"])]
        report = {"size": args.size, "seed": args.seed, "recordings": files, "audio_min": round(audio_s / 60, 2),
                  "runs": args.runs, "wall_s": {m: [round(t, 1) for t in ts] for m, ts in times.items()},
                  "audio_h_per_h": {m: [round(r, 1) for r in rs] for m, rs in rate.items()},
                  "queue_overhead": [round(o, 4) for o in overhead],
                  "utterances": {m: sorted(n) for m, n in utterances.items()}, "cpus": os.cpu_count()}
        if args.json:
            print(json.dumps(report, ensure_ascii=False))
            return
        print(f"{'mode':<12}{'wall s':>18}{'audio h / h':>18}")
        for mode in times:
            ts, rs = times[mode], rate[mode]
            print(f"{mode:<12}{min(ts):>8.1f}–{max(ts):<8.1f}{min(rs):>8.1f}–{max(rs):<8.1f}")
        print(f"queue overhead (1 worker vs in-process): {min(overhead):+.1%} to {max(overhead):+.1%}"
              f" (median {statistics.median(overhead):+.1%})")
        print(f"utterances stored per mode: {report['utterances']}")
    finally:
        if redis_dir is not None:
            subprocess.run(["bash", str(ROOT / "scripts" / "redis-test-server.sh"), "stop", str(redis_dir)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
