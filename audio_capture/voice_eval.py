"""Role evaluation on mono mixes (``windowqa eval roles``) and the mixes themselves.

Manifest (UTF-8 TSV with a header; paths relative to the manifest's folder)::

    audio<TAB>turns<TAB>staff_no<TAB>enrol

* ``audio``: a mono mix (any format :func:`audio_capture.decode.decode_audio` reads);
* ``turns``: a TSV of reference turns with the header ``start_s<TAB>end_s<TAB>role<TAB>speaker``,
  ``role`` being ``staff`` or ``citizen``;
* ``staff_no``: the 工号 of the staff member rostered at the window;
* ``enrol``: ``;``-separated enrolment recordings of that staff member (never part of the mix);
  empty means no voiceprint, so every stretch is ``unknown``.

Each mix is treated as one speech segment: it is split at speaker changes and each stretch is
labelled (:func:`audio_capture.speakers.split_by_voice`). Scores:

* role accuracy by utterance: a reference turn is right when the role covering most of it is its
  role (``unknown`` is never right);
* role diarisation error: (time labelled with the other role + time labelled ``unknown``) over
  the reference speech time (gaps between turns are not scored; there is no VAD here);
* change points: a reference change (the middle of the gap between two turns of different
  speakers) is found when a detected change lies within ``tolerance_s`` (one to one).
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from audio_capture.decode import decode_audio
from audio_capture.speakers import VoiceSplitOptions, VoiceStretch, split_segment
from audio_capture.voice import SAMPLE_RATE, VoiceEngine

ROLES = ("staff", "citizen")


class RoleManifestError(ValueError):
    """A roles manifest or turns file that cannot be used; the message names file and line."""


@dataclass(frozen=True)
class RefTurn:
    """One reference turn of a mix."""

    start_s: float
    end_s: float
    role: str
    speaker: str


# ---------------------------------------------------------------------------- mixes


@dataclass(frozen=True)
class MixOptions:
    """How two speakers' clips become one alternating mono mix.

    Attributes:
        min_turn_s: shortest turn.
        max_turn_s: longest turn.
        max_gap_s: longest silence between turns (gaps are uniform in ``[0, max_gap_s]``).
        noise_dbfs: level of the white noise floor under the whole mix.
        silence_db: frames this far under the clip's loudest are trimmed from its ends.
    """

    min_turn_s: float = 1.2
    max_turn_s: float = 2.5
    max_gap_s: float = 0.5
    noise_dbfs: float = -60.0
    silence_db: float = 35.0


def trim_silence(samples: np.ndarray, silence_db: float = 35.0, frame_s: float = 0.02) -> np.ndarray:
    """The clip without its quiet head and tail (so reference turns start on speech)."""
    n = int(frame_s * SAMPLE_RATE)
    if samples.size < n:
        return samples
    frames = samples[: samples.size // n * n].reshape(-1, n)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.flatnonzero(level > level.max() - silence_db)
    return samples[loud[0] * n:(loud[-1] + 1) * n]


def _chunks(samples: np.ndarray, rng: np.random.Generator, options: MixOptions) -> list[np.ndarray]:
    out, pos = [], 0
    while samples.size - pos >= int(options.min_turn_s * SAMPLE_RATE):
        length = int(rng.uniform(options.min_turn_s, options.max_turn_s) * SAMPLE_RATE)
        out.append(samples[pos:pos + length])
        pos += length
    return out


def alternate_turns(staff: np.ndarray, citizen: np.ndarray, *, staff_name: str = "staff",
                    citizen_name: str = "citizen", seed: int = 0, options: MixOptions = MixOptions(),
                    ) -> tuple[np.ndarray, tuple[RefTurn, ...]]:
    """Cut two speakers' clips into turns and alternate them, staff first, in one mono mix.

    Both clips are trimmed and brought to the same RMS; the mix stops when either speaker has
    no turn left, so turns strictly alternate.

    Returns:
        the mix (16 kHz float32) and its reference turns.
    """
    rng = np.random.default_rng(seed)
    parts = {}
    for role, clip in (("staff", staff), ("citizen", citizen)):
        clip = trim_silence(np.asarray(clip, np.float32), options.silence_db)
        parts[role] = _chunks(clip * (0.1 / max(float(np.sqrt(np.mean(clip**2))), 1e-6)), rng, options)
    names = {"staff": staff_name, "citizen": citizen_name}
    pieces: list[np.ndarray] = []
    turns: list[RefTurn] = []
    t = 0.0
    for k in range(2 * min(len(parts["staff"]), len(parts["citizen"]))):
        role = ROLES[k % 2]
        chunk = parts[role][k // 2]
        if k:
            gap = np.zeros(int(rng.uniform(0.0, options.max_gap_s) * SAMPLE_RATE), np.float32)
            pieces.append(gap)
            t += gap.size / SAMPLE_RATE
        turns.append(RefTurn(round(t, 3), round(t + chunk.size / SAMPLE_RATE, 3), role, names[role]))
        pieces.append(chunk)
        t += chunk.size / SAMPLE_RATE
    mix = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    mix = mix + rng.standard_normal(mix.size).astype(np.float32) * (10 ** (options.noise_dbfs / 20))
    return np.clip(mix, -1.0, 1.0).astype(np.float32), tuple(turns)


def write_turns(path: Path, turns: tuple[RefTurn, ...]) -> None:
    """Write reference turns as the TSV :func:`read_turns` reads."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["start_s", "end_s", "role", "speaker"])
        for t in turns:
            w.writerow([f"{t.start_s:.3f}", f"{t.end_s:.3f}", t.role, t.speaker])


