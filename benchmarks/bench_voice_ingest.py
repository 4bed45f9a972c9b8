"""Benchmark: what the voice checks add to ingest's transcription of a stereo recording.

Builds one stereo window recording from real clips (``../shared/data/speech``, or
``tests/data/speech`` in a clone): staff clips on channel 0, citizen clips on channel 1,
alternating with 0.6–1.5 s pauses, repeated to about ``--seconds`` of audio. Then runs ingest's
transcription (:class:`windowqa.speech.source.SpeechSource`: decode, VAD, gate, Whisper base
int8, audio kept for verification) over it, alternately without and with a voice splitter
(the d-vector engine and two voiceprints: every staff-channel utterance is embedded for the
who-is-serving check), ``--repeats`` times each, and reports the median wall times, the
overhead and the time spent in the voice engine alone, and the process's CPU seconds with and
without (on a shared machine other jobs move the wall times, hardly the CPU seconds). The store, matching and scoring are
the same with and without and are left out, so the overhead is an upper bound of ingest's.
A mono run with the split by voice is reported too (``--mono``).

Run: ``.venv/bin/python benchmarks/bench_voice_ingest.py [--seconds 60] [--repeats 2]
[--threads 2] [--mono] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr import Transcriber, WordFrequencyLM  # noqa: E402
from asr.model_files import install_whisper_base  # noqa: E402
from audio_capture import decode_audio  # noqa: E402
from audio_capture.voice import build_voice_engine  # noqa: E402
from models.settings import Settings  # noqa: E402
from windowqa.speech.source import SpeechSource  # noqa: E402
from windowqa.speech.voices import VoiceSplitter  # noqa: E402

SR = 16000
STAFF = ["kimi_asr_example", "wenet_aishell1_BAC009S0724W0121", "firered_aishell2_IT0011W0001"]
CITIZEN = ["paddle_zh", "uberi_chinese"]


def _clip_dir() -> Path:
    shared = ROOT.parent / "shared" / "data" / "speech"
    return shared if shared.is_dir() else ROOT / "tests" / "data" / "speech"


def _clip(name: str) -> np.ndarray:
    folder = _clip_dir()
    path = next(p for p in (folder / f"{name}.wav", folder / f"{name}.flac") if p.is_file())
    return decode_audio(path).samples[0]


def build_stereo(seconds: float, seed: int = 0) -> np.ndarray:
    """(n, 2) float32: staff clips on channel 0, citizen clips on channel 1, taking turns."""
    rng = np.random.default_rng(seed)
    staff, citizen = [_clip(n) for n in STAFF], [_clip(n) for n in CITIZEN]
    parts, total, k = [np.zeros((SR, 2), np.float32)], 1.0, 0
    while total < seconds:
        clip, channel = (staff[k // 2 % len(staff)], 0) if k % 2 == 0 else (citizen[k // 2 % len(citizen)], 1)
        block = np.zeros((clip.size + int(rng.uniform(0.6, 1.5) * SR), 2), np.float32)
        block[: clip.size, channel] = clip
        parts.append(block)
        total += block.shape[0] / SR
        k += 1
    return np.concatenate(parts)


class _TimedEngine:
    """The voice engine, with the seconds spent in it counted."""

    def __init__(self, engine):
        self.engine, self.seconds = engine, 0.0
        self.name, self.embedding_dim, self.block_s = engine.name, engine.embedding_dim, engine.block_s

    def embed(self, samples):
        t = time.perf_counter()
        try:
            return self.engine.embed(samples)
        finally:
            self.seconds += time.perf_counter() - t

    def embed_windows(self, samples, window_s, hop_s):
        t = time.perf_counter()
        try:
            return self.engine.embed_windows(samples, window_s, hop_s)
        finally:
            self.seconds += time.perf_counter() - t


def _run(source: SpeechSource, path: Path, channel_map, cpu: list[float] | None = None) -> tuple[float, int]:
    """Wall seconds and utterances of one run; the process's CPU seconds (every thread: Whisper's
    too) appended to ``cpu``, which other jobs on a shared machine barely move."""
    started, cpu_started = time.perf_counter(), time.process_time()
    heard = list(source(path, started_at=None, channel_map=channel_map))
    if cpu is not None:
        cpu.append(time.process_time() - cpu_started)
    return time.perf_counter() - started, len(heard)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mono", action="store_true", help="also time a mono run with the split by voice")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import soundfile as sf

    model_dir = Settings().resolved_whisper_model_dir
    install_whisper_base(model_dir)
    transcriber = Transcriber(model_dir, cpu_threads=args.threads, rescorer=WordFrequencyLM())
    engine = _TimedEngine(build_voice_engine("dvector"))
    prints = {"S1": engine.embed(_clip(STAFF[0])[: 2 * SR]), "S2": engine.embed(_clip(STAFF[1]))}
    plain = SpeechSource(transcriber)
    voiced = SpeechSource(transcriber, voice=VoiceSplitter(engine, prints))
    audio = build_stereo(args.seconds)
    stereo_map = {"0": "staff", "1": "citizen"}
    result: dict = {"audio_s": round(audio.shape[0] / SR, 1), "threads": args.threads, "repeats": args.repeats,
                    "clips": {"staff": STAFF, "citizen": CITIZEN, "folder": str(_clip_dir())}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stereo.flac"
        sf.write(str(path), audio, SR)
        transcriber.transcribe_segment(audio[: 5 * SR, 0])  # warm-up
        times: dict[str, list[float]] = {"without": [], "with": []}
        cpu: dict[str, list[float]] = {"without": [], "with": []}
        engine_s: list[float] = []
        for _ in range(args.repeats):
            times["without"].append(_run(plain, path, stereo_map, cpu["without"])[0])
            engine.seconds = 0.0
            seconds, utterances = _run(voiced, path, stereo_map, cpu["with"])
            times["with"].append(seconds)
            engine_s.append(engine.seconds)
        without, with_voice = statistics.median(times["without"]), statistics.median(times["with"])
        result.update({
            "utterances": utterances, "without_s": round(without, 2), "with_s": round(with_voice, 2),
            "runs_s": {k: [round(t, 2) for t in v] for k, v in times.items()},
            "voice_engine_s": round(statistics.median(engine_s), 2),
            "overhead_pct": round(100 * (with_voice - without) / without, 1),
            "engine_pct_of_without": round(100 * statistics.median(engine_s) / without, 1),
            "cpu_s": {k: [round(t, 2) for t in v] for k, v in cpu.items()},
            "cpu_overhead_pct": round(100 * (statistics.median(cpu["with"]) - statistics.median(cpu["without"]))
                                      / statistics.median(cpu["without"]), 1),
        })
        if args.mono:
            mono_path = Path(tmp) / "mono.flac"
            sf.write(str(mono_path), audio.sum(axis=1), SR)
            plain_s, _ = _run(plain, mono_path, None)
            engine.seconds = 0.0
            split_s, _ = _run(voiced, mono_path, None)
            result["mono"] = {"without_s": round(plain_s, 2), "with_split_s": round(split_s, 2),
                              "voice_engine_s": round(engine.seconds, 2),
                              "overhead_pct": round(100 * (split_s - plain_s) / plain_s, 1)}
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
