"""Where the voice split puts speaker changes on a mono demo hall, against the true gaps.

For every pair of consecutive true lines of different speakers inside one kept VAD segment, the
change nearest the middle of their gap and its offset from the gap: 0 inside it, negative before
the first line's end (its tail goes to the next speaker), positive after the next line's start.
Reported for the default refinement and without it (``ChangeOptions.refine_s``).

Run: ``.venv/bin/python tools/voice/demo_change_offsets.py DEMO_DIR... [--cache=DIR]`` (``DIR`` as in
``demo_split_check.py``: window embeddings kept between runs).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from demo_split_check import _Cached  # noqa: E402


def offsets(folder: Path, engine, refine_s: float) -> dict[str, list[float]]:
    from audio_capture.speakers import ChangeOptions, speaker_changes
    from windowqa.speech import PipelineOptions
    from windowqa.speech.pipeline import for_recording, recording_blocks
    from windowqa.speech.segments import Tick, segment_events
    from windowqa.speech.source import window_channel_map

    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    out: dict[str, list[float]] = defaultdict(list)
    for rec in truth["recordings"]:
        lines = sorted((u for u in truth["utterances"] if u["recording"] == rec["id"]), key=lambda u: u["start_s"])
        roles = window_channel_map({"0": "unknown"})
        options = for_recording(folder / rec["path"], PipelineOptions(), roles)
        blocks, _ = recording_blocks(folder / rec["path"], options, roles)
        for event in segment_events(blocks, options):
            if isinstance(event, Tick) or not event[2]:
                continue
            seg, audio = event[0], event[1]
            starts, vectors = engine.embed_windows(audio[0], 1.0, 0.1)
            changes = speaker_changes(np.asarray(starts) + seg.start_s, vectors, 1.0,
                                      ChangeOptions(refine_s=refine_s)).change_s
            for a, b in zip(lines, lines[1:]):
                if a["speaker"] == b["speaker"] or not (seg.start_s < a["end_s"] and b["start_s"] < seg.end_s):
                    continue
                key = f"{a['speaker']}->{b['speaker']}"
                if not changes:
                    out[key].append(float("nan"))
                    continue
                c = min(changes, key=lambda x: abs(x - (a["end_s"] + b["start_s"]) / 2))
                out[key].append(c - a["end_s"] if c < a["end_s"] else c - b["start_s"] if c > b["start_s"] else 0.0)
    return out


def summary(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    ok = v[~np.isnan(v)]
    if not ok.size:
        return {"n": int(v.size), "no_change": int(v.size)}
    return {"n": int(v.size), "no_change": int(np.isnan(v).sum()), "in_gap": round(float(np.mean(ok == 0)), 2),
            "early": round(float(np.mean(ok < 0)), 2), "late": round(float(np.mean(ok > 0)), 2),
            "mean_early_s": round(float(ok[ok < 0].mean()), 2) if (ok < 0).any() else 0.0,
            "mean_late_s": round(float(ok[ok > 0].mean()), 2) if (ok > 0).any() else 0.0,
            "within_0_5_s": round(float(np.mean(np.abs(ok) <= 0.5)), 2)}


def main() -> None:
    from audio_capture.speakers import ChangeOptions
    from audio_capture.voice import build_voice_engine

    cache = next((Path(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--cache=")), None)
    engine = build_voice_engine("dvector")
    halls = [Path(a) for a in sys.argv[1:] if not a.startswith("--")]
    for refine_s in (ChangeOptions().refine_s, 0.0):
        merged: dict[str, list[float]] = defaultdict(list)
        for folder in halls:
            hall = _Cached(engine, cache / f"{folder.name}.pkl") if cache else engine
            for key, values in offsets(folder, hall, refine_s).items():
                merged[key] += values
            if cache:
                hall.save()
        print(json.dumps({"refine_s": refine_s, **{k: summary(v) for k, v in sorted(merged.items())}}))


if __name__ == "__main__":
    main()
