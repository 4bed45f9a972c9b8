"""Channels and roles: which microphone is whose, and whose speech a segment is.

A window's channel map is configuration: by default a stereo recording has the staff lapel
microphone on channel 0 and the citizen-side microphone on channel 1; mono audio gets role
``unknown`` (the scoring stage decides). Each microphone also hears the other person and the
hall, so a segment is kept on a channel only where it is loudest (crosstalk) and clearly above
that channel's background (the hall floor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audio_capture.vad import SpeechSegment
from models.domain import Role


@dataclass(frozen=True)
class ChannelMap:
    """Roles per channel of one window's recordings.

    Attributes:
        roles: role of each channel, by channel number.
        window: the window id the recordings belong to.
        mono_role: role of a mono recording's speech; ``unknown`` by default (the scoring
            stage decides), set where the speaker is known (an evaluation manifest).
    """

    roles: tuple[Role, ...] = (Role.STAFF, Role.CITIZEN)
    window: str | None = None
    mono_role: Role = Role.UNKNOWN  # who speaks on a mono recording, when known

    @classmethod
    def parse(cls, spec: str, *, window: str | None = None) -> "ChannelMap":
        """A map from a comma list such as ``"staff,citizen"``.

        Raises:
            ValueError: an unknown role name (the message lists the valid ones).
        """
        roles = []
        for name in (part.strip().lower() for part in spec.split(",")):
            try:
                roles.append(Role(name))
            except ValueError:
                valid = ", ".join(r.value for r in Role)
                raise ValueError(f"unknown role {name!r} in channel map {spec!r}; expected one of {valid}") from None
        return cls(tuple(roles), window)

    def role_for(self, channel: int, n_channels: int) -> Role:
        """Role of ``channel`` in a recording with ``n_channels`` channels (mono: unknown)."""
        if n_channels == 1:
            return self.mono_role
        return self.roles[channel] if channel < len(self.roles) else Role.UNKNOWN


@dataclass(frozen=True)
class GateOptions:
    """Crosstalk and hall-floor gate.

    Attributes:
        crosstalk_margin_db: a segment stays on its channel only if that channel is louder
            than every other channel over the segment by at least this much.
        min_above_floor_db: the segment's voiced level must be this far above the channel's
            background level; distant voices in the hall stay below it.
        min_level_dbfs: absolute floor for a segment's voiced level.
    """

    crosstalk_margin_db: float = 3.0
    min_above_floor_db: float = 6.0
    min_level_dbfs: float = -50.0


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
