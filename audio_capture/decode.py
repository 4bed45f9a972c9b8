"""Decoding audio files of any common format to 16 kHz float32, one row per channel.

PyAV (which faster-whisper already brings) reads WAV, FLAC, MP3, M4A/AAC and OGG/Opus; its
resampler converts any rate. Long recordings (a whole working day) are streamed in blocks
(:func:`stream_audio`), never loaded whole; :func:`decode_audio` is the convenience for short files.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio_capture.errors import AudioDecodeError

logger = logging.getLogger("audio_capture")

SAMPLE_RATE = 16_000
MIN_SOURCE_RATE = 4_000  # below this there is no intelligible speech to recognise
MAX_SOURCE_RATE = 384_000  # above any real audio interface: a damaged header


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, from its header."""

    path: Path
    source_rate: int
    source_channels: int
    channels: int  # channels after decoding: every channel of the file, in its order
    duration_s: float | None  # None when the container does not say
    codec: str


@dataclass(frozen=True)
class DecodedAudio:
    """A whole decoded file: ``samples`` has shape (channels, n) at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    info: AudioInfo

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate


def _open(path: Path):
    import av  # heavy-ish native library: imported where used

    if not path.exists():
        raise AudioDecodeError(f"{path}: file not found")
    if path.is_dir():
        raise AudioDecodeError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"{path}: empty file (0 bytes)")
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise AudioDecodeError(f"{path}: not a readable audio file ({exc.strerror or exc})") from None
    if not container.streams.audio:
        container.close()
        raise AudioDecodeError(f"{path}: contains no audio stream")
    return container


def _info(path: Path, container) -> AudioInfo:
    stream = container.streams.audio[0]
    rate = int(stream.rate or stream.codec_context.sample_rate or 0)
    source_channels = int(stream.codec_context.channels or 0)
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        raise AudioDecodeError(
            f"{path}: sample rate {rate} Hz is outside {MIN_SOURCE_RATE}–{MAX_SOURCE_RATE} Hz (damaged header?)"
        )
    if source_channels < 1:
        raise AudioDecodeError(f"{path}: audio stream reports no channels")
    duration_s = None
    if stream.duration is not None and stream.time_base is not None:
        duration_s = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration_s = container.duration / 1_000_000
    return AudioInfo(
        path=path,
        source_rate=rate,
        source_channels=source_channels,
        channels=source_channels,
        duration_s=duration_s,
        codec=stream.codec_context.name,
    )


def probe_audio(path: str | Path) -> AudioInfo:
    """Read a file's header.

    Raises:
        AudioDecodeError: missing, empty, not audio, or an absurd sample rate.
    """
    path = Path(path)
    container = _open(path)
    try:
        return _info(path, container)
    finally:
        container.close()


def stream_audio(path: str | Path, *, block_s: float = 30.0) -> Iterator[np.ndarray]:
    """Decode a file in blocks of about ``block_s`` seconds.

    Every channel comes out as its own row, in the file's order: a multichannel file is never
    downmixed here (which channel is whose is the caller's channel map).

    Args:
        path: any file FFmpeg can read.
        block_s: seconds per yielded block (the last one is shorter).

    Yields:
        float32 arrays of shape (channels, n) at 16 kHz, values in [-1, 1].

    Raises:
        AudioDecodeError: the file cannot be opened or its data is corrupt, naming the file
            and the reason. A file that decodes to nothing raises too.
    """
    import av

    path = Path(path)
    container = _open(path)
    try:
        info = _info(path, container)
        # the stream's own layout: the resampler keeps every channel and their order
        layout = container.streams.audio[0].layout if info.channels > 2 else ("mono" if info.channels == 1 else "stereo")
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        block_n = max(1, int(block_s * SAMPLE_RATE))
        pending: list[np.ndarray] = []
        pending_n = 0
        total_n = 0

        def resampled(frames):
            for frame in frames:
                for out in resampler.resample(frame):
                    yield out.to_ndarray()
            for out in resampler.resample(None):  # flush the resampler's delay line
                yield out.to_ndarray()

        try:
            for array in resampled(container.decode(audio=0)):
                pending.append(array.reshape(info.channels, -1))
                pending_n += pending[-1].shape[1]
                while pending_n >= block_n:
                    joined = np.concatenate(pending, axis=1)
                    yield np.ascontiguousarray(joined[:, :block_n], dtype=np.float32)
                    total_n += block_n
                    rest = joined[:, block_n:]
                    pending, pending_n = ([rest], rest.shape[1]) if rest.shape[1] else ([], 0)
        except av.FFmpegError as exc:
            raise AudioDecodeError(f"{path}: corrupt audio data after {total_n / SAMPLE_RATE:.1f} s ({exc})") from None
        if pending_n:
            total_n += pending_n
            yield np.ascontiguousarray(np.concatenate(pending, axis=1), dtype=np.float32)
        if total_n == 0:
            raise AudioDecodeError(f"{path}: no audio samples could be decoded (truncated or corrupt)")
    finally:
        container.close()
        # PyAV's resampler objects are not always freed without a collection
        # (https://github.com/SYSTRAN/faster-whisper/issues/390).
        gc.collect()


def decode_audio(path: str | Path) -> DecodedAudio:
    """Decode a whole (short) file; use :func:`stream_audio` for long recordings.

    Raises:
        AudioDecodeError: as :func:`stream_audio`.
    """
    path = Path(path)
    info = probe_audio(path)
    blocks = list(stream_audio(path))
    samples = np.concatenate(blocks, axis=1) if blocks else np.zeros((info.channels, 0), np.float32)
    return DecodedAudio(samples=samples, sample_rate=SAMPLE_RATE, info=info)
