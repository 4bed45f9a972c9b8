"""Build mono two-speaker mixes for ``windowqa eval roles`` from real Mandarin clips.

Runs in the MAIN environment (.venv). Every unordered pair of speakers (one clip per speaker,
clips of at least ``--min-clip-s`` after trimming silence) gives ``--seeds`` mixes: the speaker
with the longer clip is "staff"; the first ``--enrol-s`` seconds of their clip are written as
the enrolment recording and never used in the mix; the rest of both clips is cut into turns of
``--min-turn-s``..``--max-turn-s`` that alternate, staff first, with gaps of 0..``--max-gap-s``
(audio_capture.voice_eval.alternate_turns).

What it writes into OUT_DIR (default ``var/eval/roles/``, not committed):

- ``manifest.tsv``: ``audio<TAB>turns<TAB>staff_no<TAB>enrol`` (see audio_capture/voice_eval.py);
- ``mixes/<staff>__<citizen>__s<seed>.wav`` and ``.turns.tsv`` (16 kHz mono, 16-bit);
- ``enrol/<staff>.wav``.

Usage:
    .venv/bin/python tools/voice/make_mono_mixes.py [OUT_DIR] [--speech-dir DIR] [--seeds 2]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from audio_capture.decode import decode_audio  # noqa: E402
from audio_capture.voice import SAMPLE_RATE  # noqa: E402
from audio_capture.voice_eval import MixOptions, alternate_turns, trim_silence, write_turns  # noqa: E402


def default_speech_dir() -> Path:
    shared = ROOT.parent / "shared" / "data" / "speech"
    return shared if shared.is_dir() else ROOT / "tests" / "data" / "speech"


def load_clips(folder: Path, min_clip_s: float, silence_db: float) -> dict[str, np.ndarray]:
    """Speaker name (file stem) -> trimmed mono clip, for clips long enough."""
    clips = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in {".wav", ".flac", ".opus", ".mp3"}:
            continue
        clip = trim_silence(decode_audio(path).samples.mean(axis=0).astype(np.float32), silence_db)
        if clip.size >= min_clip_s * SAMPLE_RATE:
            clips[path.stem] = clip
    return clips


def build_mixes(out_dir: Path, speech_dir: Path, *, seeds: int = 2, enrol_s: float = 1.5, min_clip_s: float = 2.8,
                options: MixOptions = MixOptions(min_turn_s=1.0, max_turn_s=2.0)) -> Path:
    """Write mixes, turns, enrolment clips and the manifest; returns the manifest path."""
    clips = load_clips(speech_dir, min_clip_s, options.silence_db)
    (out_dir / "mixes").mkdir(parents=True, exist_ok=True)
    (out_dir / "enrol").mkdir(parents=True, exist_ok=True)
    rows = []
    for a, b in itertools.combinations(sorted(clips), 2):
        staff, citizen = (a, b) if clips[a].size >= clips[b].size else (b, a)
        head = int(enrol_s * SAMPLE_RATE)
        enrol_path = out_dir / "enrol" / f"{staff}.wav"
        sf.write(enrol_path, clips[staff][:head], SAMPLE_RATE, subtype="PCM_16")
        for seed in range(seeds):
            mix, turns = alternate_turns(clips[staff][head:], clips[citizen], staff_name=staff, citizen_name=citizen,
                                         seed=seed, options=options)
            if len(turns) < 2:
                continue
            stem = f"{staff}__{citizen}__s{seed}"
            sf.write(out_dir / "mixes" / f"{stem}.wav", mix, SAMPLE_RATE, subtype="PCM_16")
            write_turns(out_dir / "mixes" / f"{stem}.turns.tsv", turns)
            rows.append([f"mixes/{stem}.wav", f"mixes/{stem}.turns.tsv", staff, f"enrol/{staff}.wav"])
    manifest = out_dir / "manifest.tsv"
    with manifest.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["audio", "turns", "staff_no", "enrol"])
        w.writerows(rows)
    return manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", nargs="?", type=Path, default=ROOT / "var" / "eval" / "roles")
    p.add_argument("--speech-dir", type=Path, default=None)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--enrol-s", type=float, default=1.5)
    p.add_argument("--min-turn-s", type=float, default=1.0)
    p.add_argument("--max-turn-s", type=float, default=2.0)
    p.add_argument("--max-gap-s", type=float, default=0.5)
    args = p.parse_args()
    options = MixOptions(min_turn_s=args.min_turn_s, max_turn_s=args.max_turn_s, max_gap_s=args.max_gap_s)
    manifest = build_mixes(args.out_dir, args.speech_dir or default_speech_dir(), seeds=args.seeds,
                           enrol_s=args.enrol_s, options=options)
    n = sum(1 for _ in manifest.open(encoding="utf-8")) - 1
    print(f"{n} mixes -> {manifest}")


if __name__ == "__main__":
    main()
