"""Who speaks when, within one speech segment: speaker changes and staff/citizen labels.

Pure functions over sliding-window speaker embeddings (``VoiceEngine.embed_windows``), so
they are tested without a model and the wiring into ingest stays small:

1. :func:`speaker_changes` scores every candidate boundary by the cosine distance between the
   mean embedding of the windows that end before it and of those that start after it (windows
   straddling the boundary are left out, which keeps the peak sharp), then keeps the local
   peaks above a threshold that are at least ``min_turn_s`` apart.
2. :func:`label_stretches` labels each stretch between changes ``staff`` when its embedding is
   close enough to a voiceprint of the staff rostered at the window, ``citizen`` when clearly
   not, and ``unknown`` in between or when no voiceprint exists (the content decides later).

:func:`split_by_voice` runs both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

import numpy as np

VoiceRole = Literal["staff", "citizen", "unknown"]


@dataclass(frozen=True)
class ChangeOptions:
    """Speaker-change detection settings (defaults chosen on ``benchmarks/bench_voice.py``).

    Attributes:
        context_s: seconds of windows on each side of a candidate boundary.
        min_distance: smallest cosine distance (1 - similarity) between the two sides that
            counts as a change.
        min_turn_s: closest two changes may be (and closest to the segment's ends).
    """

    context_s: float = 1.5
    min_distance: float = 0.25
    min_turn_s: float = 0.8


@dataclass(frozen=True)
class RoleOptions:
    """Staff/citizen labelling settings.

    Attributes:
        staff_min_similarity: cosine similarity to a rostered voiceprint at or above which a
            stretch is the staff member's.
        citizen_max_similarity: below it the stretch is a citizen's; between the two it is
            ``unknown`` (the content decides).
        min_stretch_s: shorter stretches are ``unknown`` (too little voice to tell).
    """

    staff_min_similarity: float = 0.70
    citizen_max_similarity: float = 0.60
    min_stretch_s: float = 0.5


@dataclass(frozen=True)
class ChangeResult:
    """Change points of one segment, with the distance curve they were picked from."""

    change_s: tuple[float, ...]
    boundary_s: np.ndarray = field(repr=False, compare=False)
    distance: np.ndarray = field(repr=False, compare=False)
    options: ChangeOptions = ChangeOptions()


@dataclass(frozen=True)
class VoiceStretch:
    """One stretch of a single voice.

    Attributes:
        start_s: start, seconds from the start of the audio the windows came from.
        end_s: end, same clock.
        role: ``staff``, ``citizen`` or ``unknown``.
        similarity: best cosine similarity to a rostered voiceprint (nan without voiceprints).
        speaker_key: the key (工号) of that voiceprint when the role is ``staff``, else None.
    """

    start_s: float
    end_s: float
    role: VoiceRole
    similarity: float
    speaker_key: str | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class VoiceSplit:
    """The stretches of one segment and the settings that produced them."""

    stretches: tuple[VoiceStretch, ...]
    change_s: tuple[float, ...]
    change_options: ChangeOptions
    role_options: RoleOptions


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def boundary_distances(start_s: np.ndarray, vectors: np.ndarray, window_s: float, context_s: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distance between the two sides of every window start used as a boundary.

    Returns:
        ``(boundary_s, distance)``; the distance is nan where a side has no window.
    """
    start_s = np.asarray(start_s, dtype=np.float64)
    end_s = start_s + window_s
    vectors = np.asarray(vectors, dtype=np.float32)
    distance = np.full(start_s.shape, np.nan)
    eps = 1e-6
    for i, b in enumerate(start_s):
        left = (end_s <= b + eps) & (end_s > b - context_s - eps)
        right = (start_s >= b - eps) & (start_s < b + context_s - window_s + eps)
        if left.any() and right.any():
            distance[i] = 1.0 - float(_unit(vectors[left].mean(axis=0)) @ _unit(vectors[right].mean(axis=0)))
    return start_s, distance


def speaker_changes(start_s: np.ndarray, vectors: np.ndarray, window_s: float,
                    options: ChangeOptions = ChangeOptions()) -> ChangeResult:
    """Speaker change points from sliding-window embeddings.

    Args:
        start_s: window start times (ascending, evenly spaced).
        vectors: one L2-normalised embedding per window.
        window_s: the windows' length.
        options: thresholds.

    Returns:
        the change times (seconds, ascending), the boundary grid and its distance curve.
    """
    boundary_s, distance = boundary_distances(start_s, vectors, window_s, options.context_s)
    if boundary_s.size == 0:
        return ChangeResult((), boundary_s, distance, options)
    first, last = boundary_s[0], boundary_s[-1] + window_s
    score = np.where(np.isnan(distance), -np.inf, distance)
    chosen: list[float] = []
    # Strongest peaks first; each one blocks its neighbourhood (non-maximum suppression).
    for i in np.argsort(-score, kind="stable"):
        if score[i] < options.min_distance:
            break
        b = float(boundary_s[i])
        if b - first < options.min_turn_s or last - b < options.min_turn_s:
            continue
        if all(abs(b - c) >= options.min_turn_s for c in chosen):
            chosen.append(b)
    return ChangeResult(tuple(sorted(chosen)), boundary_s, distance, options)


def stretch_embedding(start_s: np.ndarray, vectors: np.ndarray, window_s: float, lo_s: float, hi_s: float
                      ) -> np.ndarray | None:
    """Normalised mean of the windows inside ``[lo_s, hi_s]`` (or overlapping it most)."""
    start_s = np.asarray(start_s, dtype=np.float64)
    if start_s.size == 0:
        return None
    inside = (start_s >= lo_s - 1e-6) & (start_s + window_s <= hi_s + 1e-6)
    if not inside.any():
        overlap = np.minimum(start_s + window_s, hi_s) - np.maximum(start_s, lo_s)
        if overlap.max() <= 0:
            return None
        inside = overlap >= overlap.max() - 1e-6
    return _unit(np.asarray(vectors, dtype=np.float32)[inside].mean(axis=0))


def label_stretch(vector: np.ndarray | None, duration_s: float, voiceprints: Mapping[str, np.ndarray],
                  options: RoleOptions = RoleOptions()) -> tuple[VoiceRole, float, str | None]:
    """Role, best similarity and matching key of one stretch embedding."""
    if vector is None or not voiceprints:
        return "unknown", float("nan"), None
    key, best = max(((k, float(_unit(np.asarray(v, np.float32)) @ vector)) for k, v in voiceprints.items()),
                    key=lambda kv: kv[1])
    if duration_s < options.min_stretch_s:
        return "unknown", best, None
    if best >= options.staff_min_similarity:
        return "staff", best, key
    if best < options.citizen_max_similarity:
        return "citizen", best, None
    return "unknown", best, None


def label_stretches(start_s: np.ndarray, vectors: np.ndarray, window_s: float, bounds_s: list[float],
                    voiceprints: Mapping[str, np.ndarray], options: RoleOptions = RoleOptions()
                    ) -> tuple[VoiceStretch, ...]:
    """Label the stretches between consecutive ``bounds_s`` (segment start, changes, end)."""
    stretches = []
    for lo, hi in zip(bounds_s[:-1], bounds_s[1:]):
        vec = stretch_embedding(start_s, vectors, window_s, lo, hi)
        role, sim, key = label_stretch(vec, hi - lo, voiceprints, options)
        stretches.append(VoiceStretch(float(lo), float(hi), role, sim, key))
    return tuple(stretches)


def merge_same_role(stretches: tuple[VoiceStretch, ...]) -> tuple[VoiceStretch, ...]:
    """Join neighbouring stretches of the same known role and speaker (a false change)."""
    merged: list[VoiceStretch] = []
    for s in stretches:
        prev = merged[-1] if merged else None
        if prev is not None and s.role != "unknown" and prev.role == s.role and prev.speaker_key == s.speaker_key:
            merged[-1] = VoiceStretch(prev.start_s, s.end_s, s.role, max(prev.similarity, s.similarity), s.speaker_key)
        else:
            merged.append(s)
    return tuple(merged)


def split_by_voice(start_s: np.ndarray, vectors: np.ndarray, window_s: float, segment_start_s: float,
                   segment_end_s: float, voiceprints: Mapping[str, np.ndarray],
                   change_options: ChangeOptions = ChangeOptions(), role_options: RoleOptions = RoleOptions(),
                   ) -> VoiceSplit:
    """Split one segment at speaker changes and label each stretch.

    Args:
        start_s: window start times, on the same clock as the segment bounds.
        vectors: the windows' embeddings.
        window_s: the windows' length.
        segment_start_s: where the segment starts.
        segment_end_s: where it ends.
        voiceprints: 工号 -> voiceprint of the staff rostered at the window (may be empty).
        change_options: change detection settings.
        role_options: labelling settings.
    """
    changes = speaker_changes(start_s, vectors, window_s, change_options)
    inner = [c for c in changes.change_s if segment_start_s < c < segment_end_s]
    bounds = [segment_start_s, *inner, segment_end_s]
    stretches = label_stretches(start_s, vectors, window_s, bounds, voiceprints, role_options)
    return VoiceSplit(merge_same_role(stretches), tuple(inner), change_options, role_options)


__all__ = [
    "ChangeOptions",
    "ChangeResult",
    "RoleOptions",
    "VoiceRole",
    "VoiceSplit",
    "VoiceStretch",
    "boundary_distances",
    "label_stretch",
    "label_stretches",
    "merge_same_role",
    "speaker_changes",
    "split_by_voice",
    "stretch_embedding",
]
