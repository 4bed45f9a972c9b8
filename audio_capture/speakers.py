"""Who speaks when, within one speech segment: speaker changes and staff/citizen labels.

Pure functions over sliding-window speaker embeddings (``VoiceEngine.embed_windows``), so
they are tested without a model and the wiring into ingest stays small:

1. :func:`audio_capture.voice_changes.speaker_changes` splits the windows of the segment into
   two voices (cosine 2-means; one voice when the two centroids are close), smooths the
   per-window labels and puts a change where the label flips; when the 2-means cannot part
   them, :func:`audio_capture.voice_changes.voiceprint_changes` splits along the voiceprint.
2. :func:`label_voices` labels each voice ``staff`` when it is close enough to a voiceprint of
   the staff rostered at the window (or, with two voices, clearly closer than the other),
   ``citizen`` when clearly not, and ``unknown`` in between or when no voiceprint exists (the
   content decides later); each stretch between changes takes its voice's label.
   Two voices closer than the change threshold are still split when the voiceprint tells them
   apart, and a staff stretch far below the best staff stretch heard earlier in the recording
   (``staff_best``, carried by the caller from segment to segment) is left ``unknown``.

:func:`split_by_voice` runs both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Literal, Mapping

import numpy as np

from audio_capture.voice import SAMPLE_RATE, VoiceEngine
from audio_capture.voice_changes import (
    ChangeOptions, ChangeResult, speaker_changes, two_speakers, unit as _unit, voiceprint_changes,
)

VoiceRole = Literal["staff", "citizen", "unknown"]


@dataclass(frozen=True)
class RoleOptions:
    """Staff/citizen labelling settings.

    Attributes:
        staff_min_similarity: cosine similarity to a rostered voiceprint at or above which a
            stretch is the staff member's.
        citizen_max_similarity: below it the stretch is a citizen's; between the two it is
            ``unknown`` (the content decides).
        min_margin: with two voices in a segment, how much closer to the voiceprint the staff
            voice must be than the other when neither clears ``staff_min_similarity``.
        min_stretch_s: shorter stretches are ``unknown`` (too little voice to tell).
        stretch_margin: a stretch its voice makes staff is the citizen's when its own similarity
            to the voiceprint is this much below the segment's best staff stretch (two voices
            per segment is an assumption: a long segment can hold a second citizen, or a
            citizen's turn the clustering put in the staff voice). Chosen on the mono demo
            halls of seeds 21-23 (0.15 and 0.2 alike there; 0.1 loses staff lines).
        recording_margin: a staff stretch this much below the best staff stretch heard so far in
            the recording is ``unknown`` (the content decides): a citizen alone in a segment, or
            a second citizen split off as the nearer voice, scored 0.54-0.79 against the staff
            voiceprint on the mono demo halls while the staff member's best stretches scored
            0.93-0.99. Relative to the recording, so a weak enrolment (low similarities
            throughout) does not make every stretch doubtful. Chosen on the mono demo halls of
            seeds 21-23 and 31-33 (0.10-0.18 alike there; 0.2 keeps citizen lines as staff).
        staff_bridge_s: a stretch not labelled staff (citizen or ``unknown``) this long or
            shorter, between two staff stretches of the same voiceprint, is that staff
            member's too (0: off). On the mono demo halls a false voice change inside one staff
            line (seed 39) left a short piece of it to the citizen or to the content, so the line
            was cut and a forbidden phrase in it split and missed. 1 s is one embedding window
            (``VoiceSplitOptions.window_s``): a stretch no longer has no window wholly inside it,
            so its own voice is judged from windows that reach into its neighbours.
        bridge_max_drop: the bridged stretch must sound like that staff member: its own
            similarity to the voiceprint at most this far below the mean of its neighbours'.
            Pieces of staff lines cut off by a false change scored 0.00-0.23 below on the mono
            demo halls of seeds 39, 70, 77, 78 (and 70 at 4 x 12; 0.15 bridges 9 of 12); 0.8-1.2 s
            of another real speaker inside a staff line 0.27-0.46 below (``tests/test_voice_bridge.py``).
            On the 30 mixes of real speakers (``windowqa eval roles``) the 1.5 s bridge cost 1
            turn of 130 at 0.15, 2 at 0.22, 5 at 0.25 (none with a 1 s bridge).
        extend_s: an ``unknown`` stretch this long or shorter next to a staff stretch (the
            bridge needs one on both sides) is that staff member's when it sounds like them: at
            least ``staff_min_similarity`` to their voiceprint and, as for the bridge, at most
            ``bridge_max_drop`` below the neighbour's own similarity; 0: off. A false change
            near the end of a staff line left its tail to the content, which gave 刚才和你说 /
            过了怎么还问 half to the citizen (mono demo, seed 84, 4 x 12). 2.5 s (not tuned) on
            the mono halls of seeds 83-85 (4 x 4 and 4 x 12, ``tools/voice/demo_split_check.py``):
            staff lines left ``unknown`` 27 -> 17, staff lines cut at the head 37 -> 27 and at the
            tail 109 -> 92, citizen lines made staff 10 -> 11; seed 87 (4 x 12) staff lines left
            ``unknown`` 10 -> 5. Without the similarity floor the 30 mixes of real speakers
            (``windowqa eval roles``) lost time to the wrong role (confusion 0.066 -> 0.092,
            edges of the other speaker scoring under 0.55); with it every figure there stays as
            it was.
    """

    staff_min_similarity: float = 0.55
    citizen_max_similarity: float = 0.40
    min_margin: float = 0.08
    min_stretch_s: float = 0.5
    stretch_margin: float = 0.2
    recording_margin: float = 0.15
    staff_bridge_s: float = 1.5
    bridge_max_drop: float = 0.15
    extend_s: float = 2.5


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
    """The stretches of one segment and the settings that produced them.

    ``staff_best`` is the best similarity of a staff stretch to the voiceprints, this segment's
    or the one passed in from earlier in the recording (-inf: none yet).
    """

    stretches: tuple[VoiceStretch, ...]
    change_s: tuple[float, ...]
    change_options: ChangeOptions
    role_options: RoleOptions
    staff_best: float = float("-inf")



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


def bridge_staff(stretches: tuple[VoiceStretch, ...], max_s: float,
                 own: Callable[[VoiceStretch, str], float] | None = None, max_drop: float = float("inf")
                 ) -> tuple[VoiceStretch, ...]:
    """Short non-staff stretches between two staff stretches of the same voiceprint, made staff.

    A stretch (citizen or ``unknown``) of at most ``max_s`` seconds whose neighbours are both
    staff with the same ``speaker_key`` takes that role and key (:func:`merge_same_role` then
    joins the three); ``max_s`` 0 changes nothing. With ``own`` (a stretch's own similarity to
    a voiceprint) it must also sound like that voice: at most ``max_drop`` below the mean of
    its neighbours' own similarities. Neighbours are judged as given, so two bridges never
    chain through each other.
    """
    if max_s <= 0:
        return stretches
    out = list(stretches)
    for i in range(1, len(stretches) - 1):
        before, s, after = stretches[i - 1], stretches[i], stretches[i + 1]
        key = before.speaker_key
        if (s.role == "staff" or s.duration_s > max_s + 1e-9 or not before.role == after.role == "staff"
                or key is None or key != after.speaker_key):
            continue
        if own is not None and own(s, key) < (own(before, key) + own(after, key)) / 2 - max_drop:
            continue  # another voice: a real short turn between two lines of the staff member
        out[i] = VoiceStretch(s.start_s, s.end_s, "staff", s.similarity, key)
    return tuple(out)


def extend_staff(stretches: tuple[VoiceStretch, ...], max_s: float,
                 own: Callable[[VoiceStretch, str], float], max_drop: float, min_similarity: float = 0.0
                 ) -> tuple[VoiceStretch, ...]:
    """Each ``unknown`` stretch at most ``max_s`` long next to a staff stretch, when at least
    ``min_similarity`` to that neighbour's voiceprint and within ``max_drop`` of the
    neighbour's own similarity to it, made staff (the better-sounding neighbour's when both
    are staff). Neighbours are judged as given: nothing chains."""
    if max_s <= 0 or len(stretches) < 2:
        return stretches
    out = list(stretches)
    for i, s in enumerate(stretches):
        if s.role != "unknown" or s.duration_s > max_s + 1e-9:
            continue
        best = None
        for n in (stretches[j] for j in (i - 1, i + 1) if 0 <= j < len(stretches)):
            if n.role != "staff" or n.speaker_key is None:
                continue
            similarity = own(s, n.speaker_key)
            if similarity >= min_similarity and similarity >= own(n, n.speaker_key) - max_drop:
                if best is None or similarity > best[0]:
                    best = (similarity, n.speaker_key)
        if best is not None:
            out[i] = VoiceStretch(s.start_s, s.end_s, "staff", s.similarity, best[1])
    return tuple(out)


def label_voices(voice_vectors: list[np.ndarray], voiceprints: Mapping[str, np.ndarray],
                 options: RoleOptions = RoleOptions()) -> list[tuple[VoiceRole, float, str | None]]:
    """Roles of the (one or two) voices of a segment.

    With two voices the one closer to a rostered voiceprint is staff when it is close enough
    (``staff_min_similarity``) or clearly closer than the other (``min_margin``), and the other
    is then the citizen: a short enrolment recording gives weak absolute similarities, but the
    comparison within one segment stays reliable. One voice, or two that the voiceprints do
    not tell apart, is labelled on its own (:func:`label_stretch`).
    """
    if not voiceprints:
        return [("unknown", float("nan"), None) for _ in voice_vectors]
    own = [label_stretch(v, float("inf"), voiceprints, options) for v in voice_vectors]
    if len(voice_vectors) != 2:
        return own
    hi, lo = (0, 1) if own[0][1] >= own[1][1] else (1, 0)
    gap = own[hi][1] - own[lo][1]
    if own[hi][1] >= options.staff_min_similarity or gap >= options.min_margin:
        best_key = max(voiceprints, key=lambda k: float(_unit(np.asarray(voiceprints[k], np.float32)) @ voice_vectors[hi]))
        roles: list[tuple[VoiceRole, float, str | None]] = [("unknown", 0.0, None)] * 2
        roles[hi] = ("staff", own[hi][1], best_key)
        roles[lo] = ("citizen", own[lo][1], None) if gap >= options.min_margin or own[lo][1] < options.citizen_max_similarity \
            else ("unknown", own[lo][1], None)
        return roles
    return own


def split_by_voice(start_s: np.ndarray, vectors: np.ndarray, window_s: float, segment_start_s: float,
                   segment_end_s: float, voiceprints: Mapping[str, np.ndarray],
                   change_options: ChangeOptions = ChangeOptions(), role_options: RoleOptions = RoleOptions(),
                   staff_best: float = float("-inf")) -> VoiceSplit:
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
        staff_best: the best staff stretch similarity heard earlier in the recording
            (``VoiceSplit.staff_best`` of the previous segment).
    """
    start_s = np.asarray(start_s, dtype=np.float64)
    vectors = np.asarray(vectors, dtype=np.float32)
    units = {k: _unit(np.asarray(v, np.float32)) for k, v in voiceprints.items()}
    changes = speaker_changes(start_s, vectors, window_s, change_options)
    if not changes.change_s and voiceprints and change_options.voiceprint_gap > 0 and start_s.size >= 2:
        _, centroids = two_speakers(vectors)
        prints = list(units.values())
        near = [max(float(p @ c) for p in prints) for c in centroids]
        if abs(near[0] - near[1]) >= change_options.voiceprint_gap:
            changes = speaker_changes(start_s, vectors, window_s, replace(change_options, min_distance=0.0))
        else:
            mean = _unit(vectors.mean(axis=0))
            nearest = max(prints, key=lambda p: float(p @ mean))
            changes = voiceprint_changes(start_s, vectors, window_s, nearest, change_options)
    inner = [c for c in changes.change_s if segment_start_s < c < segment_end_s]
    bounds = [segment_start_s, *inner, segment_end_s]
    labels = changes.labels
    voices = sorted(set(labels.tolist())) if labels.size else []
    voice_roles = dict(zip(voices, label_voices([_unit(vectors[labels == k].mean(axis=0)) for k in voices],
                                                voiceprints, role_options)))
    centres = start_s + window_s / 2
    stretches = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        inside = labels[(centres >= lo) & (centres < hi)] if labels.size else labels
        if inside.size == 0 or hi - lo < role_options.min_stretch_s:
            vec = stretch_embedding(start_s, vectors, window_s, lo, hi)
            role, sim, key = label_stretch(vec, hi - lo, voiceprints, role_options)
        else:
            role, sim, key = voice_roles[int(np.bincount(inside).argmax())]
        stretches.append(VoiceStretch(float(lo), float(hi), role, sim, key))
    stretches, best = _doubtful_staff(stretches, start_s, vectors, window_s, voiceprints, role_options, staff_best)

    def own(s: VoiceStretch, key: str) -> float:
        vec = stretch_embedding(start_s, vectors, window_s, s.start_s, s.end_s)
        return float(units[key] @ vec) if vec is not None else float("-inf")

    bridged = bridge_staff(tuple(stretches), role_options.staff_bridge_s, own, role_options.bridge_max_drop)
    bridged = extend_staff(bridged, role_options.extend_s, own, role_options.bridge_max_drop,
                           role_options.staff_min_similarity)
    return VoiceSplit(merge_same_role(bridged), tuple(inner), change_options, role_options, best)


