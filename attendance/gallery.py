"""Enrolment quality checks and 1:N identification against the enrolled staff.

A :class:`Gallery` holds every enrolment embedding with its staff id (several photos per
person). Identification takes the nearest embedding of each person, then accepts the best
person only when the distance is within the threshold AND the second-best person is at least
``margin`` further away; otherwise the face is unknown, never forced onto the nearest staff.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attendance.faces import BadImageError, DetectedFace, FaceEngine, FaceError, load_image

logger = logging.getLogger("attendance")


class EnrolmentRejected(FaceError, ValueError):
    """An enrolment photo that fails a quality check; ``reason`` is a :class:`RejectReason`."""

    def __init__(self, source: str, reason: "RejectReason", detail: str) -> None:
        super().__init__(f"{source}: {reason.value}: {detail}")
        self.source = source
        self.reason = reason
        self.detail = detail


class RejectReason(str, enum.Enum):
    BAD_IMAGE = "bad_image"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    TOO_SMALL = "too_small"
    TOO_BLURRED = "too_blurred"


@dataclass(frozen=True)
class EnrolmentOptions:
    """Quality checks for enrolment photos.

    Attributes:
        min_face_px: shorter side of the face box; dlib's descriptor is trained on ~150 px chips,
            smaller faces give unsteady embeddings.
        min_sharpness: variance of the Laplacian of the aligned 150 px grey chip; sharp photos
            score in the hundreds, a visibly blurred one under ~20.
        secondary_face_ratio: a second face smaller than this fraction of the largest one
            (a poster, someone far behind) does not count as "two faces".
    """

    min_face_px: int = 80
    min_sharpness: float = 25.0
    secondary_face_ratio: float = 0.0


@dataclass(frozen=True)
class EnrolledFace:
    """One accepted enrolment photo."""

    staff_id: str
    embedding: np.ndarray = field(repr=False)
    engine: str
    source: str
    face_px: int
    sharpness: float
    options: EnrolmentOptions


def check_enrolment_face(faces: Sequence[DetectedFace], source: str, options: EnrolmentOptions) -> DetectedFace:
    """Apply the quality checks to the faces found in one photo.

    Returns:
        The one face to enrol.

    Raises:
        EnrolmentRejected: no face, several faces, too small or too blurred.
    """
    if not faces:
        raise EnrolmentRejected(source, RejectReason.NO_FACE, "no face found")
    ranked = sorted(faces, key=lambda f: f.box.size_px, reverse=True)
    counted = [f for f in ranked if f.box.size_px >= options.secondary_face_ratio * ranked[0].box.size_px]
    if len(counted) > 1:
        raise EnrolmentRejected(source, RejectReason.SEVERAL_FACES, f"{len(counted)} faces found; exactly one is needed")
    face = ranked[0]
    if face.box.size_px < options.min_face_px:
        raise EnrolmentRejected(
            source, RejectReason.TOO_SMALL, f"face is {face.box.size_px} px, at least {options.min_face_px} px needed"
        )
    if face.sharpness < options.min_sharpness:
        raise EnrolmentRejected(
            source, RejectReason.TOO_BLURRED, f"sharpness {face.sharpness:.1f} under {options.min_sharpness:.1f}"
        )
    return face


def enrol_image(
    engine: FaceEngine, staff_id: str, image_rgb: np.ndarray, source: str, options: EnrolmentOptions | None = None
) -> EnrolledFace:
    """Check one enrolment image and embed its face.

    Raises:
        EnrolmentRejected: the photo fails a quality check.
    """
    options = options or EnrolmentOptions()
    analysis = engine.analyse(image_rgb, embed=True, enrol=True)
    face = check_enrolment_face(analysis.faces, source, options)
    assert face.embedding is not None
    return EnrolledFace(staff_id, face.embedding, engine.name, source, face.box.size_px, face.sharpness, options)


def enrol_file(engine: FaceEngine, staff_id: str, path: str | Path, options: EnrolmentOptions | None = None) -> EnrolledFace:
    """Check and embed one enrolment photo file.

    Raises:
        EnrolmentRejected: unreadable (reason ``bad_image``) or failing a quality check.
    """
    try:
        image = load_image(path)
    except BadImageError as exc:
        raise EnrolmentRejected(str(path), RejectReason.BAD_IMAGE, str(exc).split(": ", 1)[-1]) from None
    return enrol_image(engine, staff_id, image, str(path), options)


# ---------------------------------------------------------------------------- identification


@dataclass(frozen=True)
class MatchOptions:
    """Acceptance rule for 1:N identification (distances in the engine's metric).

    Attributes:
        threshold: distance at or under which a face may be the staff member at all.
        margin: required distance gap to the second-best staff member.
        sure_threshold: distance at or under which the face alone is enough. Between it and
            ``threshold`` the face is only a candidate: look-alike people fall in that band, so
            a second factor (card, PIN or a second clear frame) must confirm it. None accepts
            every face within ``threshold`` (the behaviour before the band existed).
    """

    threshold: float
    margin: float
    sure_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.sure_threshold is not None and self.sure_threshold > self.threshold:
            raise ValueError(f"sure_threshold {self.sure_threshold} is above threshold {self.threshold}")

    @classmethod
    def for_engine(
        cls, engine: FaceEngine, threshold: float | None = None, margin: float | None = None,
        sure_threshold: float | None = None,
    ) -> "MatchOptions":
        threshold = engine.default_threshold if threshold is None else threshold
        sure = engine.default_sure_threshold if sure_threshold is None else sure_threshold
        return cls(threshold=threshold, margin=engine.default_margin if margin is None else margin,
                   sure_threshold=min(sure, threshold))


class MatchDecision(str, enum.Enum):
    ACCEPTED = "accepted"
    ABOVE_THRESHOLD = "above_threshold"  # nearest staff member too far: unknown face
    AMBIGUOUS = "ambiguous"  # two staff members nearly as close: unknown face
    NEEDS_SECOND_FACTOR = "needs_second_factor"  # within threshold but not clearly: confirm by card, PIN or frame
    EMPTY_GALLERY = "empty_gallery"


@dataclass(frozen=True)
class Identification:
    """The result of one 1:N search; ``staff_id`` is None unless accepted."""

    staff_id: str | None
    decision: MatchDecision
    best_staff_id: str | None
    best_distance: float | None
    second_staff_id: str | None
    second_distance: float | None
    options: MatchOptions

    @property
    def margin(self) -> float | None:
        if self.best_distance is None or self.second_distance is None:
            return None
        return self.second_distance - self.best_distance


class Gallery:
    """Enrolment embeddings of all staff, searched 1:N.

    Args:
        metric: ``"euclidean"`` (dlib) or ``"cosine"`` (insightface), from the engine.
        dim: embedding length.
        engine_name: the engine the embeddings came from; mixing engines is refused.
    """

    def __init__(self, metric: str, dim: int, engine_name: str) -> None:
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"unknown metric {metric!r}; expected euclidean or cosine")
        self.metric = metric
        self.dim = dim
        self.engine_name = engine_name
        self._ids: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self._owner: np.ndarray | None = None
        self._staff: list[str] = []

    @classmethod
    def for_engine(cls, engine: FaceEngine) -> "Gallery":
        return cls(engine.metric, engine.embedding_dim, engine.name)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def staff_ids(self) -> list[str]:
        return sorted(set(self._ids))

    def add(self, staff_id: str, embedding: np.ndarray, engine_name: str | None = None) -> None:
        if engine_name is not None and engine_name != self.engine_name:
            raise ValueError(f"embedding of {staff_id} comes from engine {engine_name!r}, the gallery holds {self.engine_name!r}")
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise ValueError(f"embedding of {staff_id} has {vector.shape[0]} values, expected {self.dim}")
        if self.metric == "cosine":
            vector = vector / (np.linalg.norm(vector) or 1.0)
        self._ids.append(staff_id)
        self._vectors.append(vector)
        self._matrix = None

    def add_many(self, faces: Iterable[EnrolledFace]) -> None:
        for f in faces:
            self.add(f.staff_id, f.embedding, f.engine)

    def _build(self) -> None:
        self._staff = sorted(set(self._ids))
        index = {s: i for i, s in enumerate(self._staff)}
        self._matrix = np.stack(self._vectors).astype(np.float32) if self._vectors else np.zeros((0, self.dim), np.float32)
        self._owner = np.array([index[s] for s in self._ids], dtype=np.int64)

    def distances(self, embedding: np.ndarray) -> dict[str, float]:
        """The nearest distance to each enrolled staff member."""
        if self._matrix is None:
            self._build()
        per_staff = self._per_staff(np.asarray(embedding, dtype=np.float32).reshape(-1))
        return {s: float(d) for s, d in zip(self._staff, per_staff)}

    def _per_staff(self, vector: np.ndarray) -> np.ndarray:
        assert self._matrix is not None and self._owner is not None
        if self.metric == "cosine":
            vector = vector / (np.linalg.norm(vector) or 1.0)
            d = 1.0 - self._matrix @ vector
        else:
            diff = self._matrix - vector
            d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        per_staff = np.full(len(self._staff), np.inf, dtype=np.float32)
        np.minimum.at(per_staff, self._owner, d)
        return per_staff

    def identify(self, embedding: np.ndarray, options: MatchOptions) -> Identification:
        """1:N search with a threshold and a margin to the second-best staff member."""
        if not self._ids:
            return Identification(None, MatchDecision.EMPTY_GALLERY, None, None, None, None, options)
        if self._matrix is None:
            self._build()
        per_staff = self._per_staff(np.asarray(embedding, dtype=np.float32).reshape(-1))
        if len(per_staff) >= 2:
            top2 = np.argpartition(per_staff, 1)[:2]
            top2 = top2[np.argsort(per_staff[top2])]
            b, s = int(top2[0]), int(top2[1])
            second_id, second_d = self._staff[s], float(per_staff[s])
        else:
            b, second_id, second_d = 0, None, None
        best_id, best_d = self._staff[b], float(per_staff[b])
        if best_d > options.threshold:
            decision = MatchDecision.ABOVE_THRESHOLD
        elif second_d is not None and second_d - best_d < options.margin:
            decision = MatchDecision.AMBIGUOUS
        elif options.sure_threshold is not None and best_d > options.sure_threshold:
            decision = MatchDecision.NEEDS_SECOND_FACTOR
        else:
            decision = MatchDecision.ACCEPTED
        return Identification(
            best_id if decision is MatchDecision.ACCEPTED else None, decision, best_id, best_d, second_id, second_d, options
        )
