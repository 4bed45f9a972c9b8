"""One typed stream of utterances: heard → roles → rule hits → near misses verified → stored.

Every stage takes and yields :class:`HeardUtterance` items, one per utterance, in the order the
source produced them (the order segments close, for audio). Roles come first, so matching
and the costly audio verification see each utterance's final role: a citizen's words are
never verified against the audio, and never produce hits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from audio_capture.speakers import VoiceSplitOptions
from models.domain import Role, RuleHit, Utterance

# Roles whose words can produce courtesy and forbidden hits (the matcher's own default).
STAFF_SIDE = (Role.STAFF, Role.UNKNOWN)


@dataclass(frozen=True)
class HeardUtterance:
    """One utterance on its way through the stages.

    Attributes:
        utterance: what was said, offsets from the recording's start; its role is final after
            :func:`with_roles`.
        audio: its 16 kHz mono audio as transcribed, kept only until its near misses are
            verified (None for recorded transcripts, and after :func:`with_verified_near_misses`).
        hits: rule hits (staff and unknown role only): the text matcher's, then the near misses
            confirmed against the audio.
        abuse: abuse of staff found in a citizen's words (recorded, never scored against staff).
        cues: cues of 七.1 situations in what either side says (``nlp.situations``).
        voice: whose voice this is (``windowqa.speech.voices.HeardVoice``) when the pipeline
            tells voices apart; None otherwise.
        speaker: the 工号 of the voiceprint the voice split labelled this stretch staff by
            (``windowqa.speech.voices.VoicePart.speaker_key``); None for other stretches, for
            stereo utterances and without the split.
    """

    utterance: Utterance
    audio: np.ndarray | None = field(default=None, repr=False, compare=False)
    hits: tuple[RuleHit, ...] = ()
    abuse: tuple[RuleHit, ...] = ()
    cues: tuple[RuleHit, ...] = ()
    voice: Any = field(default=None, repr=False, compare=False)
    speaker: str | None = None


class Matcher(Protocol):
    """The phrase matcher's surface that the stream uses (``nlp.PhraseMatcher``)."""

    def match_many(self, utterances: Sequence[Utterance]) -> list[list[RuleHit]]: ...

    def citizen_abuse(self, utterance: Utterance) -> list[RuleHit]: ...


# (utterance, its audio, matcher) -> the matcher's near misses that the audio confirms
NearMissCheck = Callable[[Utterance, np.ndarray, Any], list[RuleHit]]

# Utterances matched together: the matcher's classifier runs once per chunk (far cheaper than
# once per utterance); the audio of a chunk's utterances is held until they are verified.
MATCH_CHUNK = 64


def _chunks(items: Iterable[HeardUtterance], size: int) -> Iterator[list[HeardUtterance]]:
    chunk: list[HeardUtterance] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= max(1, size):
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def with_roles(items: Iterable[HeardUtterance], classifier: Any | None, *, chunk: int = MATCH_CHUNK,
               join_gap_s: float | None = None) -> Iterator[HeardUtterance]:
    """Roles of ``unknown``-role (mono) utterances decided from their content; staff stretches
    of one line cut apart joined again.

    A staff stretch is joined with the staff stretch it abuts (within ``join_gap_s``, same
    channel and source) when the content gave one of the two its role, or when the voice split
    labelled both by the same voiceprint (``HeardUtterance.speaker``): the split cut one staff
    line there, and half a line can match what the whole does not (八.1's
    "这个不是我们窗口的业务" alone, without the referral that follows it), or a forbidden
    phrase cut in two matches nowhere.

    Args:
        items: the heard utterances.
        classifier: a fitted ``nlp.role.RoleClassifier``; None keeps role ``unknown``, which
            the matcher treats as staff (stretches of one voiceprint are still joined).
        chunk: utterances classified together.
        join_gap_s: the largest gap between two stretches that are joined
            (``VoiceSplitOptions.join_gap_s``; None: its default).
    """
    gap_s = VoiceSplitOptions().join_gap_s if join_gap_s is None else join_gap_s
    if classifier is not None:
        from nlp.role import assign_roles

    held: HeardUtterance | None = None  # the last staff stretch, until the next shows it ends there
    held_by_content = False
    for batch in _chunks(items, chunk):
        utterances = [item.utterance for item in batch]
        roled = assign_roles(utterances, classifier) if classifier is not None else utterances
        for item, utterance in zip(batch, roled):
            by_content = classifier is not None and item.utterance.role is Role.UNKNOWN
            item = replace(item, utterance=utterance)
            if held is not None and _abut(held.utterance, utterance, gap_s) and (
                    held_by_content or by_content or _same_speaker(held, item)):
                held, held_by_content = _joined(held, item), held_by_content or by_content
                continue
            if held is not None:
                yield held
                held = None
            # without a classifier only stretches of one voiceprint are joined: any other
            # utterance goes on at once (a live stream yields each as soon as it is decoded)
            if utterance.role is Role.STAFF and (classifier is not None or item.speaker is not None):
                held, held_by_content = item, by_content
            else:
                yield item
    if held is not None:
        yield held


