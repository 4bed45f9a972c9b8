"""Speech segmentation with webrtcvad: the one VAD decision of the pipeline.

webrtcvad (distribution ``webrtcvad-wheels``) classifies 10/20/30 ms frames of 16-bit PCM.
:class:`StreamingVad` turns those decisions into speech segments with padding before the
onset and a hang-over after the last voiced frame, so word onsets and trailing syllables are
not clipped; it takes blocks as they come (a file being decoded or a live stream).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from audio_capture.decode import SAMPLE_RATE

logger = logging.getLogger("audio_capture")


@dataclass(frozen=True)
class VadOptions:
    """How speech is cut into segments.

    Attributes:
        aggressiveness: webrtcvad mode 0 (lenient) to 3 (strict).
        frame_ms: webrtcvad frame, 10, 20 or 30 ms.
        onset_window_ms: a segment opens when ``onset_ratio`` of the frames in this window are voiced.
        onset_ratio: share of voiced frames that opens a segment.
        hangover_ms: a segment closes after this much audio without voice.
        padding_ms: audio kept before the onset and after the last voiced frame.
        preroll_ms: webrtcvad often misses quiet onsets (fricatives, a soft first syllable):
            the start moves back over up to this much audio that is still clearly above the
            channel's background level (``preroll_above_floor_db``).
        preroll_above_floor_db: how far above the background a frame must be for the pre-roll.
        min_speech_ms: segments with less voiced audio than this are dropped (clicks, coughs).
        max_speech_s: longer speech is cut by then (a Whisper window is 30 s).
        cut_search_s: speech that reaches ``max_speech_s`` is cut at the quietest frame of
            its last this-many seconds (at most half of it; a breath between words), not in
            the middle of a word;
            the rest opens the next segment. Meetings and broadcasts rarely pause for as long
            as the hang-over.
        min_level_dbfs: frames quieter than this never count as voice (webrtcvad fires on
            very faint hiss); None disables the check.
        gain_db: the VAD works on the audio raised by this much (a quiet recording,
            :func:`audio_capture.level.recording_gain_db`); levels it reports include it.
        min_floor_ms: the background (hall floor) level is reported only once this much
            unvoiced audio has been measured; before that a segment's ``floor_dbfs`` is
            -90 (unknown) and the gate has no floor to compare with. A floor taken from a
            few frames is no estimate: in babble the VAD calls most frames voice, and the
            90 ms of babble before a speaker's first words became "the floor", 4 dB under
            that speaker, who was then gated as background.
    """

    aggressiveness: int = 2
    frame_ms: int = 30
    onset_window_ms: int = 300
    onset_ratio: float = 0.6
    hangover_ms: int = 1200
    padding_ms: int = 200
    preroll_ms: int = 900
    preroll_above_floor_db: float = 15.0
    min_speech_ms: int = 250
    max_speech_s: float = 25.0
    cut_search_s: float = 6.0
    min_level_dbfs: float | None = -55.0
    min_floor_ms: int = 1000
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        if self.frame_ms not in (10, 20, 30):
            raise ValueError(f"frame_ms must be 10, 20 or 30, got {self.frame_ms}")
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0..3, got {self.aggressiveness}")
        if not 0 < self.onset_ratio <= 1:
            raise ValueError(f"onset_ratio must be in (0, 1], got {self.onset_ratio}")
        if self.cut_search_s < 0:
            raise ValueError(f"cut_search_s must be >= 0, got {self.cut_search_s}")


@dataclass(frozen=True)
class SpeechSegment:
    """A stretch of speech on one channel; times in seconds from the stream's start."""

    channel: int
    start_s: float
    end_s: float
    voiced_ms: int
    level_dbfs: float  # mean level of the voiced frames
    floor_dbfs: float  # the channel's background level when the segment closed (-90: not yet known)
    options: VadOptions = field(repr=False, compare=False, default_factory=VadOptions)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _to_pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _dbfs(frame: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) if frame.size else 0.0
    return 20.0 * np.log10(max(rms, 1e-10))


