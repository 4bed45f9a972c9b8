"""Who is speaking, in ingest: mono segments split by voice, and who is serving, by voice.

A :class:`VoiceSplitter` (built in the composition root with an engine and the site's
voiceprints, never at import) gives the speech pipeline, per recording, a
:class:`RecordingVoices`:

* on a mono recording each kept VAD segment is split at speaker changes
  (:func:`audio_capture.speakers.split_by_voice`) and each stretch is labelled staff or
  citizen by the voiceprints of the staff rostered at the window that day; ``unknown``
  stretches are left to the content (``nlp.role``). A stretch whose nearest voiceprint among
  all enrolled staff is clearly another staff member's is staff too (their words count), and
  once that voice has served long enough in the recording, later segments are labelled by
  its voiceprint as well (:meth:`RecordingVoices.on_duty`);
* on a stereo recording each staff-channel utterance is embedded once.

Every staff stretch or utterance carries a :class:`HeardVoice` (its similarity to every
enrolled voiceprint); :func:`raise_serving_flags` flags a recording in which another enrolled
staff member than the one on duty (rostered, or a filed substitute) is clearly heard serving.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from audio_capture.speakers import ChangeOptions, RoleOptions, VoiceSplitOptions, split_by_voice, stretch_embedding
from audio_capture.vad import SpeechSegment
from audio_capture.voice import SAMPLE_RATE, VoiceEngine
from models.domain import Role, Utterance

_ROLES = {"staff": Role.STAFF, "citizen": Role.CITIZEN, "unknown": Role.UNKNOWN}


@dataclass(frozen=True)
class ServingOptions:
    """When a voice at the window is another staff member's (who is serving, by voice).

    Attributes:
        min_similarity: cosine similarity to that staff member's voiceprint at or above which
            a stretch is theirs (the labelling's ``staff_min_similarity``: one scale for both).
        min_margin: how much closer to that voiceprint than to any on-duty staff member's
            (a similar voice is not enough).
        min_speech_s: least speech of that voice in one recording before the hall is told
            (one misheard stretch never raises a flag).
        min_utterance_s: shorter stretches and stereo utterances are not embedded (too little
            voice to tell; also the cost on stereo recordings).
        max_embed_s: of a longer stereo utterance only the middle this long is embedded (the
            encoder's cost grows with the speech; on the shared clips 3.2 s of an utterance gave
            the similarities of all of it within 0.03). The utterance still counts in full
            towards ``min_speech_s``.
    """

    # Chosen on the shared clips (tests/data/speech) with 1.5 s enrolments: a speaker's own
    # 1-2 s stretches scored 0.41-0.49 against their voiceprint, others' 0.03-0.34 (the
    # d-vector's absolute similarities are low on short speech; the margin tells more).
    min_similarity: float = 0.40
    min_margin: float = 0.15
    min_speech_s: float = 3.0
    min_utterance_s: float = 1.0
    max_embed_s: float = 3.2


@dataclass(frozen=True)
class HeardVoice:
    """One stretch of a staff-side voice compared with every enrolled voiceprint.

    Attributes:
        similarities: 工号 -> cosine similarity to that staff member's voiceprint.
        speech_s: length of the stretch.
    """

    similarities: Mapping[str, float]
    speech_s: float

    def joined(self, other: HeardVoice) -> HeardVoice:
        """Two stretches of one line as one voice: similarities weighted by speech, speech summed
        (the first alone would drop the second's evidence of who is serving)."""
        total = self.speech_s + other.speech_s
        if total <= 0:
            return self
        keys = set(self.similarities) & set(other.similarities)
        return HeardVoice({k: round((self.similarities[k] * self.speech_s + other.similarities[k] * other.speech_s)
                                    / total, 4) for k in sorted(keys)}, total)

    def nearest(self) -> tuple[str | None, float]:
        if not self.similarities:
            return None, float("nan")
        key = max(self.similarities, key=lambda k: self.similarities[k])
        return key, float(self.similarities[key])


@dataclass(frozen=True)
class VoicePart:
    """One stretch of a mono segment: its times (recording clock), role and voice.

    ``speaker_key`` is the 工号 of the voiceprint a staff stretch was labelled by (None for
    other roles): two staff stretches of one key that abut are one line cut apart
    (``windowqa.utterance_stream.with_roles`` joins them). ``voice`` is only embedded for
    stretches long enough to tell (``ServingOptions.min_utterance_s``).
    """

    start_s: float
    end_s: float
    role: Role
    voice: HeardVoice | None = None
    speaker_key: str | None = None


def _similarities(vector: np.ndarray | None, prints: Mapping[str, np.ndarray]) -> dict[str, float]:
    if vector is None:
        return {}
    return {k: round(float(np.asarray(v, np.float32) @ vector), 4) for k, v in prints.items()}


def other_staff(voice: HeardVoice, on_duty: Collection[str], options: ServingOptions) -> str | None:
    """The enrolled staff member (not on duty) whose voice this clearly is, else None."""
    key, best = voice.nearest()
    if key is None or key in on_duty or best < options.min_similarity:
        return None
    duty_best = max((voice.similarities[k] for k in on_duty if k in voice.similarities), default=-1.0)
    return key if best - duty_best >= options.min_margin else None


def someone_else_serving(voices: Sequence[HeardVoice | None], on_duty: Collection[str], options: ServingOptions) -> bool:
    """Whether the staff side of one mono segment is an enrolled staff member not on duty.

    That voice must be nearer its voiceprint, by ``min_margin``, than any voice of the segment
    is to an on-duty staff member's: the staff side is the voice most like enrolled staff. A
    citizen can sound more like some off-duty colleague than like the staff member serving
    (measured on the demo hall: 0.82 against 0.64), but not more than that staff member's own
    voice sounds like their voiceprint (0.89).
    """
    others = [v.similarities[k] for v in voices if v is not None and (k := other_staff(v, on_duty, options))]
    if not others:
        return False
    duty = max((s for v in voices if v is not None for k, s in v.similarities.items() if k in on_duty), default=-1.0)
    return max(others) - duty >= options.min_margin


def _serving_voice(turns: Sequence[tuple], margin: float) -> dict[str, float]:
    """The voice heard serving in a segment (``someone_else_serving``): its 工号 and the least
    similarity to its voiceprint at which another turn of the segment is that voice too.

    A turn clearly that voice (``other_staff``) sets the bar: its best similarity less
    ``margin`` (``RoleOptions.stretch_margin``, as for the rostered staff member's stretches
    against the segment's best). A turn of that voice whose nearest voiceprint is a third
    staff member's by a little (a false change cut a staff line) is the staff member serving,
    not the citizen's.
    """
    best: dict[str, float] = {}
    for *_, voice, other in turns:
        if other is not None:
            best[other] = max(best.get(other, float("-inf")), voice.similarities[other])
    return {k: v - margin for k, v in best.items()}


def _joined(parts: list[VoicePart]) -> list[VoicePart]:
    """Neighbouring citizen turns as one stretch (decoded together, as before the split)."""
    out: list[VoicePart] = []
    for p in parts:
        if out and p.role is Role.CITIZEN and out[-1].role is Role.CITIZEN:
            out[-1] = VoicePart(out[-1].start_s, p.end_s, Role.CITIZEN)
        else:
            out.append(p)
    return out


@dataclass(frozen=True)
class RecordingVoices:
    """The voice work on one recording (what the pipeline calls; see :class:`VoiceSplitter`)."""

    engine: VoiceEngine
    voiceprints: Mapping[str, np.ndarray]  # all enrolled staff
    rostered: Collection[str]  # on duty at the window that day
    split_options: VoiceSplitOptions
    serving: ServingOptions
    # best staff-stretch similarity heard so far in this recording (the split's ``staff_best``)
    heard: dict[str, float] = field(default_factory=lambda: {"staff_best": float("-inf")}, compare=False)
    # speech (s) of each enrolled voice not on duty heard serving (``someone_else_serving``) so far
    serving_s: dict[str, float] = field(default_factory=dict, compare=False)

    def on_duty(self) -> frozenset[str]:
        """The rostered staff, and whoever has been heard serving in their place long enough
        (``ServingOptions.min_speech_s``): the staff side of later segments is labelled by
        their voiceprint too, not by a rostered voiceprint that a citizen may resemble more."""
        heard = {k for k, s in self.serving_s.items() if s >= self.serving.min_speech_s}
        return frozenset(self.rostered) | heard

    def split(self, segment: SpeechSegment, samples: np.ndarray) -> list[VoicePart]:
        """The stretches of one mono segment with their roles (times on the recording's clock).

        Stretches are labelled by the voiceprints of the staff on duty (:meth:`on_duty`) first. When a voice of the
        segment is clearly another enrolled staff member's and none is clearly the rostered
        one's, that voice is the staff side (someone else serving), with every turn close
        enough to it (:func:`_serving_voice`), and the rest are citizens.
        Only staff stretches carry their voice (a citizen's never counts for who is serving).
        """
        o = self.split_options
        starts, vectors = self.engine.embed_windows(samples, o.window_s, o.hop_s)
        starts = np.asarray(starts, np.float64) + segment.start_s
        on_duty = self.on_duty()
        rostered = {k: v for k, v in self.voiceprints.items() if k in on_duty}
        result = split_by_voice(starts, vectors, o.window_s, segment.start_s, segment.end_s, rostered, o.change, o.roles,
                                self.heard["staff_best"])
        self.heard["staff_best"] = result.staff_best
        # every turn on its own (labelling joins neighbours of one role, e.g. two "citizens")
        bounds = [segment.start_s, *result.change_s, segment.end_s]
        turns = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            stretch = next((s for s in result.stretches if s.start_s <= (lo + hi) / 2 <= s.end_s), None)
            label = (stretch.role, stretch.speaker_key) if stretch is not None else ("unknown", None)
            voice = None
            if hi - lo >= self.serving.min_utterance_s and len(starts):
                vector = stretch_embedding(starts, vectors, o.window_s, lo, hi)
                voice = HeardVoice(_similarities(vector, self.voiceprints), hi - lo)
            turns.append((lo, hi, label, voice, other_staff(voice, on_duty, self.serving) if voice else None))
        someone_else = someone_else_serving([t[3] for t in turns], on_duty, self.serving)
        serving = _serving_voice(turns, o.roles.stretch_margin) if someone_else else {}
        parts = []
        for lo, hi, (label, key), voice, other in turns:
            if someone_else:  # too short to tell (no voice): the content decides
                other = other or next((k for k, floor in serving.items() if voice and voice.similarities[k] >= floor), None)
                role = Role.STAFF if other else Role.CITIZEN if voice is not None else Role.UNKNOWN
                key = other
                if other:
                    self.serving_s[other] = self.serving_s.get(other, 0.0) + hi - lo
            else:
                role = _ROLES[label]
            staff = role is Role.STAFF
            parts.append(VoicePart(lo, hi, role, voice if staff else None, key if staff else None))
        return _joined(parts)

    def identify(self, samples: np.ndarray) -> HeardVoice | None:
        """The voice of one staff-channel utterance (stereo), or None when too short."""
        audio = np.asarray(samples, np.float32)
        speech_s = audio.shape[-1] / SAMPLE_RATE
        if speech_s < self.serving.min_utterance_s or not self.voiceprints:
            return None
        keep = int(self.serving.max_embed_s * SAMPLE_RATE)
        if audio.shape[-1] > keep:  # the middle: the voice at its steadiest, away from the VAD's edges
            lo = (audio.shape[-1] - keep) // 2
            audio = audio[lo:lo + keep]
        return HeardVoice(_similarities(self.engine.embed(audio), self.voiceprints), speech_s)


@dataclass(frozen=True)
class VoiceSplitter:
    """Voice engine, the site's voiceprints and how to find who is rostered, for ingest.

    Attributes:
        engine: a voice engine (``audio_capture.voice.build_voice_engine``), built by the caller.
        voiceprints: 工号 -> voiceprint of every enrolled staff member (``load_voiceprints``).
        rostered: recording start -> 工号 on duty at the window that day (roster and filed
            substitutes; :func:`duty_staff_nos`); None: nobody is known to be rostered.
        split: window and threshold settings of the split and the labels.
        serving: thresholds of who is serving.
    """

    engine: VoiceEngine
    voiceprints: Mapping[str, np.ndarray]
    rostered: Callable[[datetime | None], Collection[str]] | None = None
    split: VoiceSplitOptions = VoiceSplitOptions()
    serving: ServingOptions = ServingOptions()

    def for_recording(self, started_at: datetime | None) -> RecordingVoices:
        rostered = frozenset(self.rostered(started_at)) if self.rostered is not None else frozenset()
        return RecordingVoices(self.engine, self.voiceprints, rostered, self.split, self.serving)

    def describe(self) -> dict[str, Any]:
        """Stored with each recording's pipeline options."""
        return {"engine": self.engine.name, "enrolled": len(self.voiceprints), "split": asdict(self.split),
                "serving": asdict(self.serving)}


def duty_staff_nos(session: Any, window_id: int, start: datetime, end: datetime) -> list[str]:
    """工号 of everyone rostered at the window, or filed (approved) as a substitute, in [start, end]."""
    from sqlalchemy import select

    from models.db import Staff
    from scoring.duty import DutyTable

    duty = DutyTable.load(session, window_id, start, end)
    ids = {s.staff_id for s in duty.roster} | {s.staff_id for s in duty.substitutes}
    if not ids:
        return []
    return sorted(session.scalars(select(Staff.staff_no).where(Staff.id.in_(ids))))


def day_roster(session_factory: Any, window_id: int) -> Callable[[datetime | None], list[str]]:
    """``VoiceSplitter.rostered`` for one window: the staff on duty there on the recording's day."""

    def rostered(started_at: datetime | None) -> list[str]:
        if started_at is None:
            return []
        day = started_at.replace(hour=0, minute=0, second=0, microsecond=0)
        with session_factory() as s:
            return duty_staff_nos(s, window_id, day, day + timedelta(days=1))

    return rostered


class VoiceSetupError(ValueError):
    """Voice checks asked for but impossible (no voiceprints, no engine); names why."""


def voice_options(overrides: Mapping[str, Mapping[str, float]] | None) -> tuple[VoiceSplitOptions, ServingOptions]:
    """The split and who-serves settings: the defaults with a site's ``Settings.voice_options`` over them.

    ``overrides`` maps ``split`` (window_s, hop_s, join_gap_s), ``change``, ``roles`` and ``serving`` to
    field -> value.

    Raises:
        VoiceSetupError: an unknown group or field (names it).
    """
    from dataclasses import fields

    overrides = dict(overrides or {})
    known = {"split": VoiceSplitOptions, "change": ChangeOptions, "roles": RoleOptions, "serving": ServingOptions}
    for group, values in overrides.items():
        if group not in known:
            raise VoiceSetupError(f"voice_options: unknown group {group!r} (known: {', '.join(known)})")
        names = {f.name for f in fields(known[group])} - {"change", "roles"}
        wrong = sorted(set(values) - names)
        if wrong:
            raise VoiceSetupError(f"voice_options.{group}: unknown field {wrong[0]!r} (known: {', '.join(sorted(names))})")
    split = VoiceSplitOptions(**overrides.get("split", {}), change=ChangeOptions(**overrides.get("change", {})),
                              roles=RoleOptions(**overrides.get("roles", {})))
    return split, ServingOptions(**overrides.get("serving", {}))


def site_voice_splitter(session_factory: Any, window_code: str, *, wanted: bool | None,
                        engine_name: str = "dvector", threads: int = 1,
                        options: Mapping[str, Mapping[str, float]] | None = None,
                        engine: Callable[[], VoiceEngine] | None = None) -> VoiceSplitter | None:
    """The voice splitter of one window's ingest, or None.

    ``wanted`` None (the default of ``windowqa ingest``) turns the voice checks on when any
    staff voiceprint of the engine is enrolled, and off without one or without the engine's
    package; True requires both; False turns them off.

    ``options``: ``Settings.voice_options`` (thresholds over the defaults, :func:`voice_options`).
    ``engine``: gives the voice engine already built (a worker builds it once, not per job).

    Raises:
        VoiceSetupError: ``wanted`` is True but there is no voiceprint or no engine; unknown options.
    """
    if wanted is False:
        return None
    split, serving = voice_options(options)
    from audio_capture.voice import VoiceEngineUnavailableError, build_voice_engine
    from audio_capture.voiceprints import load_voiceprints
    from scoring.store import window_by_code

    if wanted is None:
        from sqlalchemy import select

        from models.voice_db import VoiceprintRow

        with session_factory() as s:
            if s.scalar(select(VoiceprintRow.id).limit(1)) is None:
                return None  # nobody enrolled: the engine is not even built
    try:
        engine = engine() if engine is not None else build_voice_engine(engine_name, threads=threads)
    except VoiceEngineUnavailableError as exc:
        if wanted:
            raise VoiceSetupError(str(exc)) from None
        return None
    with session_factory() as s:
        prints = load_voiceprints(s, engine.name)
        window_id = window_by_code(s, window_code).id
    if not prints:
        if wanted:
            raise VoiceSetupError(f"--voice: no staff voiceprint of engine {engine.name} is enrolled "
                                  "(windowqa voice enroll)")
        return None
    return VoiceSplitter(engine, prints, day_roster(session_factory, window_id), split, serving)


@dataclass
class _Heard:
    speech_s: float = 0.0
    utterances: int = 0
    similarity_sum: float = 0.0
    first_at: datetime | None = None
    first_s: float = 0.0
    on_duty: set[str] = field(default_factory=set)


def raise_serving_flags(session: Any, recording: Any, voices: Sequence[tuple[Utterance, HeardVoice]],
                        options: ServingOptions) -> int:
    """Flag every enrolled staff member clearly heard serving at the window while neither
    rostered there that day nor filed (approved) as a substitute.

    The flag is the terminal 工号 check's kind (``staff_mismatch``) with evidence ``by: voice``,
    one per recording and voice; the rostered staff member's own voice never raises it.

    Returns:
        How many flags were new.
    """
    from sqlalchemy import select

    from models.db import FlagKind, Staff
    from scoring.store.flags import raise_flag

    if recording.window_id is None:
        return 0
    days: dict[Any, set[str]] = {}
    heard: dict[str, _Heard] = defaultdict(_Heard)
    for utterance, voice in voices:
        if utterance.started_at is None:
            continue
        # anyone rostered or filed as a substitute there that day: a word before the shift or
        # after a filed substitution ended is theirs, never a flag
        day = utterance.started_at.replace(hour=0, minute=0, second=0, microsecond=0)
        if day not in days:
            days[day] = set(duty_staff_nos(session, recording.window_id, day, day + timedelta(days=1)))
        on_duty = days[day]
        key = other_staff(voice, on_duty, options)
        if key is None:
            continue
        h = heard[key]
        h.speech_s += voice.speech_s
        h.utterances += 1
        h.similarity_sum += voice.similarities[key]
        h.on_duty |= on_duty
        if h.first_at is None:
            h.first_at, h.first_s = utterance.started_at, utterance.start_s
    created = 0
    for key, h in sorted(heard.items()):
        if h.speech_s < options.min_speech_s:
            continue
        staff = session.scalar(select(Staff).where(Staff.staff_no == key))
        duty_text = "、".join(sorted(h.on_duty)) or "无"
        _, new = raise_flag(
            session, f"staff_mismatch:voice:rec{recording.id}:{key}", FlagKind.STAFF_MISMATCH,
            raised_at=h.first_at,
            summary=f"按声纹：窗口内说话的是工号 {key}（{staff.name if staff else ''}），当班或备案替岗为 {duty_text}",
            evidence={"by": "voice", "heard_staff_no": key, "on_duty_staff_nos": sorted(h.on_duty),
                      "speech_s": round(h.speech_s, 1), "utterances": h.utterances,
                      "mean_similarity": round(h.similarity_sum / h.utterances, 3), "first_s": round(h.first_s, 2),
                      "options": asdict(options)},
            severity="major", penalised=False, window_id=recording.window_id,
            staff_id=staff.id if staff else None, recording_id=recording.id,
        )
        created += int(new)
    return created


__all__ = ["HeardVoice", "RecordingVoices", "ServingOptions", "VoicePart", "VoiceSplitter", "day_roster",
           "VoiceSetupError", "duty_staff_nos", "other_staff", "raise_serving_flags", "site_voice_splitter",
           "someone_else_serving", "voice_options"]
