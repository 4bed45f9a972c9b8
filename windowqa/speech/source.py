"""The speech pipeline as ingest's transcription: one recording file → heard utterances.

A :class:`SpeechSource` keeps each utterance's audio with it, so that ingest can verify the
matcher's near misses in staff utterances against that audio, with the same Whisper model,
after roles are known (:mod:`windowqa.utterance_stream`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from asr.transcriber import Transcriber
from audio_capture.channels import ChannelMap
from models.domain import RuleHit, Utterance
from windowqa.speech.options import PipelineOptions
from windowqa.speech.pipeline import for_recording, heard_utterances, recording_blocks
from windowqa.speech.verify import VerifyOptions, verify_near_misses
from windowqa.speech.voices import HeardVoice, VoiceSplitter, raise_serving_flags
from windowqa.utterance_stream import HeardUtterance


def window_channel_map(channel_map: dict[str, str] | None) -> ChannelMap | None:
    """A window's stored channel map (``{"0": "staff", "1": "citizen"}``) as a ``ChannelMap``."""
    if not channel_map:
        return None
    roles = [channel_map[k] for k in sorted(channel_map, key=int)]
    return ChannelMap.parse(",".join(roles))


@dataclass(frozen=True)
class SpeechSource:
    """Recording files transcribed by the speech pipeline (a ``windowqa.ingest.Transcribe``).

    Attributes:
        transcriber: an ``asr.Transcriber`` (built explicitly by the caller).
        pipeline: VAD, gate, block size and decoding windows.
        verify: thresholds of the audio verification of near misses; None verifies nothing
            (and keeps no audio).
        voice: splits mono recordings by voice and tells who is serving
            (:class:`~windowqa.speech.voices.VoiceSplitter`); None: neither.
        enhancer: cleans the staff channel of stereo recordings with the voiceprint of the
            staff member rostered there (``audio_capture.enhance``; needs ``voice`` for the
            voiceprints); None: off (the default: on the dev clips it did not help, see README).
    """

    transcriber: Transcriber
    pipeline: PipelineOptions = PipelineOptions()
    verify: VerifyOptions | None = VerifyOptions()
    voice: VoiceSplitter | None = None
    enhancer: Any | None = None

    def __call__(self, path: Path, *, started_at: datetime | None, channel_map: dict[str, str] | None) -> Iterator[HeardUtterance]:
        """The recording's utterances as segments close, each with its audio when verifying.

        Raises:
            audio_capture.AudioDecodeError: the file cannot be decoded (names the file and why).
        """
        roles = window_channel_map(channel_map) or ChannelMap()
        options = for_recording(path, self.pipeline, roles)
        blocks, n_channels = recording_blocks(path, options, roles)
        voices = self.voice.for_recording(started_at) if self.voice is not None else None
        for heard in heard_utterances(
            blocks,
            self.transcriber,
            options=options,
            channel_map=roles,
            n_channels=n_channels,
            recording_started_at=started_at,
            source=str(path),
            voices=voices,
            enhance=self._enhance(voices),
        ):
            yield heard if self.verify is not None else replace(heard, audio=None)

    def _enhance(self, voices: Any) -> Any:
        """The staff-channel enhancement of one recording: conditioned on the voiceprint of the
        staff member rostered there (the first by 工号 when several are); None without one."""
        if self.enhancer is None or voices is None:
            return None
        on_duty = sorted(k for k in voices.rostered if k in voices.voiceprints)
        if not on_duty:
            return None
        voiceprint, enhancer = voices.voiceprints[on_duty[0]], self.enhancer
        return lambda samples: enhancer.enhance(samples, voiceprint)

    def verify_near_misses(self, utterance: Utterance, audio: np.ndarray, matcher: Any) -> list[RuleHit]:
        """The matcher's near misses in ``utterance`` that its audio confirms (none when not verifying)."""
        if self.verify is None:
            return []
        return verify_near_misses(utterance, audio, matcher, self.transcriber, self.verify)

    def serving_flags(self, session: Any, recording: Any, voices: list[tuple[Utterance, HeardVoice]]) -> int:
        """Who-is-serving flags of one stored recording (none without a voice splitter)."""
        if self.voice is None or not voices:
            return 0
        return raise_serving_flags(session, recording, voices, self.voice.serving)

    @property
    def join_gap_s(self) -> float | None:
        """How close two staff stretches are joined (``VoiceSplitOptions.join_gap_s``, stored
        with the split options); None without a voice splitter (the default applies)."""
        return self.voice.split.join_gap_s if self.voice is not None else None

    def describe(self) -> dict[str, Any]:
        """The pipeline, verification and voice options, stored with each recording."""
        described = {"pipeline": asdict(self.pipeline), "verify": asdict(self.verify) if self.verify is not None else None}
        if self.voice is not None:  # absent: no voice checks (as before they existed)
            described["voice"] = self.voice.describe()
        if self.enhancer is not None:
            described["enhancer"] = self.enhancer.name
        return described


__all__ = ["SpeechSource", "window_channel_map"]
