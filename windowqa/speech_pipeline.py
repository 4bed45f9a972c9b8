"""The speech pipeline: audio file or stream → VAD segments → gate → Whisper → utterances,
and phrase verification of near misses against the audio.

This module composes ``audio_capture``, ``asr`` and ``nlp``; none of them imports another.
Recordings are processed in blocks, so an 8-hour day never sits in memory: the VAD closes
segments as the audio streams in, and only the audio of still-open segments is kept.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from asr.transcriber import Transcriber
from audio_capture.channels import ChannelMap, GateOptions, gate_segment, gate_stretches
from audio_capture.decode import SAMPLE_RATE, probe_audio, stream_audio
from audio_capture.level import gain_to, measure_recording
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
        merge_gap_s: kept segments of the same channel that start at most this long after
            the previous one ended are decoded together in one window (``0`` decodes every
            segment alone). Each still becomes its own utterance (words are split back by
            time); only audio is joined, never earlier text.
        merge_max_s: longest joined window (segments plus the silences between them).
        merge_join_s: digital silence put between joined segments.
        batch_windows: windows (single or joined segments) decoded together in one batch:
            on a CPU the beam search costs about half as much per window in batches of four.
        level_target_dbfs: a recording file is measured first and its VAD runs on it raised
            to this level (at most ``max_gain_db``; never lowered), so a far-field or
            low-gain recording is segmented like a normal one (:func:`for_recording`).
        max_gain_db: the largest such gain.
        common_source_db: a recording file with two channels whose loud frames differ by
            less than this (median) holds the same speech in both channels (a broadcast, a
            meeting recorder), not a window's two microphones: it is transcribed as mono
            (``downmix``). As two microphones, the crosstalk gate would drop all of it.
        downmix: transcribe the mean of the channels as one mono channel (set by
            :func:`for_recording`).
    """

    vad: VadOptions = field(default_factory=VadOptions)
    gate: GateOptions = field(default_factory=GateOptions)
    block_s: float = 30.0
    # Measured with benchmarks/bench_asr.py's 10.6 min recording (Whisper base int8, 2 threads,
    # shared machine): every segment alone 9.7 % CER; joined up to 15 s 8.7 %, 13 of 84
    # segments skipped by the decoder (decoded again alone); up to 20 s 8.8 %, 1 skipped, as
    # fast. The CER differences are within about 1 point of noise on 1153 characters.
    merge_gap_s: float = 6.0
    merge_max_s: float = 20.0
    merge_join_s: float = 0.4
    # Windows decoded in one batch (one encoder call, one beam search). A batch waits for its
    # last window, so live capture decodes each window as soon as it closes (1).
    batch_windows: int = 4
    # A quiet recording's VAD works as if it had been recorded at this level (loud frames);
    # None keeps the recorded level. Live capture keeps it too (no look-ahead).
    level_target_dbfs: float | None = -20.0
    max_gain_db: float = 30.0
    common_source_db: float = 4.0
    downmix: bool = False


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


@dataclass(frozen=True)
class _Tick:
    """Where the stream is after a block: position, and per channel the start of the
    segment still open (None when none is)."""

    position_s: float
    open_starts_s: tuple[float | None, ...]


def _segment_events(
    blocks: Iterable[np.ndarray], options: PipelineOptions
) -> Iterator[tuple[SpeechSegment, np.ndarray, bool, str] | _Tick]:
    """:func:`segment_stream`, plus a :class:`_Tick` after every block."""
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
        yield _Tick(buffer.end / SAMPLE_RATE, tuple(vad.open_start_s for vad in vads))
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
    for event in _segment_events(blocks, options or PipelineOptions()):
        if not isinstance(event, _Tick):
            yield event


