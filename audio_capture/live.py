"""Live capture from a sound card: a PortAudio stream per window device.

The stream callback only copies each block into a queue (real-time callbacks must not block);
a consumer takes the blocks, writes rolling compressed segment files to the archive and hands
the blocks on (to the VAD and the transcriber, which run outside the callback).

:class:`FileSource` plays a recording into the same queue in real time (or faster), so that
the live path (segments, publishing, alerts) runs and is tested without a microphone. With
``cut_silence_s`` a segment is closed at the first pause after ``min_segment_s`` of audio that
held some sound, so that an utterance is not cut in two and reaches the workers soon after
it ends; ``segment_s`` stays the longest a segment may run (a hall that is never quiet).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from audio_capture.decode import SAMPLE_RATE
from audio_capture.errors import CaptureDeviceError

logger = logging.getLogger("audio_capture")


@dataclass(frozen=True)
class CaptureOptions:
    """A live capture of one window's device.

    Attributes:
        device: PortAudio device index or name (None: the default input).
        window: window id; file names and utterances carry it.
        channels: input channels (2: staff lapel microphone and citizen side).
        block_ms: audio per callback.
        segment_s: length of each archived file before a new one starts.
        archive_dir: where the segment files go (``Settings().resolved_archive_dir``).
        file_format: ``FLAC`` (lossless) or ``OGG`` (Opus, about 10x smaller).
        queue_blocks: blocks the queue may hold before the capture reports an overrun.
        cut_silence_s: close a segment after this long a pause (None: fixed ``segment_s`` files).
        min_segment_s: ... once it holds at least this much audio, some of it above the pause level.
        pause_margin_db: a block is a pause when its level is within this many dB of the hall
            floor (the 10th percentile of the last 30 s of block levels): adapts to the gain.
    """

    device: int | str | None = None
    window: str = "W00"
    channels: int = 2
    block_ms: int = 100
    segment_s: float = 300.0
    archive_dir: Path = Path("archive")
    file_format: str = "FLAC"
    queue_blocks: int = 600
    cut_silence_s: float | None = None
    min_segment_s: float = 5.0
    pause_margin_db: float = 10.0

    def __post_init__(self) -> None:
        if self.file_format not in ("FLAC", "OGG"):
            raise ValueError(f"file_format must be FLAC or OGG, got {self.file_format!r}")
        if self.channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {self.channels}")
        if self.cut_silence_s is not None and not 0 < self.cut_silence_s < self.segment_s:
            raise ValueError(f"cut_silence_s must be between 0 and segment_s ({self.segment_s}), got {self.cut_silence_s}")


class PauseTracker:
    """Whether a stream is in a pause, from block levels relative to a running floor."""

    FLOOR_BLOCKS = 300  # 30 s of 100 ms blocks
    SILENT_DB = -100.0  # digital silence counts as this level

    def __init__(self, margin_db: float) -> None:
        self.margin_db = margin_db
        self.levels: deque[float] = deque(maxlen=self.FLOOR_BLOCKS)
        self.quiet_s = 0.0  # the pause so far
        self.sound_s = 0.0  # audio above the pause level in the current segment

    def add(self, block: np.ndarray) -> None:
        """Take one (channels, n) block: its loudest channel's RMS level."""
        rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64), axis=-1)).max()) if block.size else 0.0
        level = max(20 * np.log10(rms), self.SILENT_DB) if rms > 0 else self.SILENT_DB
        self.levels.append(level)
        floor = float(np.percentile(self.levels, 10))
        seconds = block.shape[-1] / SAMPLE_RATE
        if level <= floor + self.margin_db:
            self.quiet_s += seconds
        else:
            self.quiet_s = 0.0
            self.sound_s += seconds

    def segment_closed(self) -> None:
        self.sound_s = 0.0


class SegmentWriter:
    """Rolling compressed files of a live stream: ``<window>_<YYYYmmddTHHMMSS>.flac``.

    A file is written as ``*.part`` and renamed when complete, so the archive never holds a
    half-written recording under its final name; ``on_close`` is called with each file once it
    is in place (``capture --publish`` hands it to the workers).
    """

    def __init__(self, options: CaptureOptions, started_at: datetime, on_close: Callable[[Path], None] | None = None) -> None:
        self.options = options
        self.started_at = started_at
        self.on_close = on_close
        self.pauses = PauseTracker(options.pause_margin_db) if options.cut_silence_s is not None else None
        self.files: list[Path] = []
        self._file = None
        self._part: Path | None = None
        self._final: Path | None = None
        self._written = 0
        self._samples_total = 0
        options.archive_dir.mkdir(parents=True, exist_ok=True)

    def _open(self) -> None:
        import soundfile as sf

        at = self.started_at + timedelta(seconds=self._samples_total / SAMPLE_RATE)
        suffix = ".flac" if self.options.file_format == "FLAC" else ".ogg"
        self._final = self.options.archive_dir / f"{self.options.window}_{at:%Y%m%dT%H%M%S}{suffix}"
        self._part = self._final.with_name(self._final.name + ".part")
        subtype = "PCM_16" if self.options.file_format == "FLAC" else "OPUS"
        self._file = sf.SoundFile(
            self._part, "w", samplerate=SAMPLE_RATE, channels=self.options.channels,
            format=self.options.file_format, subtype=subtype,
        )
        self._written = 0

    def write(self, block: np.ndarray) -> None:
        """Append a (channels, n) block, starting a new file every ``segment_s`` (or at a pause)."""
        self._write(block)
        pauses = self.pauses
        if pauses is None or self._file is None:
            return
        pauses.add(np.atleast_2d(block))
        long_enough = self._written >= self.options.min_segment_s * SAMPLE_RATE
        if long_enough and pauses.sound_s > 0 and pauses.quiet_s >= self.options.cut_silence_s:
            self.close()

    def _write(self, block: np.ndarray) -> None:
        limit = int(self.options.segment_s * SAMPLE_RATE)
        data = np.atleast_2d(block).T
        while data.shape[0]:
            if self._file is None:
                self._open()
            take = min(limit - self._written, data.shape[0])
            self._file.write(data[:take])
            self._written += take
            self._samples_total += take
            data = data[take:]
            if self._written >= limit:
                self.close()

    def close(self) -> None:
        """Finish the current file (rename it into place)."""
        if self._file is None:
            return
        self._file.close()
        self._part.replace(self._final)
        self.files.append(self._final)
        self._file = None
        if self.pauses is not None:
            self.pauses.segment_closed()
        if self.on_close is not None:
            self.on_close(self._final)


