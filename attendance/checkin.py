"""Check-ins: from an image file, a video file or a camera, and the non-biometric fallback.

A camera or video gives a short burst of frames; each is scanned with the fast detector only,
the best frame (largest, sharpest face) is embedded once and searched 1:N in the gallery.
A face that is not accepted is recorded as an unknown check-in, never put on the nearest staff
member. A face within the threshold but not clearly inside it (``MatchOptions.sure_threshold``:
look-alike people land there) is only a candidate: a second clear frame of the same burst, or the
candidate's card or PIN (:func:`confirm_face_with_credential`), confirms it, and the check-in
records which. Repeated check-ins of one person within minutes collapse into one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from models.attendance import CheckIn, CheckMethod, PresenceSample, SecondFactor

from attendance.faces import BadImageError, DetectedFace, FaceEngine, FaceError, StageTimes, check_image_array, load_image
from attendance.gallery import Gallery, Identification, MatchDecision, MatchOptions

logger = logging.getLogger("attendance")

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts"}


class CaptureError(FaceError, RuntimeError):
    """A camera, stream or video that cannot be opened or gives no frames."""


class CredentialError(ValueError):
    """A card number or PIN that does not identify a staff member."""


@dataclass(frozen=True)
class BurstOptions:
    """How many frames a camera or video check-in looks at.

    Attributes:
        frames: frames read from the source.
        step: analyse every ``step``-th frame (the others are read and dropped, which keeps a
            live stream's buffer fresh).
        max_seconds: stop reading after this long even if fewer frames came.
    """

    frames: int = 12
    step: int = 3
    max_seconds: float = 3.0


@dataclass(frozen=True)
class FaceCheck:
    """The outcome of one face check-in attempt, with what made it."""

    checkin: CheckIn | None  # None when no face was found at all
    identification: Identification | None
    face: DetectedFace | None
    frames_read: int
    times: StageTimes
    search_s: float
    burst: BurstOptions | None = None

    @property
    def needs_second_factor(self) -> bool:
        """The face is a candidate only: a card or PIN of :attr:`candidate` must confirm it."""
        return self.identification is not None and self.identification.decision is MatchDecision.NEEDS_SECOND_FACTOR

    @property
    def candidate(self) -> str | None:
        """Whom the face resembles when it needs a second factor."""
        return self.identification.best_staff_id if self.needs_second_factor else None


def face_quality(face: DetectedFace) -> float:
    """Rank faces of a burst: bigger and sharper is better (sharpness saturates)."""
    return face.box.size_px * min(face.sharpness, 200.0) ** 0.5 * (1.0 + max(face.detector_score, 0.0))


def _largest(faces: Sequence[DetectedFace]) -> DetectedFace | None:
    return max(faces, key=lambda f: f.box.size_px, default=None)


def identify_image(
    engine: FaceEngine,
    gallery: Gallery,
    image_rgb: np.ndarray,
    match: MatchOptions,
    *,
    at: datetime,
    source: str | None = None,
    terminal: str | None = None,
    frames_read: int = 1,
) -> FaceCheck:
    """Check in the largest face of one image (the person at the terminal).

    Returns:
        A :class:`FaceCheck`; its ``checkin`` is an unknown check-in when the face is not
        accepted, and None when the image holds no face.
    """
    analysis = engine.analyse(image_rgb, embed=True, quick=True, largest_only=True)
    face = _largest(analysis.faces)
    times = analysis.times
    if face is None or face.embedding is None:
        return FaceCheck(None, None, None, frames_read, times, 0.0)
    t0 = time.perf_counter()
    ident = gallery.identify(face.embedding, match)
    search_s = time.perf_counter() - t0
    checkin = CheckIn(
        staff_id=ident.staff_id, at=at, method=CheckMethod.FACE, terminal=terminal,
        distance=ident.best_distance,
        margin=ident.margin, source=source,
    )
    if ident.staff_id is None:
        logger.info("unknown face at %s (%s; nearest %s at %.3f)", source or terminal or "?", ident.decision.value,
                    ident.best_staff_id, ident.best_distance if ident.best_distance is not None else float("nan"))
    return FaceCheck(checkin, ident, face, frames_read, times, search_s)


def checkin_image_file(
    engine: FaceEngine, gallery: Gallery, path: str | Path, match: MatchOptions, *, at: datetime | None = None,
    terminal: str | None = None,
) -> FaceCheck:
    """Check in from a photo file.

    Raises:
        BadImageError: the file is missing, empty or corrupt.
    """
    image = load_image(path)
    return identify_image(engine, gallery, image, match, at=at or datetime.now(), source=str(path), terminal=terminal)


def read_burst(source: int | str | Path, options: BurstOptions | None = None, *, capture=None) -> Iterator[np.ndarray]:
    """Yield RGB frames from a camera index, an RTSP/HTTP URL or a video file.

    Args:
        source: ``cv2.VideoCapture`` argument: device index, stream URL or file path.
        options: burst size.
        capture: an already opened ``cv2.VideoCapture`` (kept open by the caller).

    Raises:
        CaptureError: the source cannot be opened or yields no frame.
    """
    import cv2

    options = options or BurstOptions()
    own = capture is None
    if own:
        if isinstance(source, Path) or (isinstance(source, str) and "://" not in source and not source.isdigit()):
            if not Path(source).is_file():
                raise CaptureError(f"{source}: video file not found")
        arg = int(source) if isinstance(source, str) and source.isdigit() else str(source) if isinstance(source, Path) else source
        capture = cv2.VideoCapture(arg)
    try:
        if not capture.isOpened():
            raise CaptureError(f"{source}: cannot open camera, stream or video")
        t0 = time.monotonic()
        got = 0
        for i in range(options.frames):
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            got += 1
            if i % max(1, options.step) == 0:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if time.monotonic() - t0 > options.max_seconds:
                break
        if got == 0:
            raise CaptureError(f"{source}: no frame could be read (empty or corrupt video, or camera busy)")
    finally:
        if own:
            capture.release()


def checkin_burst(
    engine: FaceEngine, gallery: Gallery, frames: Iterable[np.ndarray], match: MatchOptions, *,
    at: datetime | None = None, source: str | None = None, terminal: str | None = None, burst: BurstOptions | None = None,
) -> FaceCheck:
    """Check in from the best frame of a burst: detection on every frame, embedding once.

    When the best frame's face needs a second factor, the next best frames (at most
    ``_SECOND_FRAMES``) are embedded too: one clearly inside the threshold for the same candidate
    confirms it (recorded as :attr:`SecondFactor.FRAME`).
    """
    ranked: list[tuple[float, int, np.ndarray]] = []
    n = 0
    detect_s = 0.0
    for frame in frames:
        n += 1
        frame = check_image_array(frame, source or "frame")
        analysis = engine.analyse(frame, embed=False)
        detect_s += analysis.times.detect_s
        face = _largest(analysis.faces)
        if face is not None:
            ranked.append((face_quality(face), n, frame))
            ranked = sorted(ranked, key=lambda r: (-r[0], r[1]))[: 1 + _SECOND_FRAMES]
    if not ranked:
        return FaceCheck(None, None, None, n, StageTimes(detect_s=detect_s), 0.0, burst)
    when = at or datetime.now()
    result = identify_image(engine, gallery, ranked[0][2], match, at=when, source=source, terminal=terminal, frames_read=n)
    result = replace(result, times=replace(result.times, detect_s=result.times.detect_s + detect_s), burst=burst)
    if result.needs_second_factor:
        for _, _, frame in ranked[1:]:
            other = identify_image(engine, gallery, frame, match, at=when, source=source, terminal=terminal, frames_read=n)
            if other.checkin is not None and other.checkin.staff_id == result.candidate:
                return replace(other, checkin=replace(other.checkin, second_factor=SecondFactor.FRAME), times=result.times,
                               burst=burst)
    return result


# further frames of a burst embedded when the best one's face needs a second factor
_SECOND_FRAMES = 2


def checkin_capture(
    engine: FaceEngine, gallery: Gallery, source: int | str | Path, match: MatchOptions, *,
    burst: BurstOptions | None = None, at: datetime | None = None, terminal: str | None = None, capture=None,
) -> FaceCheck:
    """Check in from a camera (device index or RTSP URL) or a video file: best frame of a burst.

    Raises:
        CaptureError: the source cannot be opened or gives no frames.
    """
    burst = burst or BurstOptions()
    # read the whole burst before analysing: a live camera keeps delivering frames while the
    # detector works, and max_seconds should bound the capture, not the analysis
    frames = list(read_burst(source, burst, capture=capture))
    return checkin_burst(engine, gallery, frames, match, at=at, source=str(source), terminal=terminal, burst=burst)


@dataclass(frozen=True)
class WatchOptions:
    """How a terminal camera is watched for people checking in.

    Attributes:
        min_face_px: a face at least this large (shorter side) is someone at the terminal;
            smaller faces (people passing behind) are ignored.
        burst: frames read for the check-in once someone is there.
        cooldown_s: after a check-in, frames are skipped for this long (the person walks away);
            repeats that still happen collapse when stored.
        max_frames: stop after this many frames (video files, tests); None: until the source ends.
    """

    min_face_px: int = 100
    burst: BurstOptions = BurstOptions(frames=6, step=2)
    cooldown_s: float = 3.0
    max_frames: int | None = None


def watch_capture(
    engine: FaceEngine, gallery: Gallery, capture, match: MatchOptions, options: WatchOptions | None = None, *,
    source: str | None = None, terminal: str | None = None, clock=datetime.now,
) -> Iterator[FaceCheck]:
    """Watch an opened ``cv2.VideoCapture`` and yield a check-in each time someone steps up.

    Each frame gets the quick detector only; when a large enough face appears, a short burst
    is read and the best frame checked in (:func:`checkin_burst`). Stops when the source ends.
    """
    import cv2

    options = options or WatchOptions()
    seen = 0
    resume_at = 0.0
    while options.max_frames is None or seen < options.max_frames:
        ok, frame = capture.read()
        if not ok or frame is None:
            break
        seen += 1
        if time.monotonic() < resume_at:
            continue
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        face = _largest(engine.analyse(rgb, embed=False, quick=True, largest_only=True).faces)
        if face is None or face.box.size_px < options.min_face_px:
            continue
        frames = [rgb]
        try:
            frames += list(read_burst(source or "camera", options.burst, capture=capture))
        except CaptureError:
            pass  # the source ended during the burst: check in with what there is
        seen += len(frames) - 1
        result = checkin_burst(engine, gallery, frames, match, at=clock(), source=source, terminal=terminal,
                               burst=options.burst)
        resume_at = time.monotonic() + options.cooldown_s
        if result.checkin is not None:
            yield result


def is_video_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


# ---------------------------------------------------------------------------- collapsing


def collapse_checkins(checkins: Iterable[CheckIn], window_minutes: int) -> list[CheckIn]:
    """Collapse repeated check-ins of one person within ``window_minutes`` into the first one.

    A repeat is counted on the kept check-in (``collapsed``). Unknown faces are kept as they are:
    they cannot be told apart, and each is a separate event to review.
    """
    window = timedelta(minutes=window_minutes)
    out: list[CheckIn] = []
    last: dict[str, int] = {}
    for c in sorted(checkins, key=lambda c: c.at):
        if c.staff_id is None:
            out.append(c)
            continue
        i = last.get(c.staff_id)
        if i is not None and c.at - out[i].at <= window:
            out[i] = replace(out[i], collapsed=out[i].collapsed + c.collapsed)
            continue
        last[c.staff_id] = len(out)
        out.append(c)
    return out


# ---------------------------------------------------------------------------- fallback


def hash_pin(pin: str, staff_id: str) -> str:
    """A salted hash of a PIN for the credential directory (the PIN itself is never stored)."""
    salt = hashlib.sha256(f"windowqa-pin:{staff_id}".encode()).digest()[:16]
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, 100_000).hex()


@dataclass
class CredentialDirectory:
    """Staff card numbers and PIN hashes for the non-biometric check-in.

    Attributes:
        cards: card number -> 工号.
        pin_hashes: 工号 -> :func:`hash_pin` of the PIN.
    """

    cards: dict[str, str]
    pin_hashes: dict[str, str]

    def by_card(self, card: str) -> str:
        try:
            return self.cards[card.strip()]
        except KeyError:
            raise CredentialError(f"card {card!r} is not registered to any staff member") from None

    def by_pin(self, staff_id: str, pin: str) -> str:
        stored = self.pin_hashes.get(staff_id)
        if stored is None or not hmac.compare_digest(stored, hash_pin(pin, staff_id)):
            raise CredentialError(f"wrong PIN or no PIN registered for staff {staff_id}")
        return staff_id


def checkin_card(directory: CredentialDirectory, card: str, *, at: datetime | None = None, terminal: str | None = None) -> CheckIn:
    """A check-in by staff card number, recorded as such."""
    return CheckIn(directory.by_card(card), at or datetime.now(), CheckMethod.CARD, terminal, source="card")


def checkin_pin(
    directory: CredentialDirectory, staff_id: str, pin: str, *, at: datetime | None = None, terminal: str | None = None
) -> CheckIn:
    """A check-in by 工号 and PIN, recorded as such."""
    return CheckIn(directory.by_pin(staff_id, pin), at or datetime.now(), CheckMethod.PIN, terminal, source="pin")


def confirm_face_with_credential(
    check: FaceCheck, directory: CredentialDirectory, *, card: str | None = None, pin: str | None = None,
) -> CheckIn:
    """Confirm a face that needs a second factor with the candidate's own card or PIN.

    Returns:
        A face check-in of the candidate that records the second factor.

    Raises:
        CredentialError: the face needs no confirmation, no credential was given, the credential
            is wrong, or it belongs to somebody other than the person the face resembles.
    """
    if not check.needs_second_factor or check.checkin is None:
        raise CredentialError("this face check-in needs no second factor")
    candidate = check.candidate
    if card:
        owner, factor = directory.by_card(card), SecondFactor.CARD
    elif pin:
        owner, factor = directory.by_pin(candidate, pin), SecondFactor.PIN
    else:
        raise CredentialError("the face is not clear enough: a card or PIN is needed")
    if owner != candidate:
        raise CredentialError(f"the card belongs to {owner}, the face resembles {candidate}: not accepted")
    return replace(check.checkin, staff_id=candidate, second_factor=factor)


# ---------------------------------------------------------------------------- window cameras


def presence_sample(
    engine: FaceEngine, gallery: Gallery, window_id: str, image_rgb: np.ndarray, match: MatchOptions, at: datetime
) -> PresenceSample:
    """Who of the enrolled staff one window-camera frame shows (every face, not only the largest).

    Presence is sampled every few minutes at a rostered window, not a check-in: a face within the
    threshold counts without a second factor (the sure band is for check-ins).
    """
    match = replace(match, sure_threshold=None)
    analysis = engine.analyse(image_rgb, embed=True)
    present: set[str] = set()
    unknown = 0
    for face in analysis.faces:
        if face.embedding is None:
            continue
        ident = gallery.identify(face.embedding, match)
        if ident.staff_id is None:
            unknown += 1
        else:
            present.add(ident.staff_id)
    return PresenceSample(window_id, at, frozenset(present), unknown)


__all__ = [
    "BadImageError",
    "BurstOptions",
    "CaptureError",
    "CredentialDirectory",
    "CredentialError",
    "FaceCheck",
    "checkin_burst",
    "checkin_capture",
    "checkin_card",
    "checkin_image_file",
    "checkin_pin",
    "collapse_checkins",
    "confirm_face_with_credential",
    "hash_pin",
    "identify_image",
    "is_video_path",
    "presence_sample",
    "read_burst",
    "watch_capture",
    "WatchOptions",
]
