"""Face identification evaluation on a folder of folders (shared spec eval-formats.md, "Faces").

``faces/<identity>/<photo>``: the first photo (sorted by name) of each identity is enrolled, the
others are probes; ``_impostors/`` holds people never enrolled. Reported:

- true-accept rate: probes accepted as their own identity on the face alone, over all probes
  (a probe with no face found, or not accepted, counts as a miss); beside it the rate with a
  second factor (probes whose face was a candidate for their own identity and would be
  confirmed by their card or PIN) and the share of probes that needed one;
- false-accept rate over all impostor trials, open-set: each impostor photo searched 1:N against
  the full gallery, and every photo of each identity (its enrolment photo included) searched
  against the gallery without that identity (leave one identity out: it must not be accepted as
  anybody else). A probe accepted as the wrong person in the normal search is also counted as a
  false accept. An impostor whose face is only a candidate is asked for the candidate's card or
  PIN, which it does not have: counted apart (``impostor_second_factor``), never as accepted.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from attendance.faces import BadImageError, FaceEngine, load_image
from attendance.gallery import EnrolmentOptions, EnrolmentRejected, Gallery, MatchDecision, MatchOptions, enrol_image

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
    result: str  # accepted / second_factor / rejected / wrong / no_face / error; impostors: rejected / second_factor / false_accept
    predicted: str | None = None
    distance: float | None = None
    margin: float | None = None
    cross_identity: str | None = None  # for probes: who it was accepted as with its own identity removed
    cross_distance: float | None = None  # nearest distance with its own identity removed


@dataclass
class FaceEvalReport:
    engine: str
    threshold: float
    margin: float
    sure_threshold: float | None = None
    identities: int = 0
    enrolled: int = 0
    probes: int = 0
    accepted: int = 0
    second_factor: int = 0  # probes whose face was a candidate for their own identity
    misidentified: int = 0
    no_face: int = 0
    impostor_photos: int = 0
    impostor_photo_accepts: int = 0
    cross_identity_trials: int = 0
    cross_identity_accepts: int = 0
    impostor_second_factor: int = 0  # impostor trials asked for a card or PIN they do not have
    errors: list[str] = field(default_factory=list)
    outcomes: list[ProbeOutcome] = field(default_factory=list)

    @property
    def tar(self) -> float | None:
        """Accepted on the face alone."""
        return self.accepted / self.probes if self.probes else None

    @property
    def tar_with_second_factor(self) -> float | None:
        return (self.accepted + self.second_factor) / self.probes if self.probes else None

    @property
    def second_factor_share(self) -> float | None:
        """Share of genuine check-ins that needed a card, PIN or second frame."""
        return self.second_factor / self.probes if self.probes else None

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
        data.update(tar=self.tar, tar_with_second_factor=self.tar_with_second_factor,
                    second_factor_share=self.second_factor_share, far=self.far, impostor_trials=self.impostor_trials,
                    false_accepts=self.false_accepts)
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
    report = FaceEvalReport(engine.name, match.threshold, match.margin, match.sure_threshold, identities=len(identities))
    gallery = Gallery.for_engine(engine)
    photos: list[tuple[str, Path, bool]] = []  # identity, photo, is the enrolment photo
    for ident in tqdm(identities, desc="enrol", disable=not progress, unit="id"):
        found = _photos(ident)
        if not found:
            report.errors.append(f"{ident}: no photos")
            continue
        first = found[0]
        try:
            face = enrol_image(engine, ident.name, load_image(first), str(first), enrolment)
        except (BadImageError, EnrolmentRejected) as exc:
            report.errors.append(f"enrolment failed: {exc}")
        else:
            gallery.add(face.staff_id, face.embedding, face.engine)
            report.enrolled += 1
            photos.append((ident.name, first, True))
        photos.extend((ident.name, p, False) for p in found[1:])
    impostors = _photos(root / IMPOSTOR_DIR) if (root / IMPOSTOR_DIR).is_dir() else []
    trials = _Trials(report, gallery, engine, match)
    for identity, path, enrolled in tqdm(photos + [(IMPOSTOR_DIR, p, False) for p in impostors], desc="search",
                                         disable=not progress, unit="photo"):
        trials.run(identity, path, enrolled)
    return report


class _Trials:
    """The searches of one evaluation: each photo against the gallery and, left out, against the others."""

    def __init__(self, report: FaceEvalReport, gallery: Gallery, engine: FaceEngine, match: MatchOptions) -> None:
        self.report, self.gallery, self.engine, self.match = report, gallery, engine, match
        self.enrolled_ids = set(gallery.staff_ids)
        self.loo: dict[str, Gallery] = {}  # a gallery per identity left out

    def run(self, identity: str, path: Path, enrolled: bool) -> None:
        report = self.report
        kind = "impostor" if identity == IMPOSTOR_DIR else "probe"
        try:
            analysis = self.engine.analyse(load_image(path), embed=True)
        except BadImageError as exc:
            report.errors.append(str(exc))
            if kind == "probe" and not enrolled:
                report.probes += 1
                report.outcomes.append(ProbeOutcome(str(path), identity, kind, "error"))
            return
        face = max(analysis.faces, key=lambda f: f.box.size_px, default=None)
        if kind == "impostor":
            self._impostor(identity, path, face)
            return
        cross, cross_d = self._left_out(identity, face) if face is not None else (None, None)
        if enrolled:
            return  # the enrolment photo is only an open-set trial
        report.probes += 1
        if face is None:
            report.no_face += 1
            report.outcomes.append(ProbeOutcome(str(path), identity, kind, "no_face"))
            return
        ident = self.gallery.identify(face.embedding, self.match)
        if ident.staff_id == identity:
            result = "accepted"
            report.accepted += 1
        elif ident.staff_id is not None:
            result = "wrong"
            report.misidentified += 1
        elif ident.decision is MatchDecision.NEEDS_SECOND_FACTOR and ident.best_staff_id == identity:
            result = "second_factor"
            report.second_factor += 1
        else:
            result = "rejected"
        report.outcomes.append(ProbeOutcome(str(path), identity, kind, result, ident.best_staff_id, ident.best_distance,
                                            ident.margin, cross, cross_d))

    def _impostor(self, identity: str, path: Path, face) -> None:
        report = self.report
        report.impostor_photos += 1
        if face is None:
            report.outcomes.append(ProbeOutcome(str(path), identity, "impostor", "no_face"))
            return
        ident = self.gallery.identify(face.embedding, self.match)
        result = "rejected"
        if ident.staff_id is not None:
            result = "false_accept"
            report.impostor_photo_accepts += 1
        elif ident.decision is MatchDecision.NEEDS_SECOND_FACTOR:
            result = "second_factor"
            report.impostor_second_factor += 1
        report.outcomes.append(ProbeOutcome(str(path), identity, "impostor", result, ident.best_staff_id,
                                            ident.best_distance, ident.margin))

    def _left_out(self, identity: str, face) -> tuple[str | None, float | None]:
        """Search without the photo's own identity: who (if anyone) it is accepted as, and how near."""
        if identity not in self.enrolled_ids or len(self.enrolled_ids) < 2:
            return None, None
        if identity not in self.loo:
            self.loo[identity] = _without(self.gallery, identity, self.engine)
        other = self.loo[identity].identify(face.embedding, self.match)
        self.report.cross_identity_trials += 1
        if other.staff_id is not None:
            self.report.cross_identity_accepts += 1
        elif other.decision is MatchDecision.NEEDS_SECOND_FACTOR:
            self.report.impostor_second_factor += 1
        return other.staff_id, other.best_distance


def _without(gallery: Gallery, identity: str, engine: FaceEngine) -> Gallery:
    g = Gallery.for_engine(engine)
    for sid, vec in zip(gallery._ids, gallery._vectors):  # noqa: SLF001 - same module family
        if sid != identity:
            g.add(sid, vec)
    return g
