"""Where the voice changes within one speech segment: speaker change points from sliding-window
speaker embeddings (``VoiceEngine.embed_windows``).

Pure functions, tested without a model. :func:`speaker_changes` splits the windows of a segment
into two voices by cosine 2-means; :func:`voiceprint_changes` splits them along a staff
member's voiceprint when the 2-means cannot part the two voices. A service window's segment
holds at most two voices, staff and one citizen, and every window of the segment helps to
find each voice. :mod:`audio_capture.speakers` labels the stretches between the changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ChangeOptions:
    """Speaker-change detection settings (defaults chosen on ``benchmarks/bench_voice.py``).

    Attributes:
        min_distance: smallest cosine distance (1 - similarity) between the two voices'
            centroids for a segment to hold two voices (one speaker alone gave 0.14–0.22 on
            the shared clips, two speakers 0.21–0.47 on their mixes).
        min_turn_s: shorter runs of one voice join their neighbours.
        refine_s: how far a change may move when refined with the windows that do not straddle
            it (0: no refinement, the default). On the mono demo halls (seeds 39, 70, 77, 78) the
            refinement put a citizen→staff change after the staff line had begun (its first
            words, 有病吧 among them, went to the citizen): staff lines cut by over 0.25 s at the
            head 36 with 0.5 s, 14 without; at the tail 65 and 35 (``tools/voice/demo_split_check.py``).
        voiceprint_gap: two voices closer than ``min_distance`` are still two when one is at
            least this much nearer a rostered voiceprint than the other (0: off). On the mono
            demo halls a 16 s segment of staff and three citizen lines had its two voices 0.237
            apart but 0.97 and 0.77 from the staff voiceprint. Chosen on the mono demo halls of
            seeds 21-23 and 31-33 (0.12-0.18 alike; 0.1 and below split staff lines). When
            the 2-means voices are not that far apart either, the windows are split along the
            voiceprint (:func:`voiceprint_changes`) and kept as two voices at this gap: on seed
            78 a 15 s segment of three citizen and two staff lines had its 2-means voices 0.18
            apart and 0.89 / 0.85 from the voiceprint, its voiceprint halves 0.97 / 0.80.
    """

    min_distance: float = 0.24
    min_turn_s: float = 0.5
    refine_s: float = 0.0
    voiceprint_gap: float = 0.15


@dataclass(frozen=True)
class ChangeResult:
    """Change points of one segment.

    Attributes:
        change_s: change times, ascending.
        labels: voice 0/1 of every window after smoothing.
        distance: cosine distance between the two voices' centroids.
        options: the settings used.
    """

    change_s: tuple[float, ...]
    labels: np.ndarray = field(repr=False, compare=False)
    distance: float = 0.0
    options: ChangeOptions = ChangeOptions()


def unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def two_speakers(vectors: np.ndarray, iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Split windows into two groups by cosine k-means (k=2).

    Seeded with the window least like the mean and the window least like that one, so the
    result is deterministic.

    Returns:
        ``(labels, centroids)``: 0/1 per window and the two unit centroids.
    """
    v = np.asarray(vectors, dtype=np.float32)
    first = int(np.argmin(v @ unit(v.mean(axis=0))))
    second = int(np.argmin(v @ v[first]))
    centroids = np.stack([v[first], v[second]])
    labels = np.zeros(len(v), dtype=int)
    for _ in range(iterations):
        labels = np.argmax(v @ centroids.T, axis=1)
        new = np.stack([unit(v[labels == k].mean(axis=0)) if (labels == k).any() else centroids[k] for k in (0, 1)])
        if np.allclose(new, centroids):
            break
        centroids = new
    return labels, centroids