class StreamingVad:
    """Segments one channel; feed blocks with :meth:`feed`, then :meth:`flush` at the end.

    Args:
        options: segmentation options.
        channel: channel number recorded in the segments.
    """

    def __init__(self, options: VadOptions | None = None, *, channel: int = 0) -> None:
        import webrtcvad  # from webrtcvad-wheels; fail loudly if missing

        self.options = options or VadOptions()
        self.channel = channel
        self._vad = webrtcvad.Vad(self.options.aggressiveness)
        self._frame_n = SAMPLE_RATE * self.options.frame_ms // 1000
        self._gain = float(10 ** (self.options.gain_db / 20))
        self._rest = np.zeros(0, np.float32)
        self._frame_index = 0  # frames consumed so far
        self._onset_frames = max(1, self.options.onset_window_ms // self.options.frame_ms)
        self._hangover_frames = max(1, self.options.hangover_ms // self.options.frame_ms)
        self._ring: collections.deque[bool] = collections.deque(maxlen=self._onset_frames)
        self._open_start: int | None = None  # frame index where the open segment starts
        self._last_voiced = -1
        self._floor_frames = 0  # unvoiced frames measured for the floor
        self._voiced_frames = 0
        self._voiced_db: list[float] = []
        self._floor_db: float | None = None
        # per frame of the open segment from its start: level and voice decision (for a cut)
        self._open_levels: list[float] = []
        self._open_flags: list[bool] = []
        self._cut_open = False  # the open segment starts at a cut: no padding before it
        self._recent_levels: collections.deque[float] = collections.deque(
            maxlen=self._onset_frames + max(0, self.options.preroll_ms // self.options.frame_ms)
        )

    @property
    def floor_dbfs(self) -> float:
        """Running estimate of this channel's background level (the hall floor)."""
        return self._floor_db if self._floor_db is not None else -90.0

    def _update_floor(self, level: float) -> None:
        # A slow average of the unvoiced frames' level, in dB; it follows the hall's murmur
        # over tens of seconds and is not pulled up by short loud events.
        level = max(float(level), -90.0)
        self._floor_frames += 1
        if self._floor_db is None:
            self._floor_db = level
        else:
            rate = 0.01 if level > self._floor_db else 0.05
            self._floor_db += rate * (level - self._floor_db)

    @property
    def open_start_s(self) -> float | None:
        """Where the segment still open starts (before padding), or None when none is open."""
        if self._open_start is None:
            return None
        return self._open_start * self.options.frame_ms / 1000.0

    @property
    def position_s(self) -> float:
        return self._frame_index * self.options.frame_ms / 1000.0

    def _is_speech(self, frame: np.ndarray) -> tuple[bool, float]:
        if self.options.gain_db:
            frame = frame * self._gain
        level = _dbfs(frame)
        if self.options.min_level_dbfs is not None and level < self.options.min_level_dbfs:
            return False, level
        return self._vad.is_speech(_to_pcm16(frame), SAMPLE_RATE), level

    def _preroll_start(self, start: int) -> int:
        levels = list(self._recent_levels)  # levels[-1] is frame ``self._frame_index - 1``
        first_index = self._frame_index - len(levels)
        threshold = self.floor_dbfs + self.options.preroll_above_floor_db
        max_dip = 5  # frames below the threshold that may sit inside a word onset
        earliest, dip = start, 0
        for k in range(start - 1, first_index - 1, -1):
            if levels[k - first_index] >= threshold:
                earliest, dip = k, 0
            else:
                dip += 1
                if dip > max_dip:
                    break
        return earliest

    def _close(self, end_frame: int, *, pad_end: bool = True) -> SpeechSegment | None:
        opts = self.options
        start_frame = self._open_start
        cut_start = self._cut_open
        self._open_start = None
        self._cut_open = False
        self._open_levels, self._open_flags = [], []
        self._ring.clear()
        voiced_ms = self._voiced_frames * opts.frame_ms
        levels = self._voiced_db
        self._voiced_frames, self._voiced_db = 0, []
        if start_frame is None or voiced_ms < opts.min_speech_ms:
            return None
        pad_s = opts.padding_ms / 1000.0
        frame_s = opts.frame_ms / 1000.0
        start_s = max(0.0, start_frame * frame_s - (0.0 if cut_start else pad_s))
        end_s = min(self._frame_index * frame_s, end_frame * frame_s + (pad_s if pad_end else 0.0))
        level = float(10 * np.log10(np.mean(np.power(10.0, np.array(levels) / 10)))) if levels else -100.0
        floor = self.floor_dbfs if self._floor_frames * opts.frame_ms >= opts.min_floor_ms else -90.0
        return SpeechSegment(self.channel, round(start_s, 3), round(end_s, 3), voiced_ms, round(level, 1), round(floor, 1), opts)

    def _cut(self) -> SpeechSegment | None:
        """Close the open segment, which reached ``max_speech_s``, at the quietest frame of its
        last ``cut_search_s`` (unvoiced frames first); the frames after the cut stay open as
        the next segment."""
        opts = self.options
        n = len(self._open_levels)
        search = max(1, int(min(opts.cut_search_s, opts.max_speech_s / 2) * 1000 / opts.frame_ms))
        first = max(1, n - search)
        # smoothed over 3 frames so one quiet frame inside a syllable is not taken for a pause
        levels = np.convolve(np.asarray(self._open_levels, dtype=np.float64), np.ones(3) / 3, mode="same")
        candidates = range(first, n)
        cut = min(candidates, key=lambda k: (self._open_flags[k], levels[k], -k))
        start = self._open_start
        rest_levels, rest_flags = self._open_levels[cut:], self._open_flags[cut:]
        # the voiced levels belong to the frames they were measured on
        rest_voiced = [lv for lv, flag in zip(rest_levels, rest_flags) if flag]
        self._voiced_frames -= len(rest_voiced)
        self._voiced_db = self._voiced_db[: len(self._voiced_db) - len(rest_voiced)] if rest_voiced else self._voiced_db
        segment = self._close(start + cut, pad_end=False)
        self._open_start = start + cut
        self._cut_open = True
        self._open_levels, self._open_flags = rest_levels, rest_flags
        self._voiced_frames = len(rest_voiced)
        self._voiced_db = rest_voiced
        voiced_at = [k for k, flag in enumerate(rest_flags) if flag]
        self._last_voiced = start + cut + voiced_at[-1] if voiced_at else start + cut
        return segment

    def feed(self, samples: np.ndarray) -> list[SpeechSegment]:
        """Consume 16 kHz float32 samples of this channel; return segments that closed."""
        opts = self.options
        data = np.concatenate([self._rest, np.asarray(samples, np.float32).ravel()])
        n_frames = data.size // self._frame_n
        closed: list[SpeechSegment] = []
        max_frames = int(opts.max_speech_s * 1000 / opts.frame_ms)
        for k in range(n_frames):
            frame = data[k * self._frame_n : (k + 1) * self._frame_n]
            voiced, level = self._is_speech(frame)
            index = self._frame_index
            self._frame_index += 1
            self._recent_levels.append(level)
            if not voiced:
                self._update_floor(level)
            if self._open_start is None:
                self._ring.append(voiced)
                if voiced:
                    self._voiced_db.append(level)
                if len(self._ring) == self._onset_frames and sum(self._ring) >= opts.onset_ratio * self._onset_frames:
                    # the segment starts at the onset window's first frame
                    self._open_start = self._preroll_start(index - self._onset_frames + 1)
                    self._voiced_frames = sum(self._ring)
                    self._voiced_db = self._voiced_db[-self._voiced_frames :]
                    self._last_voiced = index
                    # levels and decisions from the start on (the pre-roll's frames count as unvoiced)
                    span = index - self._open_start + 1
                    recent = list(self._recent_levels)[-span:]
                    ring = list(self._ring)
                    self._open_levels = [-90.0] * (span - len(recent)) + recent
                    self._open_flags = [False] * (span - len(ring)) + ring
                elif not voiced and len(self._voiced_db) > self._onset_frames:
                    self._voiced_db = self._voiced_db[-self._onset_frames :]
                continue
            self._open_levels.append(level)
            self._open_flags.append(voiced)
            if voiced:
                self._voiced_frames += 1
                self._voiced_db.append(level)
                self._last_voiced = index
            if index - self._last_voiced >= self._hangover_frames:
                segment = self._close(self._last_voiced + 1)
            elif index - self._open_start + 1 >= max_frames:
                segment = self._cut()
            else:
                continue
            if segment is not None:
                closed.append(segment)
        self._rest = data[n_frames * self._frame_n :]
        return closed

    def flush(self) -> list[SpeechSegment]:
        """Close a segment still open at the end of the stream."""
        if self._open_start is None:
            return []
        segment = self._close(self._last_voiced + 1)
        return [segment] if segment is not None else []


def detect_speech(samples: np.ndarray, options: VadOptions | None = None, *, channel: int = 0) -> list[SpeechSegment]:
    """Speech segments of one channel of 16 kHz float32 audio.

    Example:
        >>> import numpy as np
        >>> detect_speech(np.zeros(16000, np.float32))
        []
    """
    vad = StreamingVad(options, channel=channel)
    return vad.feed(samples) + vad.flush()


def detect_speech_blocks(blocks: Iterable[np.ndarray], options: VadOptions | None = None) -> Iterator[SpeechSegment]:
    """Segments of every channel of a stream of (channels, n) blocks, in order of closing."""
    vads: list[StreamingVad] = []
    for block in blocks:
        block = np.atleast_2d(block)
        while len(vads) < block.shape[0]:
            vads.append(StreamingVad(options, channel=len(vads)))
        for channel, vad in enumerate(vads):
            yield from vad.feed(block[channel])
    for vad in vads:
        yield from vad.flush()


def channel_speech_s(blocks: Iterable[np.ndarray], channels: Iterable[int], options: VadOptions | None = None) -> dict[int, float]:
    """Seconds of voiced speech on each of ``channels`` of a stream of (channels, n) blocks.

    Used for the channels nobody transcribes (outside a window's channel map), so that speech
    on them is reported rather than dropped without a word.

    Example:
        >>> import numpy as np
        >>> channel_speech_s([np.zeros((3, 16000), np.float32)], [2])
        {2: 0.0}
    """
    vads = {c: StreamingVad(options, channel=c) for c in channels}
    total = dict.fromkeys(vads, 0.0)
    for block in blocks:
        block = np.atleast_2d(block)
        for channel, vad in vads.items():
            if channel < block.shape[0]:
                total[channel] += sum(s.voiced_ms for s in vad.feed(block[channel])) / 1000
    for channel, vad in vads.items():
        total[channel] += sum(s.voiced_ms for s in vad.flush()) / 1000
    return {c: round(s, 1) for c, s in total.items()}
