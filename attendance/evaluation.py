"""Face identification evaluation on a folder of folders (shared spec eval-formats.md, "Faces").

``faces/<identity>/<photo>``: the first photo (sorted by name) of each identity is enrolled, the
others are probes; ``_impostors/`` holds people never enrolled. Reported:

- true-accept rate: probes accepted as their own identity, over all probes (a probe with no
  face found, or not accepted, counts as a miss);
- false-accept rate over all impostor trials: each impostor photo searched 1:N against the
  full gallery, and each probe searched against the gallery without its own identity
  (cross-identity: it must not be accepted as anybody else). A probe accepted as the wrong
  person in the normal search is also counted as a false accept.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from attendance.faces import BadImageError, FaceEngine, load_image
from attendance.gallery import EnrolmentOptions, EnrolmentRejected, Gallery, MatchOptions, enrol_image

logger = logging.getLogger("attendance")

IMPOSTOR_DIR = "_impostors"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


class EvalLayoutError(ValueError):
    """A faces folder that does not follow the evaluation layout."""


@dataclass(frozen=True)
class ProbeOutcome:
    path: str
    identity: str
    kind: str  # "probe" or "impostor"
    result: str  # accepted / rejected / wrong / no_face / error; for impostors: rejected / false_accept
    predicted: str | None = None
    distance: float | None = None
    margin: float | None = None
    cross_identity: str | None = None  # for probes: who it was accepted as with its own identity removed


@dataclass
class FaceEvalReport:
    engine: str
    threshold: float
    margin: float
    identities: int = 0
    enrolled: int = 0
    probes: int = 0
    accepted: int = 0
    misidentified: int = 0
    no_face: int = 0
    impostor_photos: int = 0
    impostor_photo_accepts: int = 0
    cross_identity_trials: int = 0
    cross_identity_accepts: int = 0
    errors: list[str] = field(default_factory=list)
    outcomes: list[ProbeOutcome] = field(default_factory=list)

    @property
    def tar(self) -> float | None:
        return self.accepted / self.probes if self.probes else None

    @property
    def impostor_trials(self) -> int:
        return self.impostor_photos + self.cross_identity_trials

    @property
    def false_accepts(self) -> int:
        return self.impostor_photo_accepts + self.cross_identity_accepts + self.misidentified

    @property
    def far(self) -> float | None:
        trials = self.impostor_trials + self.misidentified
        return self.false_accepts / trials if trials else None

    def to_json(self) -> dict:
        data = asdict(self)
        data.update(tar=self.tar, far=self.far, impostor_trials=self.impostor_trials, false_accepts=self.false_accepts)
        return data


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def evaluate_faces(
    engine: FaceEngine, root: str | Path, match: MatchOptions, enrolment: EnrolmentOptions | None = None,
    *, progress: bool = True,
) -> FaceEvalReport:
    """Run the identification evaluation on a faces folder.

    Raises:
        EvalLayoutError: the folder is missing or holds no identity folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise EvalLayoutError(f"{root}: faces folder not found")
    identities = sorted(p for p in root.iterdir() if p.is_dir() and p.name != IMPOSTOR_DIR and not p.name.startswith("."))
    if not identities:
        raise EvalLayoutError(f"{root}: no identity folders (expected faces/<identity>/<photo>)")
    # the layout decides which photo is enrolled: quality checks are reported, not enforced
    enrolment = enrolment or EnrolmentOptions(min_face_px=1, min_sharpness=0.0)
    report = FaceEvalReport(engine.name, match.threshold, match.margin, identities=len(identities))
    gallery = Gallery.for_engine(engine)
    probes: list[tuple[str, Path]] = []
    for ident in tqdm(identities, desc="enrol", disable=not progress, unit="id"):
        photos = _photos(ident)
        if not photos:
            report.errors.append(f"{ident}: no photos")
            continue
        first, rest = photos[0], photos[1:]
        try:
            face = enrol_image(engine, ident.name, load_image(first), str(first), enrolment)
        except (BadImageError, EnrolmentRejected) as exc:
            report.errors.append(f"enrolment failed: {exc}")
        else:
            gallery.add(face.staff_id, face.embedding, face.engine)
            report.enrolled += 1
        probes.extend((ident.name, p) for p in rest)
    impostors = _photos(root / IMPOSTOR_DIR) if (root / IMPOSTOR_DIR).is_dir() else []
    # a gallery per identity left out, for the cross-identity trials
    enrolled_ids = set(gallery.staff_ids)
    loo: dict[str, Gallery] = {}
    for identity, path in tqdm(probes + [(IMPOSTOR_DIR, p) for p in impostors], desc="search", disable=not progress, unit="photo"):
        kind = "impostor" if identity == IMPOSTOR_DIR else "probe"
        try:
            analysis = engine.analyse(load_image(path), embed=True)
        except BadImageError as exc:
            report.errors.append(str(exc))
            if kind == "probe":
                report.probes += 1
                report.outcomes.append(ProbeOutcome(str(path), identity, kind, "error"))
            continue
        face = max(analysis.faces, key=lambda f: f.box.size_px, default=None)
        if kind == "impostor":
            report.impostor_photos += 1
            if face is None:
                report.outcomes.append(ProbeOutcome(str(path), identity, kind, "no_face"))
                continue
            ident = gallery.identify(face.embedding, match)
            accepted = ident.staff_id is not None
            report.impostor_photo_accepts += accepted
            report.outcomes.append(ProbeOutcome(str(path), identity, kind, "false_accept" if accepted else "rejected",
                                                ident.best_staff_id, ident.best_distance, ident.margin))
            continue
        report.probes += 1
        if face is None:
            report.no_face += 1
            report.outcomes.append(ProbeOutcome(str(path), identity, kind, "no_face"))
            continue
        ident = gallery.identify(face.embedding, match)
        if ident.staff_id == identity:
            result = "accepted"
            report.accepted += 1
        elif ident.staff_id is not None:
            result = "wrong"
            report.misidentified += 1
        else:
            result = "rejected"
        cross = None
        if identity in enrolled_ids and len(enrolled_ids) > 1:
            if identity not in loo:
                loo[identity] = _without(gallery, identity, engine)
            other = loo[identity].identify(face.embedding, match)
            report.cross_identity_trials += 1
            if other.staff_id is not None:
                report.cross_identity_accepts += 1
                cross = other.staff_id
        report.outcomes.append(ProbeOutcome(str(path), identity, kind, result, ident.best_staff_id, ident.best_distance,
                                            ident.margin, cross))
    return report


def _without(gallery: Gallery, identity: str, engine: FaceEngine) -> Gallery:
    g = Gallery.for_engine(engine)
    for sid, vec in zip(gallery._ids, gallery._vectors):  # noqa: SLF001 - same module family
        if sid != identity:
            g.add(sid, vec)
    return g