def _drop_short_runs(labels: np.ndarray, min_windows: int) -> np.ndarray:
    """Relabel runs shorter than ``min_windows`` as their neighbours, shortest first."""
    labels = labels.copy()
    while True:
        edges = np.flatnonzero(np.diff(labels)) + 1
        bounds = [0, *edges.tolist(), len(labels)]
        runs = [(b - a, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        if len(runs) < 2:
            return labels
        length, a, b = min(runs)
        if length >= min_windows:
            return labels
        labels[a:b] = labels[a - 1] if a > 0 else labels[b]


def _min_windows(start_s: np.ndarray, options: ChangeOptions) -> int:
    """``options.min_turn_s`` in windows (evenly spaced starts)."""
    hop_s = float(np.median(np.diff(start_s)))
    return max(1, int(round(options.min_turn_s / hop_s)))


def speaker_changes(start_s: np.ndarray, vectors: np.ndarray, window_s: float,
                    options: ChangeOptions = ChangeOptions()) -> ChangeResult:
    """Speaker change points from sliding-window embeddings of one segment.

    The windows are split into two voices (:func:`two_speakers`); when the two centroids are
    closer than ``options.min_distance`` the segment is one voice. Otherwise each window takes
    its voice's label, runs shorter than ``options.min_turn_s`` join their neighbours, and a
    change lies halfway between the centres of the last window of one run and the first of the
    next (windows straddling a change go to the voice they hold most of). Refined changes stay
    in order: two that the refinement moved past each other enclosed a turn with no length left
    and are both dropped (an unordered pair made an inverted stretch and two overlapping ones,
    and the words of the next staff line were lost on the mono demo hall of seed 71).

    Args:
        start_s: window start times (ascending, evenly spaced).
        vectors: one L2-normalised embedding per window.
        window_s: the windows' length.
        options: thresholds.
    """
    start_s = np.asarray(start_s, dtype=np.float64)
    if start_s.size < 2:
        return ChangeResult((), np.zeros(start_s.size, dtype=int), 0.0, options)
    labels, centroids = two_speakers(vectors)
    distance = 1.0 - float(centroids[0] @ centroids[1])
    if distance < options.min_distance:
        return ChangeResult((), np.zeros(start_s.size, dtype=int), distance, options)
    return _changes_at_flips(start_s, np.asarray(vectors, np.float32), window_s, labels, centroids, distance, options)


def _changes_at_flips(start_s: np.ndarray, vectors: np.ndarray, window_s: float, labels: np.ndarray,
                      centroids: np.ndarray, distance: float, options: ChangeOptions) -> ChangeResult:
    """Changes where the window labels flip, after runs shorter than ``min_turn_s`` are joined."""
    labels = _drop_short_runs(labels, _min_windows(start_s, options))
    centres = start_s + window_s / 2
    changes: list[tuple[float, int]] = []  # (change, last window before it)
    for i in np.flatnonzero(np.diff(labels)):
        change = float((centres[i] + centres[i + 1]) / 2)
        if options.refine_s > 0:
            change = _refine(change, start_s, vectors, window_s,
                             centroids[labels[i]], centroids[labels[i + 1]], options.refine_s)
        if changes and change <= changes[-1][0]:
            # refined past the change before it: the turn between the two has no length left,
            # so neither is a change (its windows go to the voice around it)
            _, first = changes.pop()
            labels[first + 1:i + 1] = labels[first]
            continue
        changes.append((change, int(i)))
    return ChangeResult(tuple(c for c, _ in changes), labels, distance, options)


def voiceprint_changes(start_s: np.ndarray, vectors: np.ndarray, window_s: float, voiceprint: np.ndarray,
                       options: ChangeOptions = ChangeOptions()) -> ChangeResult:
    """Speaker changes found along one voiceprint: windows near it against windows far from it.

    For a segment whose two voices the 2-means does not part (a citizen who sounds like the
    staff member overall) the staff member's voiceprint is the axis that matters: each window's
    similarity to it is split in two (1-D 2-means), short runs are joined, and the two groups
    are two voices only when their centroids are at least ``options.voiceprint_gap`` apart in
    similarity to the voiceprint.
    """
    start_s = np.asarray(start_s, dtype=np.float64)
    vectors = np.asarray(vectors, np.float32)
    none = ChangeResult((), np.zeros(start_s.size, dtype=int), 0.0, options)
    if start_s.size < 2 or options.voiceprint_gap <= 0:
        return none
    axis = unit(np.asarray(voiceprint, np.float32))
    near = vectors @ axis
    cut = float(near.mean())
    for _ in range(20):  # 1-D 2-means: the cut halfway between the two groups' means
        low, high = near[near < cut], near[near >= cut]
        if not low.size or not high.size:
            return none
        new = float((low.mean() + high.mean()) / 2)
        if abs(new - cut) < 1e-6:
            break
        cut = new
    labels = _drop_short_runs((near >= cut).astype(int), _min_windows(start_s, options))
    if labels.min() == labels.max():
        return none
    centroids = np.stack([unit(vectors[labels == k].mean(axis=0)) for k in (0, 1)])
    if float(centroids[1] @ axis - centroids[0] @ axis) < options.voiceprint_gap:
        return none
    return _changes_at_flips(start_s, vectors, window_s, labels, centroids, 1.0 - float(centroids[0] @ centroids[1]), options)


def _refine(change_s: float, start_s: np.ndarray, vectors: np.ndarray, window_s: float, before: np.ndarray,
            after: np.ndarray, reach_s: float) -> float:
    """Move a change to the boundary that best separates the two voices nearby.

    A candidate boundary is scored only with windows that do not straddle it: those ending
    before it should be closer to the voice ``before``, those starting after it to ``after``.
    """
    lean = vectors @ (after - before)  # > 0: the window sounds like the voice after the change
    end_s = start_s + window_s
    best, best_score = change_s, -np.inf
    for b in start_s[(start_s >= change_s - reach_s) & (start_s <= change_s + reach_s)]:
        left = (end_s <= b + 1e-6) & (end_s > b - window_s - 1e-6)
        right = (start_s >= b - 1e-6) & (start_s < b + window_s - 1e-6)
        if left.any() and right.any():
            score = float(lean[right].mean() - lean[left].mean())
            if score > best_score:
                best, best_score = float(b), score
    return best


__all__ = ["ChangeOptions", "ChangeResult", "speaker_changes", "two_speakers", "unit", "voiceprint_changes"]
