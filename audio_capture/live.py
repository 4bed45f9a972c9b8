"""Live capture from a sound card: a PortAudio stream per window device.

The stream callback only copies each block into a queue (real-time callbacks must not block);
a consumer takes the blocks, writes rolling compressed segment files to the archive and hands
the blocks on (to the VAD and the transcriber, which run outside the callback).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
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
    """

    device: int | str | None = None
    window: str = "W00"
    channels: int = 2
    block_ms: int = 100
    segment_s: float = 300.0
    archive_dir: Path = Path("archive")
    file_format: str = "FLAC"
    queue_blocks: int = 600

    def __post_init__(self) -> None:
        if self.file_format not in ("FLAC", "OGG"):
            raise ValueError(f"file_format must be FLAC or OGG, got {self.file_format!r}")
        if self.channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {self.channels}")


class SegmentWriter:
    """Rolling compressed files of a live stream: ``<window>_<YYYYmmddTHHMMSS>.flac``.

    A file is written as ``*.part`` and renamed when complete, so the archive never holds a
    half-written recording under its final name.
    """

    def __init__(self, options: CaptureOptions, started_at: datetime) -> None:
        self.options = options
        self.started_at = started_at
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
        """Append a (channels, n) block, starting a new file every ``segment_s``."""
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
