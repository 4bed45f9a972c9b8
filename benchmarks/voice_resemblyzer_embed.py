"""Sliding-window embeddings of a roles manifest with resemblyzer (GE2E), for bench_voice.py.

Runs in a SEPARATE throw-away environment, never the project's .venv (resemblyzer needs torch)::

    python3.11 -m venv /work/venv-resemblyzer
    /work/venv-resemblyzer/bin/pip install torch==2.13.0 resemblyzer
    /work/venv-resemblyzer/bin/python benchmarks/voice_resemblyzer_embed.py MANIFEST OUT.npz [--hop-s 0.1]

Imports nothing from windowqa. For every mix it stores the start times and vectors of
resemblyzer's 1.6 s partial windows every ``--hop-s`` (``embed_utterance(return_partials=True)``,
without its silence trimming so that times stay on the mix's clock) and the enrolment
recording's utterance embedding; plus the encoder's wall time and the audio duration.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("manifest", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--hop-s", type=float, default=0.1)
    args = p.parse_args()
    import torch
    from resemblyzer import VoiceEncoder
    from resemblyzer.audio import normalize_volume

    torch.set_num_threads(1)  # the same single core the d-vector engine gets
    encoder = VoiceEncoder("cpu", verbose=False)
    base = args.manifest.parent
    with args.manifest.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out: dict[str, np.ndarray] = {}
    busy_s = audio_s = 0.0
    for row in rows:
        wav, sr = sf.read(base / row["audio"], dtype="float32")
        assert sr == 16000 and wav.ndim == 1
        wav = normalize_volume(wav, -30, increase_only=True)
        t0 = time.perf_counter()
        _, partials, slices = encoder.embed_utterance(wav, return_partials=True, rate=1.0 / args.hop_s,
                                                      min_coverage=0.75)
        busy_s += time.perf_counter() - t0
        audio_s += wav.size / sr
        key = row["audio"]
        out[f"{key}|starts"] = np.array([s.start / sr for s in slices])
        out[f"{key}|vectors"] = np.asarray(partials, np.float32)
        if row.get("enrol"):
            enrol = np.concatenate([sf.read(base / e, dtype="float32")[0] for e in row["enrol"].split(";")])
            out[f"{key}|enrol"] = encoder.embed_utterance(normalize_volume(enrol, -30, increase_only=True))
    out["_timing"] = np.array([busy_s, audio_s])
    out["_window_s"] = np.array([1.6])
    np.savez(args.out, **out)
    print(f"{len(rows)} mixes, {audio_s:.1f} s audio, encoder {busy_s:.1f} s (RTF {busy_s / audio_s:.3f})")


if __name__ == "__main__":
    main()
