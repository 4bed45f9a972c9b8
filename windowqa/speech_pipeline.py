"""The speech pipeline: audio file or stream → VAD segments → gate → Whisper → utterances,
and phrase verification of near misses against the audio.

This module composes ``audio_capture``, ``asr`` and ``nlp``; none of them imports another.
Recordings are processed in blocks, so an 8-hour day never sits in memory: the VAD closes
segments as the audio streams in, and only the audio of still-open segments is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from asr.transcriber import Transcriber
from audio_capture.channels import ChannelMap, GateOptions, gate_segment
from audio_capture.decode import SAMPLE_RATE, probe_audio, stream_audio
from audio_capture.vad import SpeechSegment, StreamingVad, VadOptions
from models.domain import MatchMethod, Role, RuleHit, Utterance

logger = logging.getLogger("windowqa")


@dataclass(frozen=True)
class PipelineOptions:
    """Options of the whole speech pipeline (each stage's options inside).

    Attributes:
        vad: segmentation.
        gate: crosstalk and hall-floor gate (applied to stereo; to mono only the floor part).
        block_s: seconds decoded per block when streaming a file.
    """

    vad: VadOptions = field(default_factory=VadOptions)
    gate: GateOptions = field(default_factory=GateOptions)
    block_s: float = 30.0


@dataclass
class PipelineStats:
    """What happened to one recording."""

    audio_s: float = 0.0
    compute_s: float = 0.0
    segments: int = 0
    gated: int = 0
    dropped: int = 0
    utterances: int = 0

    @property
    def rtf(self) -> float:
        return self.compute_s / self.audio_s if self.audio_s else 0.0


class _RollingAudio:
    """The last part of a multi-channel stream, addressable by absolute sample index."""

    def __init__(self, channels: int) -> None:
        self.start = 0
        self.data = np.zeros((channels, 0), np.float32)

    @property
    def end(self) -> int:
        return self.start + self.data.shape[1]

    def append(self, block: np.ndarray) -> None:
        self.data = np.concatenate([self.data, block], axis=1)

    def slice(self, start: int, end: int) -> np.ndarray:
        lo, hi = max(start, self.start) - self.start, min(end, self.end) - self.start
        return self.data[:, lo:max(lo, hi)]

    def trim_before(self, index: int) -> None:
        cut = min(max(0, index - self.start), self.data.shape[1])
        if cut:
            self.data = self.data[:, cut:]
            self.start += cut


def segment_stream(
    blocks: Iterable[np.ndarray], options: PipelineOptions | None = None
) -> Iterator[tuple[SpeechSegment, np.ndarray, bool, str]]:
    """VAD and gate over a stream of (channels, n) 16 kHz blocks.

    Yields:
        (segment, audio of all channels over it, kept, reason) for every segment, in the
        order segments close.
    """
    options = options or PipelineOptions()
    vads: list[StreamingVad] = []
    buffer: _RollingAudio | None = None
    keep_s = options.vad.max_speech_s + options.vad.hangover_ms / 1000 + options.vad.onset_window_ms / 1000 + 2.0

    def emit(segments: list[SpeechSegment]):
        for seg in sorted(segments, key=lambda s: s.start_s):
            audio = buffer.slice(int(seg.start_s * SAMPLE_RATE), int(seg.end_s * SAMPLE_RATE))
            if audio.shape[0] > 1 or options.gate.min_above_floor_db > 0:
                decision = gate_segment(seg, audio, options.gate)
                yield seg, audio, decision.keep, decision.reason
            else:
                yield seg, audio, True, "kept"

    for block in blocks:
        block = np.atleast_2d(block)
        if buffer is None:
            buffer = _RollingAudio(block.shape[0])
            vads = [StreamingVad(options.vad, channel=c) for c in range(block.shape[0])]
        buffer.append(block)
        closed: list[SpeechSegment] = []
        for c, vad in enumerate(vads):
            closed.extend(vad.feed(block[c]))
        yield from emit(closed)
        buffer.trim_before(buffer.end - int(keep_s * SAMPLE_RATE))
    if buffer is not None:
        closed = [seg for vad in vads for seg in vad.flush()]
        yield from emit(closed)


def transcribe_blocks(
    blocks: Iterable[np.ndarray],
    transcriber: Transcriber,
    *,
    options: PipelineOptions | None = None,
    channel_map: ChannelMap | None = None,
    n_channels: int | None = None,
    recording_started_at: datetime | None = None,
    source: str | None = None,
    stats: PipelineStats | None = None,
) -> Iterator[Utterance]:
    """Utterances from a stream of (channels, n) 16 kHz float32 blocks, as segments close."""
    options = options or PipelineOptions()
    channel_map = channel_map or ChannelMap()
    stats = stats if stats is not None else PipelineStats()

    def counted(blocks):
        for block in blocks:
            stats.audio_s += np.atleast_2d(block).shape[1] / SAMPLE_RATE
            yield block

    started = time.perf_counter()
    for seg, audio, keep, reason in segment_stream(counted(blocks), options):
        stats.segments += 1
        if not keep:
            stats.gated += 1
            logger.debug("%s: segment %.2f–%.2f s on channel %d gated: %s", source, seg.start_s, seg.end_s, seg.channel, reason)
            continue
        channels = n_channels or audio.shape[0]
        utterance = transcriber.transcribe_utterance(
            audio[seg.channel],
            start_s=seg.start_s,
            role=channel_map.role_for(seg.channel, channels),
            window=channel_map.window,
            channel=seg.channel,
            recording_started_at=recording_started_at,
            source=source,
        )
        if utterance is None:
            stats.dropped += 1
            continue
        stats.utterances += 1
        stats.compute_s = time.perf_counter() - started
        yield utterance
    stats.compute_s = time.perf_counter() - started


def transcribe_file(
    path: str | Path,
    transcriber: Transcriber,
    *,
    options: PipelineOptions | None = None,
    channel_map: ChannelMap | None = None,
    recording_started_at: datetime | None = None,
    stats: PipelineStats | None = None,
) -> list[Utterance]:
    """All utterances of one recording, sorted by start time.

    Raises:
        audio_capture.AudioDecodeError: the file cannot be decoded (names the file and why).
    """
    options = options or PipelineOptions()
    info = probe_audio(path)
    utterances = list(
        transcribe_blocks(
            stream_audio(path, block_s=options.block_s),
            transcriber,
            options=options,
            channel_map=channel_map,
            n_channels=info.channels,
            recording_started_at=recording_started_at,
            source=str(path),
            stats=stats,
        )
    )
    return sorted(utterances, key=lambda u: (u.start_s, u.channel or 0))
