"""Segments from a stream of audio blocks: VAD and gate, then windows of segments to decode together.

Recordings are processed in blocks, so an 8-hour day never sits in memory: the VAD closes
segments as the audio streams in, and only the audio of still-open segments is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from audio_capture.channels import gate_segment, gate_stretches
from audio_capture.decode import SAMPLE_RATE
from audio_capture.vad import SpeechSegment, StreamingVad
from windowqa.speech.options import PipelineOptions, PipelineStats

logger = logging.getLogger("windowqa")


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


@dataclass(frozen=True)
class Tick:
    """Where the stream is after a block: position, and per channel the start of the
    segment still open (None when none is)."""

    position_s: float
    open_starts_s: tuple[float | None, ...]


def segment_events(
    blocks: Iterable[np.ndarray], options: PipelineOptions
) -> Iterator[tuple[SpeechSegment, np.ndarray, bool, str] | Tick]:
    """:func:`segment_stream`, plus a :class:`Tick` after every block."""
    vads: list[StreamingVad] = []
    buffer: _RollingAudio | None = None
    keep_s = options.vad.max_speech_s + options.vad.hangover_ms / 1000 + options.vad.onset_window_ms / 1000 + 2.0

    def emit(segments: list[SpeechSegment]):
        for seg in sorted(segments, key=lambda s: s.start_s):
            audio = buffer.slice(int(seg.start_s * SAMPLE_RATE), int(seg.end_s * SAMPLE_RATE))
            if audio.shape[0] > 1:
                # per stretch: a segment may hold the other side's turn, heard through crosstalk
                for stretch, decision in gate_stretches(seg, audio, options.gate):
                    lo = int(round((stretch.start_s - seg.start_s) * SAMPLE_RATE))
                    hi = int(round((stretch.end_s - seg.start_s) * SAMPLE_RATE))
                    yield stretch, audio[:, lo:hi], decision.keep, decision.reason
            elif options.gate.min_above_floor_db > 0:
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
        yield Tick(buffer.end / SAMPLE_RATE, tuple(vad.open_start_s for vad in vads))
    if buffer is not None:
        closed = [seg for vad in vads for seg in vad.flush()]
        yield from emit(closed)


def segment_stream(
    blocks: Iterable[np.ndarray], options: PipelineOptions | None = None
) -> Iterator[tuple[SpeechSegment, np.ndarray, bool, str]]:
    """VAD and gate over a stream of (channels, n) 16 kHz blocks.

    Yields:
        (segment, audio of all channels over it, kept, reason) for every segment, in the
        order segments close.
    """
    for event in segment_events(blocks, options or PipelineOptions()):
        if not isinstance(event, Tick):
            yield event


def decode_windows(
    events: Iterable[tuple[SpeechSegment, np.ndarray, bool, str] | Tick], options: PipelineOptions, stats: PipelineStats, source
) -> Iterator[list[tuple[SpeechSegment, np.ndarray, int]]]:
    """Groups of kept segments to decode together: (segment, its own channel's audio, number
    of channels of the recording), one channel per group.

    A group is handed on when the next segment of its channel is too far or would make the
    window too long, as soon as no later segment can join it (a live stream does not wait for
    the next turn: nothing is open on the channel and ``merge_gap_s`` has passed, or the
    segment open now started later than that), and at the end of the stream.
    """
    pending: dict[int, list[tuple[SpeechSegment, np.ndarray, int]]] = {}

    def span_s(group, extra=None) -> float:
        items = group + ([extra] if extra else [])
        return sum(item[0].duration_s for item in items) + options.merge_join_s * (len(items) - 1)

    for event in events:
        if isinstance(event, Tick):
            for channel, group in list(pending.items()):
                open_start = event.open_starts_s[channel] if channel < len(event.open_starts_s) else None
                next_start = event.position_s if open_start is None else open_start
                if next_start - group[-1][0].end_s > options.merge_gap_s:
                    yield pending.pop(channel)
            continue
        seg, audio, keep, reason = event
        stats.segments += 1
        if not keep:
            stats.gated += 1
            logger.debug("%s: segment %.2f–%.2f s on channel %d gated: %s", source, seg.start_s, seg.end_s, seg.channel, reason)
            continue
        item = (seg, audio[seg.channel], audio.shape[0])
        group = pending.get(seg.channel)
        if group and (seg.start_s - group[-1][0].end_s > options.merge_gap_s or span_s(group, item) > options.merge_max_s):
            yield pending.pop(seg.channel)
            group = None
        if group:
            group.append(item)
        else:
            pending[seg.channel] = [item]
        if options.merge_gap_s <= 0:
            yield pending.pop(seg.channel)
    for channel in sorted(pending, key=lambda c: pending[c][0][0].start_s):
        yield pending[channel]


def batches(groups: Iterable, size: int) -> Iterator[list]:
    """Consecutive groups, ``size`` at a time (the last batch may be smaller)."""
    batch = []
    for group in groups:
        batch.append(group)
        if len(batch) >= max(1, size):
            yield batch
            batch = []
    if batch:
        yield batch