def _decode_windows(
    events: Iterable[tuple[SpeechSegment, np.ndarray, bool, str] | _Tick], options: PipelineOptions, stats: PipelineStats, source
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
        if isinstance(event, _Tick):
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


def _utterances_with_audio(
    blocks: Iterable[np.ndarray],
    transcriber: Transcriber,
    *,
    options: PipelineOptions | None = None,
    channel_map: ChannelMap | None = None,
    n_channels: int | None = None,
    recording_started_at: datetime | None = None,
    source: str | None = None,
    stats: PipelineStats | None = None,
) -> Iterator[tuple[Utterance, np.ndarray]]:
    options = options or PipelineOptions()
    channel_map = channel_map or ChannelMap()
    stats = stats if stats is not None else PipelineStats()

    def counted(blocks):
        for block in blocks:
            stats.audio_s += np.atleast_2d(block).shape[1] / SAMPLE_RATE
            yield block

    started = time.perf_counter()
    events = _segment_events(counted(blocks), options)
    for batch in _batches(_decode_windows(events, options, stats, source), options.batch_windows):
        decoded = transcriber.transcribe_groups(
            [([a for _, a, _ in group], [seg.start_s for seg, _, _ in group]) for group in batch],
            join_s=options.merge_join_s,
        )
        for group, results in zip(batch, decoded):
            for (seg, samples, recording_channels), result in zip(group, results):
                utterance = transcriber.utterance_from_result(
                    result,
                    role=channel_map.role_for(seg.channel, n_channels or recording_channels),
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
                yield utterance, samples
    stats.compute_s = time.perf_counter() - started


def _batches(groups: Iterable, size: int) -> Iterator[list]:
    """Consecutive groups, ``size`` at a time (the last batch may be smaller)."""
    batch = []
    for group in groups:
        batch.append(group)
        if len(batch) >= max(1, size):
            yield batch
            batch = []
    if batch:
        yield batch


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
    for utterance, _ in _utterances_with_audio(
        blocks,
        transcriber,
        options=options,
        channel_map=channel_map,
        n_channels=n_channels,
        recording_started_at=recording_started_at,
        source=source,
        stats=stats,
    ):
        yield utterance


def for_recording(path: str | Path, options: PipelineOptions) -> PipelineOptions:
    """``options`` for one recording file, from one streamed pass over it: the VAD's gain
    (``level_target_dbfs``) and whether its channels hold one source (``common_source_db``).

    Raises:
        audio_capture.AudioDecodeError: the file cannot be decoded (names the file and why).
    """
    if options.level_target_dbfs is None and options.common_source_db <= 0:
        return options
    levels = measure_recording(stream_audio(path, block_s=options.block_s))
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


def recording_blocks(path: str | Path, options: PipelineOptions) -> tuple[Iterator[np.ndarray], int]:
    """The 16 kHz blocks of a recording file as the pipeline reads them (the channels' mean
    when ``options.downmix``), and their number of channels.

    Raises:
        audio_capture.AudioDecodeError: the file cannot be decoded (names the file and why).
    """
    info = probe_audio(path)
    blocks = stream_audio(path, block_s=options.block_s)
    if options.downmix and info.channels > 1:
        return (np.atleast_2d(block).mean(axis=0, keepdims=True) for block in blocks), 1
    return blocks, info.channels


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
    options = for_recording(path, options or PipelineOptions())
    blocks, n_channels = recording_blocks(path, options)
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


# --- phrase verification ------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyOptions:
    """When a near miss of the text matcher is confirmed against the audio.

    The utterance's free transcript and the same transcript with the near-miss span replaced
    by the rule's wording are both scored on the utterance's audio by the same Whisper model
    (teacher-forced log-probabilities). The rule's wording is accepted only when its tokens
    explain the audio nearly as well as the decoder's own tokens for that span did, given the
    same preceding text, and are themselves a likely reading.

    A wording with slots (请到××窗口办理) is scored with each inner ×× filled by the transcript's
    own text for that slot (``NearMiss.slot_spans``: 请到一岛窗口办理 for 请到一岛枪头办理),
    and a ×× at either end of the wording left out (its filler lies outside the span, in the
    prefix or suffix both readings share). The filler is the decoder's own text on both sides,
    so its tokens are left out of both means: only the rule's fixed words are compared with
    what the decoder wrote in their place, at the same thresholds as a wording without slots.
    A near miss whose slot filler is empty is not verified.

    Attributes:
        max_deficit_per_token: the mean log-probability of the rule's tokens may fall short of
            the free span's by at most this much (nats per token).
        min_candidate_logprob: mean log-probability per token the rule's wording must reach.
        max_candidates: near misses verified per utterance (best pinyin scores first).
    """

    # Calibrated on the synthesised bank at 10 dB SNR babble (seed 0, 61 near misses): the
    # spoken wordings had span deficits up to 0.53 nats/token (and one at 1.36), the first
    # unspoken one came at 1.33; benchmarks/make_noisy_phrases.py --seed 1 is the check set.
    max_deficit_per_token: float = 0.8
    min_candidate_logprob: float = -1.25
    max_candidates: int = 4


def _span_scores(
    transcriber: Transcriber,
    audio: np.ndarray,
    prefix: str,
    free_pieces: list[tuple[str, bool]],
    rule_pieces: list[tuple[str, bool]],
    suffix: str,
):
    """Log-probabilities of the free span's tokens and of the rule wording's tokens (each after
    the same prefix), and of the whole rule sentence; each sequence in its better script.

    A span is given as pieces ``(text, is_filler)``, tokenised apart so each token is known to
    belong to a slot filler or not; the masks say which tokens are fillers. All readings are
    scored in one call (one pass of the encoder over the audio).
    """
    token_lists: list[list[int]] = []
    layouts: list[tuple[int, int, np.ndarray]] = []  # (which span, head length, filler mask)
    for which, pieces in enumerate((free_pieces, rule_pieces)):
        joined = "\x00".join([prefix, *(text for text, _ in pieces), suffix])
        for variant in transcriber.script_variants(joined):
            parts = variant.split("\x00")
            if len(parts) != len(pieces) + 2:  # a conversion that ate a separator: not comparable
                continue
            head = transcriber.encode_text(parts[0])
            body: list[int] = []
            mask: list[bool] = []
            for (_, is_filler), text in zip(pieces, parts[1:-1]):
                ids = transcriber.encode_text(text)
                body += ids
                mask += [is_filler] * len(ids)
            token_lists.append(head + body + transcriber.encode_text(parts[-1]))
            layouts.append((which, len(head), np.asarray(mask, dtype=bool)))
    logprobs = transcriber.token_logprobs(audio, token_lists)
    best: dict[int, tuple[float, np.ndarray, np.ndarray, np.ndarray]] = {}
    for (which, n_head, mask), lp in zip(layouts, logprobs):
        total = float(lp.sum())
        if which not in best or total > best[which][0]:
            best[which] = (total, lp[n_head : n_head + len(mask)], mask, lp)
    _, free_span_lp, free_mask, _ = best[0]
    _, rule_span_lp, rule_mask, rule_lp = best[1]
    return free_span_lp, free_mask, rule_span_lp, rule_mask, rule_lp


def verify_near_misses(
    utterance: Utterance,
    audio: np.ndarray,
    matcher,
    transcriber: Transcriber,
    options: VerifyOptions | None = None,
) -> list[RuleHit]:
    """Confirm the matcher's near misses in ``utterance`` against its audio.

    Args:
        utterance: a transcribed utterance (staff or unknown role).
        audio: the utterance's 16 kHz mono audio (as transcribed).
        matcher: an ``nlp.PhraseMatcher``.
        transcriber: the same Transcriber that produced the utterance.
        options: acceptance thresholds.

    Returns:
        Hits with method ``audio``, ``score`` the pinyin score of the near miss, and the
        audio scores as ``evidence``.
    """
    from models.domain import RuleFamily
    from models.rulebook import SLOT

    options = options or VerifyOptions()
    text = utterance.text

    def pieces_of(miss) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]] | None:
        """The free span and the rule's wording as ``(text, is_filler)`` pieces, each inner ××
        of the wording filled with the transcript's text for it; None when a filler cannot be
        located or is empty. Punctuation becomes a space, as the decoder writes a pause."""

        def clean(piece: str) -> str:
            return re.sub(r"[^\w]+", " ", piece).strip()

        pieces = miss.template.split(SLOT)
        if len(pieces) == 1:
            return [(text[miss.start : miss.end], False)], [(clean(miss.template), False)]
        if len(miss.slot_spans) != len(pieces) - 1:
            return None
        rule: list[tuple[str, bool]] = []
        free: list[tuple[str, bool]] = []
        at = miss.start
        for j, piece in enumerate(pieces):
            if clean(piece):
                rule.append((clean(piece), False))
            if j == len(pieces) - 1:
                break
            if not any(clean(p) for p in pieces[: j + 1]) or not any(clean(p) for p in pieces[j + 1 :]):
                continue  # a ×× at either end: its filler lies outside the span, shared by both readings
            s, e = miss.slot_spans[j]
            filler = clean(text[s:e])
            if not filler or not (at <= s < e <= miss.end):
                return None
            rule.append((filler, True))
            free += [(text[at:s], False), (text[s:e], True)]
            at = e
        free.append((text[at : miss.end], False))
        return [p for p in free if p[0].strip()], rule

    # Only rules the text missed by its pinyin score: a near miss at or above its threshold was
    # held back by the matcher's own logic (an exemption, a longer rule covering it), which the
    # audio must not overrule.
    misses = [m for m in matcher.near_misses(utterance) if m.score < m.threshold]
    if not misses:
        return []
    # a slot wording is scored with its fillers from the transcript; one whose filler cannot be
    # located is skipped (a slot has no fixed wording of its own to score)
    prepared = [(m, pieces_of(m)) for m in sorted(misses, key=lambda m: -m.score)]
    prepared = [(m, p) for m, p in prepared if p is not None][: options.max_candidates]
    hits = []
    for miss, (free_pieces, rule_pieces) in prepared:
        # The decoder writes no punctuation (DecodeOptions.suppress_punctuation) and puts a
        # space where a pause or comma would be: score the wording the same way. Prefix, span
        # and suffix are tokenised apart so the span's tokens can be compared on their own,
        # given the same preceding text.
        free_span_lp, free_mask, rule_span_lp, rule_mask, rule_lp = _span_scores(
            transcriber, audio, text[: miss.start], free_pieces, rule_pieces, text[miss.end :]
        )
        # slot fillers are the decoder's own text in both readings: compare the fixed words only
        rule_fixed, free_fixed = rule_span_lp[~rule_mask], free_span_lp[~free_mask]
        rule_mean = float(np.mean(rule_fixed)) if rule_fixed.size else -np.inf
        free_mean = float(np.mean(free_fixed)) if free_fixed.size else -np.inf
        deficit = free_mean - rule_mean if free_fixed.size and rule_fixed.size else np.inf
        whole_rule = float(np.mean(rule_lp)) if rule_lp.size else -np.inf
        accepted = deficit <= options.max_deficit_per_token and rule_mean >= options.min_candidate_logprob
        logger.debug(
            "verify %s in %r as %r: span %.2f vs free %.2f (deficit %.2f) -> %s",
            miss.rule_id, text, "".join(p for p, _ in rule_pieces), rule_mean, free_mean, deficit,
            "accept" if accepted else "reject",
        )
        if not accepted:
            continue
        family = RuleFamily(miss.rule_id.split(".", 1)[0])
        evidence = {
            "pinyin_score": round(float(miss.score), 4),
            "audio_logprob_candidate": round(rule_mean, 4),
            "audio_logprob_free": round(free_mean, 4),
            "deficit_per_token": round(deficit, 4),
            "audio_logprob_sentence": round(whole_rule, 4),
        }
        if rule_mask.any():
            evidence["slot_filler_tokens"] = int(rule_mask.sum())
        hits.append(
            RuleHit(
                rule_id=miss.rule_id,
                family=family,
                score=round(float(miss.score), 4),
                start=miss.start,
                end=miss.end,
                method=MatchMethod.AUDIO,
                rulebook_version=matcher.rulebook.version,
                evidence=evidence,
            )
        )
    # one hit per rule
    best: dict[str, RuleHit] = {}
    for hit in hits:
        if hit.rule_id not in best or hit.evidence["deficit_per_token"] < best[hit.rule_id].evidence["deficit_per_token"]:
            best[hit.rule_id] = hit
    return list(best.values())


