"""Audio of the simulated hall: voices from bank clips, the microphones mixed, hall noise, levels.

The recordings module decides who speaks when (a :class:`Timeline` of :class:`VoiceEvent`);
this module turns a timeline into the samples of a window recording (stereo: the staff lapel
and the citizen side; mono: one microphone for both) and writes them.
Audio never goes into the ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from windowqa.demo import BankLine, read_clip
from windowqa.demo.simulator.hall import SAMPLE_RATE_HZ
from windowqa.demo.simulator.options import SimOptions


def trim(audio: np.ndarray, frame: int = 160, threshold_db: float = -45.0) -> np.ndarray:
    """The clip without its leading and trailing silence (the speech span is the truth)."""
    n = len(audio) // frame
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    voiced = np.flatnonzero(20 * np.log10(rms) > threshold_db)
    if voiced.size == 0:
        return audio
    return audio[voiced[0] * frame : (voiced[-1] + 1) * frame]


class Clips:
    """The bank's clips, decoded and trimmed once each."""

    def __init__(self) -> None:
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, line: BankLine) -> np.ndarray:
        if line.id not in self._cache:
            self._cache[line.id] = trim(read_clip(line))
        return self._cache[line.id]

    def voiced(self, line: BankLine, person: Any) -> np.ndarray:
        """The line in ``person``'s voice (a ``hall.Person``: ``voice_rate``, ``pitch_st``,
        ``formant_ratio``)."""
        if not person.pitch_st and person.formant_ratio == 1.0:
            return voice(self(line), person.voice_rate)
        key = f"{line.id}@{person.pitch_st:+.2f}/{person.formant_ratio:.3f}"  # resynthesis is slow: once per line and voice
        if key not in self._cache:
            self._cache[key] = other_voice(self(line), person.pitch_st, person.formant_ratio)
        return voice(self._cache[key], person.voice_rate)


def other_voice(audio: np.ndarray, pitch_st: float, formant_ratio: float = 1.0) -> np.ndarray:
    """The clip as another person says it, at the same tempo: resynthesised with the WORLD
    vocoder (pyworld) with its pitch moved by ``pitch_st`` semitones and its spectral envelope
    stretched by ``formant_ratio`` (above 1: a shorter vocal tract).

    Not a phase-vocoder pitch shift (``librosa.effects.pitch_shift``): that one smeared the
    speech so much that Whisper base's CER on clean bank clips went from 7.8 % to 36 % at +4
    semitones (35 % at +2), which no real colleague's voice does. WORLD at -10 semitones and
    x1.1 reads about as well as the bank's own voice (CER 5.2 % against 6.2 % on 15 clips, 7.4 %
    against 5.2 % on 29 others) and is a voice of its own to the d-vector encoder: similarity 0.57 to the bank's staff voice, 0.29
    to its citizen voice (windowqa/demo/README.md, "mono").
    """
    import warnings

    with warnings.catch_warnings():  # pyworld 0.3.5 imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        import pyworld  # only a voice of its own needs it

    x = np.ascontiguousarray(audio, dtype=np.float64)
    if x.size < SAMPLE_RATE_HZ // 20:  # too short to analyse: left as it is
        return audio.astype(np.float32)
    f0, times = pyworld.harvest(x, SAMPLE_RATE_HZ)
    envelope = pyworld.cheaptrick(x, f0, times, SAMPLE_RATE_HZ)
    aperiodicity = pyworld.d4c(x, f0, times, SAMPLE_RATE_HZ)
    if formant_ratio != 1.0:
        bins = np.arange(envelope.shape[1])
        envelope = np.stack([np.interp(bins / formant_ratio, bins, row) for row in envelope])
    out = pyworld.synthesize(f0 * 2 ** (pitch_st / 12), envelope, aperiodicity, SAMPLE_RATE_HZ)
    peak = np.max(np.abs(out)) if out.size else 0.0
    return (out / peak * np.max(np.abs(x)) if peak > 0 else out).astype(np.float32)[: len(audio)]


def voice(audio: np.ndarray, rate: float) -> np.ndarray:
    """A person's voice: the clip resampled by ``rate`` (pitch and tempo change together)."""
    if abs(rate - 1.0) < 1e-6:
        return audio
    n_out = int(round(len(audio) / rate))
    positions = np.arange(n_out) * rate
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def db(value: float) -> float:
    """A level in dB as an amplitude factor."""
    return float(10 ** (value / 20))


@dataclass
class VoiceEvent:
    """One line placed in a recording: its samples start at ``start`` on ``channel`` at ``gain``."""

    start: int
    channel: int
    audio: np.ndarray
    gain: float