def read_turns(path: Path) -> tuple[RefTurn, ...]:
    """Reference turns from a ``start_s, end_s, role, speaker`` TSV.

    Raises:
        RoleManifestError: a missing file, column or bad value (file and line named).
    """
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as exc:
        raise RoleManifestError(f"{path}: cannot read turns ({exc.strerror or exc})") from None
    turns = []
    for i, row in enumerate(rows, start=2):
        try:
            turn = RefTurn(float(row["start_s"]), float(row["end_s"]), row["role"].strip(), row.get("speaker") or "")
        except (KeyError, TypeError, ValueError, AttributeError):
            raise RoleManifestError(f"{path}:{i}: need start_s, end_s (numbers) and role") from None
        if turn.role not in ROLES or turn.end_s <= turn.start_s:
            raise RoleManifestError(f"{path}:{i}: role must be staff or citizen and end_s > start_s")
        turns.append(turn)
    return tuple(sorted(turns, key=lambda t: t.start_s))


# ---------------------------------------------------------------------------- scoring


@dataclass
class ItemScore:
    """Counts of one mix (summed over mixes for the totals)."""

    turns: int = 0
    turns_right: int = 0
    turns_unknown: int = 0
    speech_s: float = 0.0
    confused_s: float = 0.0
    unknown_s: float = 0.0
    ref_changes: int = 0
    changes_found: int = 0
    hyp_changes: int = 0
    audio_s: float = 0.0
    process_s: float = 0.0

    def add(self, other: "ItemScore") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def summary(self) -> dict[str, float | None]:
        def ratio(a: float, b: float) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "role_accuracy": ratio(self.turns_right, self.turns),
            "role_der": ratio(self.confused_s + self.unknown_s, self.speech_s),
            "confusion": ratio(self.confused_s, self.speech_s),
            "unknown": ratio(self.unknown_s, self.speech_s),
            "change_recall": ratio(self.changes_found, self.ref_changes),
            "change_precision": ratio(self.changes_found, self.hyp_changes),
            "rtf": ratio(self.process_s, self.audio_s),
        }


def reference_changes(turns: tuple[RefTurn, ...]) -> list[float]:
    """Middles of the gaps between consecutive turns of different speakers."""
    return [(a.end_s + b.start_s) / 2 for a, b in zip(turns, turns[1:]) if (a.speaker, a.role) != (b.speaker, b.role)]


def match_changes(ref_s: list[float], hyp_s: list[float], tolerance_s: float) -> int:
    """How many reference changes have a detected change within ``tolerance_s`` (one to one)."""
    free = sorted(hyp_s)
    found = 0
    for r in sorted(ref_s):
        near = [h for h in free if abs(h - r) <= tolerance_s]
        if near:
            free.remove(min(near, key=lambda h: abs(h - r)))
            found += 1
    return found


