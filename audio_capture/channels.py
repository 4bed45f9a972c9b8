"""Channels and roles: which microphone is whose, and whose speech a segment is.

A window's channel map is configuration: by default a stereo recording has the staff lapel
microphone on channel 0 and the citizen-side microphone on channel 1; mono audio gets role
``unknown`` (the scoring stage decides). Each microphone also hears the other person and the
hall, so a segment is kept on a channel only where it is loudest (crosstalk) and clearly above
that channel's background (the hall floor).

The crosstalk decision is taken per stretch, not per segment: in hall noise the VAD of a
microphone can stay open across a change of speaker, and a segment holding the staff member's
line followed by the citizen's answer (heard 12 dB down) is neither's as a whole.
:func:`gate_stretches` keeps the stretches where the segment's own channel dominates and gates
the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from audio_capture.level import frame_powers
from audio_capture.vad import SpeechSegment
from models.domain import Role


IGNORE = "ignore"  # a channel map entry: this channel is no window side (a spare microphone)


@dataclass(frozen=True)
class ChannelMap:
    """Roles per channel of one window's recordings.

    A channel without a role (``ignore`` in the map, or beyond its end) is not transcribed;
    ingest measures the speech on it and reports it, so nothing is dropped without a word.

    Attributes:
        roles: role of each channel, by channel number; None: the channel is ignored.
        window: the window id the recordings belong to.
        mono_role: role of a mono recording's speech; ``unknown`` by default (the scoring
            stage decides), set where the speaker is known (an evaluation manifest).
    """

    roles: tuple[Role | None, ...] = (Role.STAFF, Role.CITIZEN)
    window: str | None = None
    mono_role: Role = Role.UNKNOWN  # who speaks on a mono recording, when known

    @classmethod
    def parse(cls, spec: str, *, window: str | None = None) -> "ChannelMap":
        """A map from a comma list such as ``"staff,citizen"`` or ``"staff,citizen,ignore,staff"``.

        Raises:
            ValueError: an unknown role name (the message lists the valid ones).
        """
        roles: list[Role | None] = []
        for name in (part.strip().lower() for part in spec.split(",")):
            if name == IGNORE:
                roles.append(None)
                continue
            try:
                roles.append(Role(name))
            except ValueError:
                valid = ", ".join([*(r.value for r in Role), IGNORE])
                raise ValueError(f"unknown role {name!r} in channel map {spec!r}; expected one of {valid}") from None
        return cls(tuple(roles), window)

    def as_dict(self) -> dict[str, str]:
        """The map as a window stores it: ``{"0": "staff", "1": "citizen", "2": "ignore"}``."""
        return {str(c): (role.value if role is not None else IGNORE) for c, role in enumerate(self.roles)}

    def role_for(self, channel: int, n_channels: int) -> Role:
        """Role of ``channel`` in a recording with ``n_channels`` channels (mono: unknown)."""
        if n_channels == 1:
            return self.mono_role
        role = self.roles[channel] if channel < len(self.roles) else None
        return role if role is not None else Role.UNKNOWN

    def unassigned(self, n_channels: int) -> tuple[int, ...]:
        """Channels of an ``n_channels`` recording that the map gives no role (none for mono)."""
        if n_channels == 1:
            return ()
        return tuple(c for c in range(n_channels) if c >= len(self.roles) or self.roles[c] is None)

    def ignores(self, channel: int) -> bool:
        """True when the map names ``channel`` explicitly as ignored (not merely beyond its end)."""
        return channel < len(self.roles) and self.roles[channel] is None


@dataclass(frozen=True)
class GateOptions:
    """Crosstalk and hall-floor gate.

    Attributes:
        crosstalk_margin_db: a segment stays on its channel only if that channel is louder
            than every other channel over the segment by at least this much.
        min_above_floor_db: the segment's voiced level must be this far above the channel's
            background level; distant voices in the hall stay below it.
        min_level_dbfs: absolute floor for a segment's voiced level.
        frame_ms: frame of the per-stretch channel comparison.
        smooth_ms: channel levels are compared over a moving window this long, so single
            frames (a plosive, a pause between syllables) do not split a line.
        bridge_ms: own stretches closer than this are one stretch (pauses inside a line),
            and a stretch this close to the segment's edge reaches the edge.
        min_stretch_ms: own stretches shorter than this are not speech of the channel's speaker.
        pad_ms: audio kept around an own stretch (soft onsets and endings dominate less).
    """

    crosstalk_margin_db: float = 3.0
    min_above_floor_db: float = 6.0
    min_level_dbfs: float = -50.0
    frame_ms: int = 30
    smooth_ms: int = 270
    bridge_ms: int = 600
    min_stretch_ms: int = 400
    pad_ms: int = 150


@dataclass(frozen=True)
class GateDecision:
    """Whether a segment is kept, and the levels that decided it."""

    keep: bool
    reason: str
    own_dbfs: float
    other_dbfs: float | None
    floor_dbfs: float
    options: GateOptions = field(repr=False, compare=False, default_factory=GateOptions)


def _rms_dbfs(x: np.ndarray) -> float:
    if x.size == 0:
        return -100.0
    return float(20 * np.log10(max(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))), 1e-10)))


def gate_segment(segment: SpeechSegment, samples: np.ndarray, options: GateOptions | None = None) -> GateDecision:
    """Decide whether ``segment`` is speech of its own channel's speaker.

    Args:
        segment: a VAD segment on ``segment.channel``.
        samples: the audio of *all* channels over the segment's span, shape (channels, n).
        options: the thresholds.
    """
    options = options or GateOptions()
    samples = np.atleast_2d(samples)
    own = _rms_dbfs(samples[segment.channel])
    others = [_rms_dbfs(samples[c]) for c in range(samples.shape[0]) if c != segment.channel]
    other = max(others) if others else None
    floor = segment.floor_dbfs
    if segment.level_dbfs < options.min_level_dbfs:
        return GateDecision(False, f"too quiet ({segment.level_dbfs:.1f} dBFS)", own, other, floor, options)
    if segment.level_dbfs - floor < options.min_above_floor_db:
        return GateDecision(
            False, f"{segment.level_dbfs - floor:.1f} dB above the hall floor", own, other, floor, options
        )
    if other is not None and own - other < options.crosstalk_margin_db:
        return GateDecision(False, f"crosstalk: other channel {other - own:+.1f} dB", own, other, floor, options)
    return GateDecision(True, "kept", own, other, floor, options)


def own_stretches(segment: SpeechSegment, samples: np.ndarray, options: GateOptions | None = None) -> list[tuple[float, float]]:
    """Where in ``segment`` its own channel is louder than every other by the crosstalk margin.

    Args:
        segment: a VAD segment on ``segment.channel``.
        samples: the audio of all channels over the segment's span, shape (channels, n).
        options: the thresholds.

    Returns:
        (start_s, end_s) stretches in the recording's time, in order; the whole segment for
        a mono recording.

    Example:
        >>> import numpy as np
        >>> from audio_capture.vad import SpeechSegment
        >>> rng = np.random.default_rng(0)
        >>> own, other = rng.standard_normal(16000 * 4) * 0.1, rng.standard_normal(16000 * 4) * 0.1
        >>> own[16000 * 2 :] *= 0.1  # the second half is the other channel's speaker, heard 20 dB down
        >>> other[: 16000 * 2] *= 0.1
        >>> own_stretches(SpeechSegment(0, 10.0, 14.0, 4000, -20.0, -60.0), np.stack([own, other]))
        [(10.0, 12.1)]
    """
    options = options or GateOptions()
    samples = np.atleast_2d(samples)
    if samples.shape[0] < 2:
        return [(segment.start_s, segment.end_s)]
    frame_n = 16_000 * options.frame_ms // 1000
    frame_s = options.frame_ms / 1000
    powers = frame_powers(samples, frame_n)
    if powers.shape[1] == 0:
        return []
    width = max(1, options.smooth_ms // options.frame_ms)
    kernel = np.ones(width) / width
    smooth = np.stack([np.convolve(p, kernel, mode="same") for p in powers])
    own = 10 * np.log10(smooth[segment.channel] + 1e-20)
    other = 10 * np.log10(np.max(np.delete(smooth, segment.channel, axis=0), axis=0) + 1e-20)
    dominant = own - other >= options.crosstalk_margin_db
    runs, start = [], None
    for k, flag in enumerate(dominant):
        if flag and start is None:
            start = k
        if not flag and start is not None:
            runs.append([start, k])
            start = None
    if start is not None:
        runs.append([start, dominant.size])
    bridge = options.bridge_ms / 1000 / frame_s
    merged: list[list[int]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] <= bridge:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    n_frames = dominant.size
    stretches = []
    for lo, hi in merged:
        if (hi - lo) * frame_s * 1000 < options.min_stretch_ms:
            continue
        lo_s = 0.0 if lo <= bridge else max(0.0, lo * frame_s - options.pad_ms / 1000)
        hi_s = segment.duration_s if n_frames - hi <= bridge else min(segment.duration_s, hi * frame_s + options.pad_ms / 1000)
        stretches.append((round(segment.start_s + lo_s, 3), round(segment.start_s + hi_s, 3)))
    return stretches


def gate_stretches(
    segment: SpeechSegment, samples: np.ndarray, options: GateOptions | None = None
) -> list[tuple[SpeechSegment, GateDecision]]:
    """The stretches of ``segment`` spoken by its own channel's speaker, each gated.

    A segment whose own channel dominates throughout comes back whole; one that holds another
    speaker's turn comes back as the stretches before and after it; a segment that is all
    crosstalk comes back whole with a crosstalk decision. Each stretch then passes the
    hall-floor and crosstalk checks of :func:`gate_segment` on its own audio.

    Args:
        segment: a VAD segment on ``segment.channel``.
        samples: the audio of all channels over the segment's span, shape (channels, n).
        options: the thresholds.

    Returns:
        (segment or stretch, decision) pairs in time order.
    """
    options = options or GateOptions()
    samples = np.atleast_2d(samples)
    stretches = own_stretches(segment, samples, options)
    if not stretches:
        return [(segment, gate_segment(segment, samples, options))]
    if stretches == [(segment.start_s, segment.end_s)]:
        return [(segment, gate_segment(segment, samples, options))]
    out = []
    frame_n = 16_000 * options.frame_ms // 1000
    for start_s, end_s in stretches:
        lo = int(round((start_s - segment.start_s) * 16_000))
        hi = int(round((end_s - segment.start_s) * 16_000))
        audio = samples[:, lo:hi]
        # the stretch's voiced level: the louder half of its frames (pauses excluded)
        powers = np.sort(frame_powers(audio[segment.channel : segment.channel + 1], frame_n)[0])
        loud = powers[powers.size // 2 :] if powers.size else np.zeros(1)
        level = float(10 * np.log10(np.mean(loud) + 1e-20))
        voiced_ms = int(round(min(segment.voiced_ms, (end_s - start_s) * 1000)))
        stretch = replace(segment, start_s=start_s, end_s=end_s, voiced_ms=voiced_ms, level_dbfs=round(level, 1))
        out.append((stretch, gate_segment(stretch, audio, options)))
    return out
