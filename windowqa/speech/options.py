"""Options and counters of the speech pipeline (each stage's options inside)."""

from __future__ import annotations

from dataclasses import dataclass, field

from audio_capture.channels import GateOptions
from audio_capture.vad import VadOptions


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