def score_stretches(turns: tuple[RefTurn, ...], stretches: tuple[VoiceStretch, ...], change_s: tuple[float, ...],
                    tolerance_s: float) -> ItemScore:
    """Role accuracy, role diarisation error and change-point counts of one mix."""
    score = ItemScore()
    for turn in turns:
        cover = {"staff": 0.0, "citizen": 0.0, "unknown": 0.0}
        for s in stretches:
            cover[s.role] += max(0.0, min(turn.end_s, s.end_s) - max(turn.start_s, s.start_s))
        length = turn.end_s - turn.start_s
        cover["unknown"] += max(0.0, length - sum(cover.values()))  # not covered by any stretch
        other = "citizen" if turn.role == "staff" else "staff"
        score.turns += 1
        score.turns_right += int(max(cover, key=cover.__getitem__) == turn.role and cover[turn.role] > 0)
        score.turns_unknown += int(max(cover, key=cover.__getitem__) == "unknown")
        score.speech_s += length
        score.confused_s += cover[other]
        score.unknown_s += cover["unknown"]
    ref = reference_changes(turns)
    score.ref_changes = len(ref)
    score.hyp_changes = len(change_s)
    score.changes_found = match_changes(ref, list(change_s), tolerance_s)
    return score


# ---------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class VoiceEvalOptions:
    """Settings of a roles evaluation (carried by its report)."""

    split: VoiceSplitOptions = VoiceSplitOptions()
    tolerance_s: float = 0.5


@dataclass
class RoleEvalReport:
    """Totals and per-mix figures of ``eval roles``."""

    engine: str
    options: VoiceEvalOptions
    total: ItemScore = field(default_factory=ItemScore)
    items: list[tuple[str, ItemScore]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "engine": self.engine,
            "mixes": len(self.items),
            **self.total.summary(),
            "turns": self.total.turns,
            "speech_s": round(self.total.speech_s, 2),
            "options": asdict(self.options),
            "items": [{"audio": name, **s.summary(), "turns": s.turns} for name, s in self.items],
        }


@dataclass(frozen=True)
class RoleItem:
    """One manifest line, paths resolved."""

    audio: Path
    turns: Path
    staff_no: str
    enrol: tuple[Path, ...]


def read_roles_manifest(path: Path) -> list[RoleItem]:
    """The lines of a roles manifest (format in the module docstring).

    Raises:
        RoleManifestError: unreadable file or a line without audio/turns.
    """
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as exc:
        raise RoleManifestError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
    base = path.parent
    items = []
    for i, row in enumerate(rows, start=2):
        if not (row.get("audio") or "").strip() or not (row.get("turns") or "").strip():
            raise RoleManifestError(f"{path}:{i}: audio and turns are required")
        enrol = tuple(base / p.strip() for p in (row.get("enrol") or "").split(";") if p.strip())
        items.append(RoleItem(base / row["audio"].strip(), base / row["turns"].strip(),
                              (row.get("staff_no") or "").strip(), enrol))
    return items


def _mono(path: Path) -> np.ndarray:
    return decode_audio(path).samples.mean(axis=0).astype(np.float32)


def evaluate_roles(manifest: Path, engine: VoiceEngine, options: VoiceEvalOptions = VoiceEvalOptions()
                   ) -> RoleEvalReport:
    """Run the voice split on every mix of a roles manifest and score it.

    Raises:
        RoleManifestError: as :func:`read_roles_manifest` and :func:`read_turns`.
        AudioDecodeError: an audio file that cannot be decoded.
    """
    report = RoleEvalReport(engine.name, options)
    for item in read_roles_manifest(manifest):
        turns = read_turns(item.turns)
        prints = {}
        if item.enrol:
            enrol = np.concatenate([trim_silence(_mono(p)) for p in item.enrol])
            prints[item.staff_no or "staff"] = engine.embed(enrol)
        samples = _mono(item.audio)
        t0 = time.perf_counter()
        split = split_segment(engine, samples, prints, options=options.split)
        elapsed = time.perf_counter() - t0
        score = score_stretches(turns, split.stretches, split.change_s, options.tolerance_s)
        score.audio_s, score.process_s = samples.size / SAMPLE_RATE, elapsed
        report.items.append((item.audio.name, score))
        report.total.add(score)
    return report


__all__ = [
    "ItemScore",
    "MixOptions",
    "RefTurn",
    "RoleEvalReport",
    "RoleItem",
    "RoleManifestError",
    "VoiceEvalOptions",
    "alternate_turns",
    "evaluate_roles",
    "match_changes",
    "read_roles_manifest",
    "read_turns",
    "reference_changes",
    "score_stretches",
    "trim_silence",
    "write_turns",
]
