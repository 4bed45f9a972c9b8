"""A staff member's voiceprint: from recordings of them alone (:func:`enrol_from_files`,
``windowqa voice enroll FILES``) or from their own lapel-microphone utterances already ingested.

Stereo windows record the staff member alone on the lapel channel, so every staff utterance
stored for them there is enrolment speech for free: ``windowqa voice enroll --from-store``.
Only utterances of recordings with more than one channel count (a mono recording's roles are
inferred), and only while the recording's audio is still in the archive. The audio is read
for the embedding and never stored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from audio_capture.decode import SAMPLE_RATE, probe_audio, stream_audio
from audio_capture.errors import AudioDecodeError
from models.db import Recording, Staff
from models.db import Utterance as UtteranceRow
from models.domain import Role


@dataclass(frozen=True)
class StoreEnrolOptions:
    """Which stored utterances make a voiceprint.

    Attributes:
        min_utterance_s: shorter utterances are left out (little voice, often a cut word).
        max_speech_s: speech used at most (newest recordings first); more adds little.
    """

    min_utterance_s: float = 1.0
    max_speech_s: float = 120.0


@dataclass
class LapelSpeech:
    """A staff member's lapel speech read from the archive.

    Attributes:
        samples: the utterances one after another (16 kHz mono).
        utterances: how many were used.
        sources: the recordings' file names.
        missing: recordings whose audio is no longer in the archive (or unreadable).
        stored: whether a voiceprint was stored from it.
        options: the settings used.
    """

    samples: np.ndarray
    utterances: int = 0
    sources: list[str] = field(default_factory=list)
    missing: int = 0
    stored: bool = False
    options: StoreEnrolOptions = StoreEnrolOptions()

    @property
    def speech_s(self) -> float:
        return self.samples.size / SAMPLE_RATE


def _slices(path: Path, channel: int, spans: list[tuple[float, float]], block_s: float = 30.0) -> list[np.ndarray]:
    """The given (start_s, end_s) stretches of one channel, read in blocks (a day's file never
    sits in memory)."""
    want = sorted((int(a * SAMPLE_RATE), int(b * SAMPLE_RATE)) for a, b in spans)
    out: list[list[np.ndarray]] = [[] for _ in want]
    pos = 0
    for block in stream_audio(path, block_s=block_s):
        row = np.atleast_2d(block)[channel]
        lo_block, hi_block = pos, pos + row.size
        for k, (a, b) in enumerate(want):
            lo, hi = max(a, lo_block), min(b, hi_block)
            if lo < hi:
                out[k].append(row[lo - lo_block:hi - lo_block])
        pos = hi_block
        if want and pos >= want[-1][1]:
            break
    return [np.concatenate(parts).astype(np.float32) for parts in out if parts]


def lapel_speech(session: Session, staff_no: str, archive_dir: Path | None,
                 options: StoreEnrolOptions = StoreEnrolOptions()) -> LapelSpeech:
    """The staff member's own staff-channel utterances of stereo recordings, newest first.

    Args:
        session: an open session.
        staff_no: the 工号.
        archive_dir: where ingest archived the audio (stored paths are relative to it).
        options: which utterances.

    Raises:
        LookupError: no such 工号.
    """
    staff = session.scalar(select(Staff).where(Staff.staff_no == staff_no))
    if staff is None:
        raise LookupError(f"unknown staff 工号 {staff_no!r}")
    rows = session.execute(
        select(Recording.id, Recording.path, UtteranceRow.channel, UtteranceRow.start_s, UtteranceRow.end_s)
        .join(Recording, Recording.id == UtteranceRow.recording_id)
        .where(UtteranceRow.staff_id == staff.id, UtteranceRow.role == Role.STAFF, UtteranceRow.channel.is_not(None),
               UtteranceRow.end_s - UtteranceRow.start_s >= options.min_utterance_s)
        .order_by(Recording.started_at.desc(), UtteranceRow.start_s)
    ).all()
    by_recording: dict[tuple[int, str, int], list[tuple[float, float]]] = defaultdict(list)
    for rec_id, stored, channel, start_s, end_s in rows:
        by_recording[(rec_id, stored, channel)].append((start_s, end_s))
    result = LapelSpeech(np.zeros(0, np.float32), options=options)
    pieces: list[np.ndarray] = []
    for (_, stored, channel), spans in by_recording.items():
        if result.speech_s >= options.max_speech_s:
            break
        path = Path(stored)
        path = path if path.is_absolute() or archive_dir is None else archive_dir / path
        try:
            if probe_audio(path).channels < 2:
                continue  # a mono recording: its roles were inferred, not a lapel microphone
            found = _slices(path, channel, spans)
        except (AudioDecodeError, OSError):
            result.missing += 1
            continue
        pieces.extend(found)
        result.utterances += len(found)
        result.sources.append(path.name)
        result.samples = np.concatenate(pieces)[: int(options.max_speech_s * SAMPLE_RATE)]
    return result


def enrol_from_store(session: Session, staff_no: str, engine: Any, archive_dir: Path | None, *,
                     min_speech_s: float = 3.0, options: StoreEnrolOptions = StoreEnrolOptions()) -> LapelSpeech:
    """Store a voiceprint from the staff member's lapel utterances (the audio is not kept).

    Returns:
        The speech found; nothing is stored (``stored`` False) with less than ``min_speech_s``.

    Raises:
        LookupError: no such 工号.
    """
    from audio_capture.voiceprints import save_voiceprint

    speech = lapel_speech(session, staff_no, archive_dir, options)
    if speech.speech_s < min_speech_s:
        return speech
    save_voiceprint(session, staff_no, engine.embed(speech.samples), engine=engine.name,
                    sources=[f"store:{name}" for name in speech.sources], speech_s=speech.speech_s)
    speech.stored = True
    return speech


@dataclass
class FileSpeech:
    """The speech of enrolment files (silence trimmed), and whether a voiceprint was stored."""

    speech_s: float
    stored: bool = False


def enrol_from_files(session: Session, staff_no: str, engine: Any, files: list[Path], *, channel: int = 0,
                     min_speech_s: float = 3.0, create_name: str | None = None) -> FileSpeech:
    """Store a voiceprint from recordings of the staff member alone (the audio is not kept).

    Args:
        files: their lapel microphone, or a short reading at the window.
        channel: the channel to use in a multi-channel file (the last one when it has fewer).

    Returns:
        The speech found; nothing is stored (``stored`` False) with less than ``min_speech_s``.

    Raises:
        audio_capture.AudioDecodeError: a file cannot be decoded (names it and why).
        audio_capture.voiceprints.UnknownStaffNoError: no such 工号 and no ``create_name``.
    """
    from audio_capture.decode import decode_audio
    from audio_capture.voice_eval import trim_silence
    from audio_capture.voiceprints import save_voiceprint

    parts = []
    for path in files:
        samples = decode_audio(path).samples
        parts.append(trim_silence(samples[min(channel, samples.shape[0] - 1)]))
    speech = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    result = FileSpeech(speech.size / SAMPLE_RATE)
    if result.speech_s < min_speech_s:
        return result
    save_voiceprint(session, staff_no, engine.embed(speech), engine=engine.name, sources=files,
                    speech_s=result.speech_s, create_name=create_name)
    result.stored = True
    return result


__all__ = ["FileSpeech", "LapelSpeech", "StoreEnrolOptions", "enrol_from_files", "enrol_from_store", "lapel_speech"]
