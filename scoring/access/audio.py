"""The part of a recording a reviewer may hear: the evidence and a few seconds around it.

A whole recording holds every citizen served in that hour; a reviewer needs only the hit. The
clip is cut here, in the data layer, so that nothing else of the file ever leaves the server:
the dashboard receives the clip's bytes, never a path or the whole file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MARGIN_S = 5.0
MAX_CLIP_S = 120.0  # evidence spanning a whole interaction (a courtesy not said) is heard from its start, this long at most


@dataclass(frozen=True)
class AudioClip:
    """A cut of a recording: FLAC bytes of ``start_s``..``end_s`` (seconds into the recording)."""

    data: bytes
    mime: str
    start_s: float
    end_s: float
    hit_s: float  # the evidence's start, seconds into the clip

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def cut_clip(path: str | Path, hit_start_s: float, hit_end_s: float, margin_s: float = DEFAULT_MARGIN_S,
             max_s: float = MAX_CLIP_S) -> AudioClip | None:
    """The evidence ``hit_start_s``..``hit_end_s`` of a recording with ``margin_s`` either side, ``max_s`` at most.

    Returns:
        The clip, or None when the file cannot be decoded or the evidence lies outside it.
    """
    import soundfile as sf

    margin_s = max(0.0, float(margin_s))
    hit_end_s = max(hit_end_s, hit_start_s)
    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            total = f.frames
            first = max(0, int((hit_start_s - margin_s) * rate))
            last = min(total, int((hit_end_s + margin_s) * rate) + 1, first + int(max_s * rate))
            if first >= last:
                return None
            f.seek(first)
            samples = f.read(last - first, dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError):
        return None
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="FLAC", subtype="PCM_16")
    start_s = first / rate
    return AudioClip(buf.getvalue(), "audio/flac", start_s, start_s + len(samples) / rate, max(0.0, hit_start_s - start_s))