class LiveCapture:
    """One input stream; iterate :meth:`blocks` to consume it.

    Args:
        options: device, window, archive.
    """

    def __init__(self, options: CaptureOptions) -> None:
        self.options = options
        self.queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=options.queue_blocks)
        self.overruns = 0
        self.status_flags = 0
        self.started_at: datetime | None = None
        self._stop = threading.Event()
        self._stream = None

    def callback(self, indata: np.ndarray, frames: int, time_info, status) -> None:
        """PortAudio callback: copy the block into the queue and nothing else."""
        if status:
            self.status_flags += 1
        try:
            self.queue.put_nowait(indata.copy())
        except queue.Full:
            self.overruns += 1

    def start(self) -> None:
        """Open and start the PortAudio stream.

        Raises:
            CaptureDeviceError: PortAudio is missing or the device cannot be opened.
        """
        try:
            import sounddevice as sd
        except OSError as exc:
            raise CaptureDeviceError(f"PortAudio is not available ({exc}); install Debian libportaudio2") from None
        try:
            self._stream = sd.InputStream(
                device=self.options.device,
                channels=self.options.channels,
                samplerate=SAMPLE_RATE,
                dtype="float32",
                blocksize=SAMPLE_RATE * self.options.block_ms // 1000,
                callback=self.callback,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise CaptureDeviceError(f"input device {self.options.device!r}: cannot open at 16 kHz ({exc})") from None
        self.started_at = datetime.now()
        logger.info("capturing window %s from device %r", self.options.window, self.options.device)

    def stop(self) -> None:
        """Stop the stream; :meth:`blocks` ends once the queue is drained."""
        self._stop.set()
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def blocks(self, writer: SegmentWriter | None = None, *, timeout_s: float = 0.5) -> Iterator[np.ndarray]:
        """(channels, n) float32 blocks as they arrive, each also written to ``writer``.

        Ends after :meth:`stop` once the queue is empty; the writer's last file is closed.
        """
        try:
            while True:
                try:
                    block = self.queue.get(timeout=timeout_s)
                except queue.Empty:
                    if self._stop.is_set():
                        break
                    continue
                block = np.ascontiguousarray(np.asarray(block, np.float32).T)
                if writer is not None:
                    writer.write(block)
                yield block
        finally:
            if writer is not None:
                writer.close()
            if self.overruns:
                logger.warning("window %s: %d blocks lost (consumer too slow)", self.options.window, self.overruns)


class FileSource(LiveCapture):
    """A recording played into the capture queue as a sound card would deliver it.

    Args:
        options: window, channels (the file must have as many), block size, archive.
        path: any file :func:`audio_capture.decode.stream_audio` reads.
        speed: 1.0 plays in real time; 4.0 four times faster; 0 as fast as the consumer takes it.
    """

    def __init__(self, options: CaptureOptions, path: Path, *, speed: float = 1.0) -> None:
        super().__init__(options)
        if speed < 0:
            raise ValueError(f"speed must be 0 or more, got {speed}")
        self.path = Path(path)
        self.speed = speed
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """Raise :class:`CaptureDeviceError` if the file cannot be read or has another number of channels."""
        from audio_capture.decode import probe_audio
        from audio_capture.errors import AudioDecodeError

        try:
            info = probe_audio(self.path)
        except AudioDecodeError as exc:
            raise CaptureDeviceError(f"--from-file {self.path}: {exc}") from None
        if info.channels != self.options.channels:
            raise CaptureDeviceError(
                f"--from-file {self.path}: {info.channels} channel(s), but the capture has {self.options.channels} (--channels)")

    def start(self) -> None:
        """Check the file (:meth:`check`) and start playing it."""
        self.check()
        self.started_at = datetime.now()
        self._thread = threading.Thread(target=self._play, name=f"file-source-{self.options.window}", daemon=True)
        self._thread.start()
        logger.info("playing %s as window %s at %sx", self.path, self.options.window, self.speed or "full ")

    def _play(self) -> None:
        from audio_capture.decode import stream_audio

        block_n = SAMPLE_RATE * self.options.block_ms // 1000
        clock = time.monotonic()
        played = 0
        try:
            for chunk in stream_audio(self.path, block_s=10.0):
                for i in range(0, chunk.shape[1], block_n):
                    if self._stop.is_set():
                        return
                    block = np.ascontiguousarray(chunk[:, i : i + block_n].T)  # frames x channels, as PortAudio gives
                    played += block.shape[0]
                    if self.speed:  # deliver each block when its last sample "was recorded"
                        time.sleep(max(0.0, clock + played / SAMPLE_RATE / self.speed - time.monotonic()))
                    self.queue.put(block)  # a file waits for the consumer: nothing is dropped
        except Exception as exc:  # noqa: BLE001 - a file that breaks mid-way ends the capture, with its reason
            logger.error("--from-file %s: %s", self.path, exc)
        finally:
            self._stop.set()

    def stop(self) -> None:
        self._stop.set()