def _abut(first: Utterance, second: Utterance, gap_s: float) -> bool:
    return (first.role is Role.STAFF and second.role is Role.STAFF and first.channel == second.channel
            and first.source == second.source and -1e-6 <= second.start_s - first.end_s <= gap_s)


def _same_speaker(first: HeardUtterance, second: HeardUtterance) -> bool:
    return first.speaker is not None and first.speaker == second.speaker


def _joined(first: HeardUtterance, second: HeardUtterance) -> HeardUtterance:
    """Two abutting staff stretches as one utterance (text, words, audio and voice)."""
    a, b = first.utterance, second.utterance
    weight_a, weight_b = max(a.end_s - a.start_s, 1e-3), max(b.end_s - b.start_s, 1e-3)
    utterance = replace(
        a, text=f"{a.text} {b.text}", end_s=b.end_s, words=a.words + b.words,
        confidence=(a.confidence * weight_a + b.confidence * weight_b) / (weight_a + weight_b),
        role_confidence=min(a.role_confidence, b.role_confidence))
    audio = np.concatenate([first.audio, second.audio], axis=-1) \
        if first.audio is not None and second.audio is not None else None
    voice = first.voice.joined(second.voice) if first.voice is not None and second.voice is not None \
        else first.voice or second.voice
    return replace(first, utterance=utterance, audio=audio, voice=voice)


def with_hits(items: Iterable[HeardUtterance], matcher: Matcher, *, chunk: int = MATCH_CHUNK) -> Iterator[HeardUtterance]:
    """Rule hits for staff (and unknown-role) utterances, abuse findings for citizens, situation cues for both."""
    # a matcher without situation cues (an older or a test double) finds none
    situation_cues = getattr(matcher, "situation_cues", None)
    for batch in _chunks(items, chunk):
        staff = [item for item in batch if item.utterance.role is not Role.CITIZEN]
        found = iter(matcher.match_many([item.utterance for item in staff]) if staff else [])
        for item in batch:
            cues = tuple(situation_cues(item.utterance)) if situation_cues is not None else ()
            if item.utterance.role is Role.CITIZEN:
                # what a citizen says never counts for or against staff; abuse is recorded
                yield replace(item, hits=(), abuse=tuple(matcher.citizen_abuse(item.utterance)), cues=cues)
            else:
                yield replace(item, hits=tuple(next(found)), abuse=(), cues=cues)


def with_verified_near_misses(items: Iterable[HeardUtterance], matcher: Any, check: NearMissCheck | None) -> Iterator[HeardUtterance]:
    """The matcher's near misses in staff utterances confirmed against their audio; the audio
    is dropped afterwards (an 8-hour day's utterances never sit in memory with their audio).

    Args:
        items: matched utterances (:func:`with_hits`).
        matcher: the matcher whose near misses are checked (``nlp.PhraseMatcher``).
        check: the audio check (``SpeechSource.verify_near_misses``); None verifies nothing.
    """
    for item in items:
        if check is not None and item.audio is not None and item.utterance.role in STAFF_SIDE:
            found = {h.rule_id for h in item.hits}
            confirmed = [h for h in check(item.utterance, item.audio, matcher) if h.rule_id not in found]
            item = replace(item, hits=item.hits + tuple(confirmed))
        yield replace(item, audio=None)


def utterance_stream(
    heard: Iterable[HeardUtterance],
    matcher: Matcher,
    *,
    role_classifier: Any | None = None,
    check: NearMissCheck | None = None,
    chunk: int = MATCH_CHUNK,
    join_gap_s: float | None = None,
) -> Iterator[HeardUtterance]:
    """The stages in order: roles → rule hits → near misses verified against the audio.

    ``join_gap_s``: see :func:`with_roles` (the recording's ``VoiceSplitOptions.join_gap_s``).
    """
    roled = with_roles(heard, role_classifier, chunk=chunk, join_gap_s=join_gap_s)
    return with_verified_near_misses(with_hits(roled, matcher, chunk=chunk), matcher, check)


__all__ = [
    "HeardUtterance",
    "MATCH_CHUNK",
    "Matcher",
    "NearMissCheck",
    "STAFF_SIDE",
    "utterance_stream",
    "with_hits",
    "with_roles",
    "with_verified_near_misses",
]