@dataclass(frozen=True)
class MatchedUtterance:
    """An utterance with its rule hits (text matcher plus audio-verified near misses)."""

    utterance: Utterance
    hits: tuple[RuleHit, ...]


def transcribe_and_match(
    blocks: Iterable[np.ndarray],
    transcriber: Transcriber,
    matcher,
    *,
    options: PipelineOptions | None = None,
    verify: VerifyOptions | None = None,
    channel_map: ChannelMap | None = None,
    n_channels: int | None = None,
    recording_started_at: datetime | None = None,
    source: str | None = None,
    stats: PipelineStats | None = None,
) -> Iterator[MatchedUtterance]:
    """Transcribe, match and verify near misses against the audio, utterance by utterance.

    Only staff (and unknown-role) utterances can produce courtesy and forbidden hits; the
    matcher decides that from the role.
    """
    for utterance, audio in _utterances_with_audio(
        blocks,
        transcriber,
        options=options,
        channel_map=channel_map,
        n_channels=n_channels,
        recording_started_at=recording_started_at,
        source=source,
        stats=stats,
    ):
        hits = list(matcher.match(utterance))
        found = {h.rule_id for h in hits}
        if utterance.role in (Role.STAFF, Role.UNKNOWN):
            hits += [h for h in verify_near_misses(utterance, audio, matcher, transcriber, verify) if h.rule_id not in found]
        yield MatchedUtterance(utterance, tuple(hits))
