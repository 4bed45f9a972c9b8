"""The speech pipeline: audio file or stream → VAD segments → gate → Whisper → utterances.

This module composes ``audio_capture`` and ``asr``; neither imports the other. Segmentation
and the grouping of segments into decoding windows live in :mod:`windowqa.speech.segments`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from asr.transcriber import Transcriber
from audio_capture.channels import ChannelMap
from audio_capture.decode import SAMPLE_RATE, probe_audio, stream_audio
from audio_capture.level import gain_to, measure_recording
from models.domain import Role, Utterance
from windowqa.speech.options import PipelineOptions, PipelineStats
from windowqa.speech.segments import Tick, batches, decode_windows, segment_events
from windowqa.utterance_stream import HeardUtterance

logger = logging.getLogger("windowqa")


def heard_utterances(
    blocks: Iterable[np.ndarray],
    transcriber: Transcriber,
    *,
    options: PipelineOptions | None = None,
    channel_map: ChannelMap | None = None,
    n_channels: int | None = None,
    recording_started_at: datetime | None = None,
    source: str | None = None,
    stats: PipelineStats | None = None,
    voices: Any | None = None,
    enhance: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[HeardUtterance]:
    """Utterances with their own channel's audio, from a stream of (channels, n) 16 kHz
    float32 blocks, as segments close (arguments as :func:`transcribe_blocks`).

    ``enhance`` (e.g. VoiceFilter-Lite conditioned on the staff member's voiceprint,
    :class:`audio_capture.enhance.Enhancer`) cleans each kept segment of a staff channel
    before it is decoded; the utterance carries the cleaned audio.

    ``voices`` (a :class:`windowqa.speech.voices.RecordingVoices`) splits mono segments by
    voice before decoding, each stretch with its role, and tells staff-channel voices apart
    (who is serving); None keeps one utterance per segment and the channel map's roles.
    """
    options = options or PipelineOptions()
    channel_map = channel_map or ChannelMap()
    stats = stats if stats is not None else PipelineStats()

    def counted(blocks):
        for block in blocks:
            stats.audio_s += np.atleast_2d(block).shape[1] / SAMPLE_RATE
            yield block

    started = time.perf_counter()
    events = segment_events(counted(blocks), options)
    parts: dict[tuple[int, float], Any] = {}
    if voices is not None:
        events = _split_by_voice(events, voices, parts)
    if enhance is not None:
        events = _enhanced(events, enhance, channel_map, n_channels)
    for batch in batches(decode_windows(events, options, stats, source), options.batch_windows):
        decoded = transcriber.transcribe_groups(
            [([a for _, a, _ in group], [seg.start_s for seg, _, _ in group]) for group in batch],
            join_s=options.merge_join_s,
        )
        for group, results in zip(batch, decoded):
            for (seg, samples, recording_channels), result in zip(group, results):
                part = parts.pop((seg.channel, seg.start_s), None)
                utterance = transcriber.utterance_from_result(
                    result,
                    role=part.role if part is not None else channel_map.role_for(seg.channel, n_channels or recording_channels),
                    window=channel_map.window,
                    channel=seg.channel,
                    recording_started_at=recording_started_at,
                    source=source,
                )
                if utterance is None:
                    stats.dropped += 1
                    continue
                stats.utterances += 1
                voice = part.voice if part is not None else None
                if voices is not None and part is None and utterance.role is Role.STAFF:
                    voice = voices.identify(samples)  # stereo: whose voice serves at the window
                stats.compute_s = time.perf_counter() - started
                yield HeardUtterance(utterance, samples, voice=voice,
                                     speaker=part.speaker_key if part is not None else None)
    stats.compute_s = time.perf_counter() - started


def _enhanced(events: Iterable, enhance: Callable[[np.ndarray], np.ndarray], channel_map: ChannelMap,
              n_channels: int | None) -> Iterator:
    """Kept segments of staff channels with their own channel enhanced (others as they are)."""
    for event in events:
        if isinstance(event, Tick):
            yield event
            continue
        seg, audio, keep, reason = event
        if keep and channel_map.role_for(seg.channel, n_channels or audio.shape[0]) is Role.STAFF and audio.shape[1]:
            audio = audio.copy()
            audio[seg.channel] = enhance(audio[seg.channel])
        yield seg, audio, keep, reason


def _split_by_voice(events: Iterable, voices: Any, parts: dict) -> Iterator:
    """Kept mono segments cut into their stretches of one voice; each stretch's part (role,
    voice) is left in ``parts`` under (channel, start) for the decoded utterance."""
    for event in events:
        if isinstance(event, Tick):
            yield event
            continue
        seg, audio, keep, reason = event
        if not keep or audio.shape[0] != 1:
            yield event
            continue
        for part in voices.split(seg, audio[0]):
            lo = int(round((part.start_s - seg.start_s) * SAMPLE_RATE))
            hi = int(round((part.end_s - seg.start_s) * SAMPLE_RATE))
            stretch = replace(seg, start_s=part.start_s, end_s=part.end_s)
            parts[(stretch.channel, stretch.start_s)] = part
            yield stretch, audio[:, lo:hi], True, reason


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
    for heard in heard_utterances(
        blocks,
        transcriber,
        options=options,
        channel_map=channel_map,
        n_channels=n_channels,
        recording_started_at=recording_started_at,
        source=source,
        stats=stats,
    ):
        yield heard.utterance


def mapped_blocks(blocks: Iterable[np.ndarray], channel_map: ChannelMap | None) -> Iterator[np.ndarray]:
    """``blocks`` with the channels that ``channel_map`` gives no role silenced.

    Silenced, not removed: channel numbers stay the file's, and a silent channel never wins
    the crosstalk comparison nor opens the VAD. (Ingest reports speech on those channels.)
    """
    for block in blocks:
        block = np.atleast_2d(block)
        unassigned = channel_map.unassigned(block.shape[0]) if channel_map is not None else ()
        if unassigned:
            block = block.copy()
            block[list(unassigned)] = 0.0
        yield block


def for_recording(path: str | Path, options: PipelineOptions, channel_map: ChannelMap | None = None) -> PipelineOptions:
    """``options`` for one recording file, from one streamed pass over it: the VAD's gain
    (``level_target_dbfs``) and whether its channels hold one source (``common_source_db``).
    Channels that ``channel_map`` gives no role are left out of the measurement.

    Raises:
        audio_capture.AudioDecodeError: the file cannot be decoded (names the file and why).
    """
    if options.level_target_dbfs is None and options.common_source_db <= 0:
        return options
    levels = measure_recording(mapped_blocks(stream_audio(path, block_s=options.block_s), channel_map))
    gain_db = 0.0
    if options.level_target_dbfs is not None:
        gain_db = gain_to(levels, target_dbfs=options.level_target_dbfs, max_gain_db=options.max_gain_db)
        if gain_db:
            logger.info("%s: quiet recording, VAD gain %+.1f dB", path, gain_db)
    downmix = options.downmix or (
        levels.channel_difference_db is not None and levels.channel_difference_db < options.common_source_db
    )
    if downmix and not options.downmix:
        logger.info(
            "%s: the channels hold the same speech (%.1f dB apart): transcribed as mono", path, levels.channel_difference_db
        )
    return replace(options, vad=replace(options.vad, gain_db=gain_db), downmix=downmix)


def recording_blocks(
    path: str | Path, options: PipelineOptions, channel_map: ChannelMap | None = None
) -> tuple[Iterator[np.ndarray], int]:
    """The 16 kHz blocks of a recording file as the pipeline reads them, and their number of
    channels: the channels ``channel_map`` gives no role silenced (:func:`mapped_blocks`), or
    the mean of the mapped ones when ``options.downmix``.

    Raises:
        audio_capture.AudioDecodeError: the file cannot be decoded (names the file and why).
    """
    info = probe_audio(path)
    blocks = stream_audio(path, block_s=options.block_s)
    if options.downmix and info.channels > 1:
        unassigned = set(channel_map.unassigned(info.channels)) if channel_map is not None else set()
        kept = [c for c in range(info.channels) if c not in unassigned] or list(range(info.channels))
        return (np.atleast_2d(block)[kept].mean(axis=0, keepdims=True) for block in blocks), 1
    return mapped_blocks(blocks, channel_map), info.channels


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
    options = for_recording(path, options or PipelineOptions(), channel_map)
    blocks, n_channels = recording_blocks(path, options, channel_map)
    utterances = list(
        transcribe_blocks(
            blocks,
            transcriber,
            options=options,
            channel_map=channel_map,
            n_channels=n_channels,
            recording_started_at=recording_started_at,
            source=str(path),
            stats=stats,
        )
    )
    return sorted(utterances, key=lambda u: (u.start_s, u.channel or 0))
