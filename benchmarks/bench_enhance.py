"""Benchmark: VoiceFilter-Lite on the staff voice in hall babble, CER with and without.

Each dev clip (``../shared/data/speech``, or ``tests/data/speech`` in a clone; the transcripts
of its ``manifest.tsv``) is mixed with babble at ``--snr-db`` (10 dB): ``--talkers`` other
clips of the set, each at a random offset and looped, summed and scaled so that the clip's
RMS over the babble's is the SNR. Whisper (base int8, as ingest) transcribes the mix as it is
and after :class:`audio_capture.enhance.VoiceFilterLite` conditioned on the clip speaker's
d-vector. The set has one clip per speaker, so the d-vector comes from the clean clip itself
(an oracle enrolment: the best the conditioning can be); ``--enrol-s`` limits it to the clip's
first seconds. Reports CER per clip and pooled, with and without, and the enhancer's RTF.

Run: ``.venv/bin/python benchmarks/bench_enhance.py [--snr-db 10] [--talkers 3] [--seeds 0 1]
[--threads 2] [--json out.json]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr import Transcriber, WordFrequencyLM  # noqa: E402
from asr.metrics import cer_counts  # noqa: E402
from asr.model_files import install_whisper_base  # noqa: E402
from audio_capture import decode_audio  # noqa: E402
from audio_capture.enhance import build_enhancer  # noqa: E402
from audio_capture.voice import build_voice_engine  # noqa: E402
from models.settings import Settings  # noqa: E402

SR = 16000


def _clip_dir() -> Path:
    shared = ROOT.parent / "shared" / "data" / "speech"
    return shared if (shared / "manifest.tsv").is_file() else ROOT / "tests" / "data" / "speech"


def _clips(folder: Path) -> list[tuple[str, np.ndarray, str]]:
    rows = list(csv.DictReader((folder / "manifest.tsv").open(encoding="utf-8"), delimiter="\t"))
    out = []
    for row in rows:
        path = folder / row["audio"]
        if not path.is_file():
            continue
        out.append((path.stem, decode_audio(path).samples[0], row["text"]))
    return out


def babble_mix(target: np.ndarray, others: list[np.ndarray], snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``target`` with ``others`` looped from random offsets, summed, at ``snr_db`` below it."""
    babble = np.zeros(target.size, np.float32)
    for clip in others:
        looped = np.tile(clip, int(np.ceil((target.size + clip.size) / clip.size)) + 1)
        start = int(rng.integers(0, clip.size))
        babble += looped[start:start + target.size] * float(rng.uniform(0.6, 1.0))
    rms = lambda x: float(np.sqrt(np.mean(x**2)) + 1e-12)  # noqa: E731
    mix = target + babble * (rms(target) / rms(babble)) / 10 ** (snr_db / 20)
    return (mix * min(1.0, 0.99 / float(np.max(np.abs(mix))))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr-db", type=float, default=10.0)
    parser.add_argument("--talkers", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--enrol-s", type=float, default=0.0, help="enrol from the clip's first seconds only (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    model_dir = Settings().resolved_whisper_model_dir
    install_whisper_base(model_dir)
    transcriber = Transcriber(model_dir, cpu_threads=args.threads, rescorer=WordFrequencyLM())
    embedder, enhancer = build_voice_engine("dvector"), build_enhancer("voicefilter-lite")
    clips = _clips(_clip_dir())
    totals = {"without": [0, 0], "with": [0, 0]}
    files, enhance_s, audio_s = [], 0.0, 0.0
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        for i, (name, clean, text) in enumerate(clips):
            others = [c for j, (_, c, _) in enumerate(clips) if j != i]
            picked = [others[k] for k in rng.choice(len(others), size=min(args.talkers, len(others)), replace=False)]
            mix = babble_mix(clean, picked, args.snr_db, rng)
            enrol = clean[: int(args.enrol_s * SR)] if args.enrol_s > 0 else clean
            started = time.perf_counter()
            cleaned = enhancer.enhance(mix, embedder.embed(enrol))
            enhance_s += time.perf_counter() - started
            audio_s += mix.size / SR
            row = {"clip": name, "seed": seed, "text": text}
            for key, audio in (("without", mix), ("with", cleaned)):
                hyp = transcriber.transcribe_segment(audio).text
                counts = cer_counts(hyp, text)
                totals[key][0] += counts.errors
                totals[key][1] += counts.reference_chars
                row[key] = {"text": hyp, "cer": round(counts.cer, 3)}
            files.append(row)
            print(f"{name} seed {seed}: CER {row['without']['cer']:.3f} -> {row['with']['cer']:.3f}", file=sys.stderr)
    result = {
        "snr_db": args.snr_db, "talkers": args.talkers, "seeds": args.seeds, "clips": len(clips),
        "folder": str(_clip_dir()), "enrol_s": args.enrol_s or "whole clean clip (oracle)",
        "cer_without": round(totals["without"][0] / totals["without"][1], 4),
        "cer_with": round(totals["with"][0] / totals["with"][1], 4),
        "reference_chars": totals["without"][1], "enhance_rtf": round(enhance_s / audio_s, 4), "files": files,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "files"}, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