@dataclass
class Timeline:
    """The lines of one recording placed in time; the recording lasts ``duration_s``."""

    events: list[VoiceEvent] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def samples(self) -> int:
        return int(self.duration_s * SAMPLE_RATE_HZ)


def _lowpass(x: np.ndarray, taps: int) -> np.ndarray:
    kernel = np.hanning(taps).astype(np.float32)
    kernel /= kernel.sum()
    return np.convolve(x, kernel, mode="same").astype(np.float32)


def hall_noise(n: int, babble_clips: list[np.ndarray], nprng: np.random.Generator, babble_share: float) -> np.ndarray:
    """Unit-RMS hall noise: distant voices (muffled, overlapping bank clips) plus pink-ish hiss."""
    hiss = nprng.standard_normal(n).astype(np.float32)
    # 1/f-ish colouring by summing two low-passed copies: cheap and deterministic
    hiss = 0.5 * hiss + _lowpass(hiss, 9) * 2.0 + _lowpass(hiss, 65) * 4.0
    hiss /= float(np.sqrt(np.mean(hiss**2)) + 1e-12)
    babble = np.zeros(n, np.float32)
    if babble_clips and babble_share > 0:
        density = max(6, n // (SAMPLE_RATE_HZ * 2))  # about one distant line starting every 2 s
        for _ in range(density):
            clip = babble_clips[int(nprng.integers(len(babble_clips)))]
            start = int(nprng.integers(-len(clip) // 2, n))
            lo, hi = max(0, start), min(n, start + len(clip))
            if hi > lo:
                babble[lo:hi] += clip[lo - start : hi - start] * float(nprng.uniform(0.3, 1.0))
        babble = _lowpass(babble, 7)  # distance takes the highs
        babble /= float(np.sqrt(np.mean(babble**2)) + 1e-12)
    share = babble_share if babble.any() else 0.0
    return (math.sqrt(share) * babble + math.sqrt(1 - share) * hiss).astype(np.float32)


def mix(timeline: Timeline, options: SimOptions, babble_pool: list[np.ndarray], nprng: np.random.Generator) -> np.ndarray:
    """The two microphones of a window: each hears its own speaker, the other side lower, and the hall.

    Returns:
        float32 samples, shape (2, n): channel 0 the staff lapel microphone, channel 1 the citizen side.
    """
    n = timeline.samples
    out = np.zeros((2, n), np.float32)
    crosstalk = db(options.crosstalk_db)
    delay = int(0.002 * SAMPLE_RATE_HZ)  # the far microphone hears a voice about 2 ms later
    for e in timeline.events:
        end = min(n, e.start + len(e.audio))
        out[e.channel, e.start:end] += e.audio[: end - e.start] * e.gain
        other = 1 - e.channel
        lo, hi = e.start + delay, min(n, e.start + delay + len(e.audio))
        out[other, lo:hi] += e.audio[: hi - lo] * e.gain * crosstalk
    speech_rms = db(-20.0)  # the bank's clips are normalised to -20 dBFS
    noise_rms = speech_rms / db(options.snr_db)
    for channel in range(2):
        out[channel] += hall_noise(n, babble_pool, nprng, options.babble_share) * noise_rms
    peak = float(np.max(np.abs(out)))
    if peak > 0.99:  # never clip; levels are relative, so scale both channels together
        out *= 0.99 / peak
    return out


def mix_mono(timeline: Timeline, options: SimOptions, babble_pool: list[np.ndarray], nprng: np.random.Generator) -> np.ndarray:
    """One microphone for the window: the staff member's voice at its level, the citizen's
    ``options.mono_citizen_db`` lower (across the counter), the hall at ``options.snr_db``
    below the staff voice.

    Returns:
        float32 samples, shape (1, n).
    """
    n = timeline.samples
    out = np.zeros((1, n), np.float32)
    citizen = db(options.mono_citizen_db)
    for e in timeline.events:
        end = min(n, e.start + len(e.audio))
        out[0, e.start:end] += e.audio[: end - e.start] * e.gain * (citizen if e.channel == 1 else 1.0)
    noise_rms = db(-20.0) / db(options.snr_db)  # the bank's clips are normalised to -20 dBFS
    out[0] += hall_noise(n, babble_pool, nprng, options.babble_share) * noise_rms
    peak = float(np.max(np.abs(out)))
    if peak > 0.99:
        out *= 0.99 / peak
    return out


def write_flac(path: Path, audio: np.ndarray) -> None:
    """Write samples (shape (channels, n)) as 16-bit FLAC."""
    import soundfile as sf  # imported here: only the generator writes audio

    sf.write(str(path), audio.T, SAMPLE_RATE_HZ, format="FLAC", subtype="PCM_16")
