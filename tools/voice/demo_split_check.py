"""The split by voice of a mono demo hall, offline: roles by true line and who-is-serving
flags by voice, without Whisper (VAD, split, labels and the serving rule only).

Reads the hall's audio, truth and stored voiceprints (``windowqa demo --mono`` enrols them);
runs each recording through the same VAD and :class:`windowqa.speech.voices.RecordingVoices`
as ingest, with the staff on duty from the truth (roster, and the substitute when filed).
Lines the split leaves ``unknown`` are counted apart (ingest gives them to the content).

Run: ``.venv/bin/python tools/voice/demo_split_check.py DEMO_DIR... [--verbose] [--cache=DIR]
[--r-FIELD=V] [--c-FIELD=V]`` (``DIR`` keeps the window embeddings of each hall between runs; ``--r-`` and
``--c-`` set a field of ``RoleOptions`` and ``ChangeOptions``, e.g. ``--c-refine-s=0.5``). Staff lines
whose head or tail (over 0.25 s) went to another role are counted as cut.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker


CUT_S = 0.25  # a staff line's head or tail given to another role for longer than this is cut


def _on_duty(truth: dict, window: str, at: datetime) -> set[str]:
    duty = {p["staff_no"] for p in truth["staff"] if p.get("window") == window}
    if truth["options"].get("substitution_filed", True):
        for s in truth["substitutes"]:
            if s["window"] == window and datetime.fromisoformat(s["starts_at"]).date() == at.date():
                duty.add(s["substitute"])
    return duty


def check_hall(folder: Path, engine, verbose: bool = False, split=None) -> dict:
    from audio_capture.voiceprints import load_voiceprints
    from models.domain import Role
    from windowqa.speech import PipelineOptions
    from windowqa.speech.pipeline import for_recording, recording_blocks
    from windowqa.speech.segments import Tick, segment_events
    from windowqa.speech.source import window_channel_map
    from windowqa.speech.voices import VoiceSplitter, other_staff

    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    factory = sessionmaker(create_engine(f"sqlite:///{folder / 'windowqa.db'}"))
    with factory() as s:
        prints = load_voiceprints(s, engine.name)
    counts: Counter = Counter()
    cut: Counter = Counter()  # staff lines whose first or last CUT_S went to another role
    flags: list[tuple[str, str, float]] = []
    false_interactions = 0
    for rec in truth["recordings"]:
        at = datetime.fromisoformat(rec["started_at"])
        duty = _on_duty(truth, rec["window"], at)
        voices = VoiceSplitter(engine, prints, lambda _: duty, **({"split": split} if split else {})).for_recording(at)
        roles = window_channel_map({"0": "unknown"})
        path = folder / rec["path"]
        options = for_recording(path, PipelineOptions(), roles)
        blocks, _ = recording_blocks(path, options, roles)
        parts = []
        for event in segment_events(blocks, options):
            if isinstance(event, Tick):
                continue
            seg, audio, keep, _ = event
            if keep:
                parts.extend(voices.split(seg, audio[0]))
        heard: dict[str, float] = defaultdict(float)
        for p in parts:
            if p.role is Role.STAFF and p.voice is not None:
                key = other_staff(p.voice, duty, voices.serving)
                if key:
                    heard[key] += p.voice.speech_s
                if verbose:
                    print(f"  {rec['id']} {p.start_s:7.2f}-{p.end_s:7.2f} staff {dict(p.voice.similarities)} other={key}")
        flagged = {k for k, v in heard.items() if v >= voices.serving.min_speech_s}
        for k in flagged:
            flags.append((rec["id"], k, round(heard[k], 1)))
        for ti in truth["interactions"]:
            if ti["recording"] == rec["id"] and ti["staff_no"] in duty and flagged:
                false_interactions += 1
        for line in truth["utterances"]:
            if line["recording"] != rec["id"]:
                continue
            overlap: Counter = Counter()
            for p in parts:
                overlap[p.role.value] += max(0.0, min(p.end_s, line["end_s"]) - max(p.start_s, line["start_s"]))
            got = overlap.most_common(1)[0][0] if overlap and overlap.most_common(1)[0][1] > 0.05 else "lost"
            counts[(line["speaker"], got)] += 1
            if line["speaker"] == got == "staff":
                staff = [p for p in parts if p.role is Role.STAFF and min(p.end_s, line["end_s"]) > max(p.start_s, line["start_s"])]
                cut["head"] += min(p.start_s for p in staff) - line["start_s"] > CUT_S
                cut["tail"] += line["end_s"] - max(p.end_s for p in staff) > CUT_S
            if verbose and got not in (line["speaker"], "lost"):
                print(f"  WRONG {rec['id']} {line['start_s']:.2f}-{line['end_s']:.2f} {line['speaker']}->{got} {line['text']}")
                for p in parts:
                    if min(p.end_s, line["end_s"]) > max(p.start_s, line["start_s"]):
                        sims = dict(p.voice.similarities) if p.voice else None
                        print(f"      part {p.start_s:.2f}-{p.end_s:.2f} {p.role.value} {sims}")
    heard_lines = sum(v for (_, got), v in counts.items() if got != "lost")
    correct = sum(v for (want, got), v in counts.items() if want == got)
    unknown = sum(v for (_, got), v in counts.items() if got == "unknown")
    should = [ti for ti in truth["interactions"]
              if ti["staff_no"] not in _on_duty(truth, ti["window"], datetime.fromisoformat(ti["started_at"]))]
    return {"hall": str(folder), "lines": heard_lines, "correct": correct, "unknown": unknown,
            "accuracy_known": round(correct / max(1, heard_lines - unknown), 4),
            "confusion": {f"{a}->{b}": v for (a, b), v in sorted(counts.items())},
            "staff_head_cut": cut["head"], "staff_tail_cut": cut["tail"],
            "flags": flags, "false_flag_interactions": false_interactions,
            "interactions": len(truth["interactions"]), "flag_expected_interactions": len(should),
            "flag_expected_recordings_flagged": len({ti["recording"] for ti in should} & {f[0] for f in flags})}


class _Cached:
    """An engine whose window embeddings are kept on disk by audio hash (reruns cost no encoder time)."""

    def __init__(self, engine, path: Path) -> None:
        self._engine, self._path = engine, path
        self.name, self.embedding_dim, self.block_s = engine.name, engine.embedding_dim, engine.block_s
        self._memo = pickle.loads(path.read_bytes()) if path.is_file() else {}

    def embed(self, samples):
        return self._engine.embed(samples)

    def embed_windows(self, samples, window_s, hop_s):
        key = (hashlib.sha1(np.ascontiguousarray(samples).tobytes()).hexdigest(), window_s, hop_s)
        if key not in self._memo:
            self._memo[key] = self._engine.embed_windows(samples, window_s, hop_s)
        return self._memo[key]

    def save(self) -> None:
        self._path.write_bytes(pickle.dumps(self._memo))


def main() -> None:
    from audio_capture.speakers import ChangeOptions, RoleOptions, VoiceSplitOptions
    from audio_capture.voice import build_voice_engine

    verbose = "--verbose" in sys.argv
    cache = next((Path(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--cache=")), None)
    engine = build_voice_engine("dvector")
    def prefixed(prefix: str) -> dict[str, float]:  # e.g. --r-staff-min-similarity=0.7, --c-refine-s=0.5
        pairs = (a.split("=", 1) for a in sys.argv if a.startswith(prefix))
        return {k[len(prefix):].replace("-", "_"): float(v) for k, v in pairs}

    roles, change = prefixed("--r-"), prefixed("--c-")
    split = VoiceSplitOptions(roles=RoleOptions(**roles), change=ChangeOptions(**change)) if roles or change else None
    for arg in (a for a in sys.argv[1:] if not a.startswith("--")):
        hall = _Cached(engine, cache / f"{Path(arg).name}.pkl") if cache else engine
        print(json.dumps(check_hall(Path(arg), hall, verbose, split), ensure_ascii=False))
        if cache:
            hall.save()


if __name__ == "__main__":
    main()