def _doubtful_staff(stretches: list[VoiceStretch], start_s: np.ndarray, vectors: np.ndarray, window_s: float,
                    voiceprints: Mapping[str, np.ndarray], options: RoleOptions, heard_best: float
                    ) -> tuple[list[VoiceStretch], float]:
    """Staff stretches too unlike the staff voice heard elsewhere, relabelled; and the best staff similarity.

    Judged on each stretch's own embedding: far below the segment's best staff stretch
    (``stretch_margin``) it is the citizen's; below the recording's best so far
    (``recording_margin``) it is ``unknown``, for the content to decide.
    """
    if not voiceprints:
        return stretches, heard_best
    prints = [_unit(np.asarray(v, np.float32)) for v in voiceprints.values()]
    own = []
    for s in stretches:
        vec = stretch_embedding(start_s, vectors, window_s, s.start_s, s.end_s)
        own.append(max(float(p @ vec) for p in prints) if vec is not None else float("nan"))
    staff = [o for s, o in zip(stretches, own) if s.role == "staff" and s.duration_s >= options.min_stretch_s
             and not np.isnan(o)]
    if not staff:
        return stretches, heard_best
    segment_floor = max(staff) - options.stretch_margin if len(stretches) > 1 else float("-inf")
    best = max(heard_best, max(staff))
    out = []
    for s, o in zip(stretches, own):
        if s.role == "staff" and s.duration_s >= options.min_stretch_s and o < segment_floor:
            s = VoiceStretch(s.start_s, s.end_s, "citizen", o, None)
        elif s.role == "staff" and s.duration_s >= options.min_stretch_s and o < best - options.recording_margin:
            s = VoiceStretch(s.start_s, s.end_s, "unknown", o, None)
        out.append(s)
    return out, best


@dataclass(frozen=True)
class VoiceSplitOptions:
    """Everything :func:`split_segment` needs besides the audio and the voiceprints.

    Attributes:
        window_s: embedding window length (1 s: long enough for a steady embedding, short
            enough for turns of a second or two).
        hop_s: step between windows; the resolution of the change points.
        change: change detection settings.
        roles: labelling settings.
        join_gap_s: two decoded staff stretches this close (seconds, same channel) are one line
            cut apart, and are matched as one when the content gave one of them its role or
            the split gave both the same voiceprint (``windowqa.utterance_stream.with_roles``):
            stretches of one split segment abut (word times can trim them a little), while VAD
            segments are at least the VAD's hangover apart.
    """

    window_s: float = 1.0
    hop_s: float = 0.1
    change: ChangeOptions = ChangeOptions()
    roles: RoleOptions = RoleOptions()
    join_gap_s: float = 0.3


def split_segment(engine: VoiceEngine, samples: np.ndarray, voiceprints: Mapping[str, np.ndarray], *,
                  offset_s: float = 0.0, options: VoiceSplitOptions = VoiceSplitOptions()) -> VoiceSplit:
    """Embed one speech segment and split it by voice (the one call ingest needs).

    Args:
        engine: a voice engine (built by the caller).
        samples: the segment, 16 kHz mono float32.
        voiceprints: 工号 -> voiceprint of the staff rostered at the window (may be empty).
        offset_s: where the segment starts in the recording; stretch times are on that clock.
        options: window and threshold settings.
    """
    starts, vectors = engine.embed_windows(samples, options.window_s, options.hop_s)
    end_s = offset_s + np.asarray(samples).shape[-1] / SAMPLE_RATE
    return split_by_voice(starts + offset_s, vectors, options.window_s, offset_s, end_s, voiceprints,
                          options.change, options.roles)


__all__ = [
    "ChangeOptions",
    "ChangeResult",
    "RoleOptions",
    "VoiceRole",
    "VoiceSplit",
    "VoiceStretch",
    "two_speakers",
    "bridge_staff",
    "extend_staff",
    "label_stretch",
    "label_stretches",
    "label_voices",
    "merge_same_role",
    "speaker_changes",
    "voiceprint_changes",
    "split_by_voice",
    "split_segment",
    "VoiceSplitOptions",
    "stretch_embedding",
]
