"""Benchmark: face check-in latency on one CPU core, and 1:N search time with 1,000 staff.

Measures, for a 640x480 and a 1280x720 frame made from real photos (center-cropped to the
frame's aspect ratio, as a terminal camera frames a person):

- detect, align (5-point landmarks + face chip), embed (ResNet descriptor) and search (1:N over
  1,000 enrolled staff, 3 embeddings each) of a full check-in (``identify_image``);
- the CNN (MMOD) detector on the same frames, for comparison with the default HOG detector;
- 1:N search alone, many repetitions.

Targets (issue 5): <= 0.5 s per check-in, <= 5 ms per search.

Usage::

    .venv/bin/python benchmarks/bench_faces.py [--repeats 5] [--json] [--no-cnn]
"""

from __future__ import annotations

import os

# one core: pin BLAS pools before numpy/dlib load, then the process itself below
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attendance.checkin import identify_image  # noqa: E402
from attendance.faces import DlibFaceEngine, DlibOptions, load_image  # noqa: E402
from attendance.gallery import Gallery, MatchOptions, enrol_image  # noqa: E402

PHOTOS = [
    ROOT / "tests/data/faces/people/eric_clapton/clapton-1.jpg",
    ROOT / "tests/data/faces/people/deepface_p03/img50.jpg",
    ROOT / "tests/data/faces/people/deepface_p05/img16.jpg",
]
SIZES = [(640, 480), (1280, 720)]


def _pin_one_core() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu {cpu}"
    except (AttributeError, OSError):
        return "not pinned"


def _frame(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    w, h = size
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    resized = cv2.resize(image, (round(iw * scale), round(ih * scale)), interpolation=cv2.INTER_AREA)
    rh, rw = resized.shape[:2]
    top, left = (rh - h) // 2, (rw - w) // 2
    return np.ascontiguousarray(resized[top : top + h, left : left + w])


def _gallery(engine, n_staff: int, per_staff: int, real: list[tuple[str, np.ndarray]]) -> Gallery:
    g = Gallery.for_engine(engine)
    for staff_id, emb in real:
        g.add(staff_id, emb)
    rng = np.random.default_rng(5)
    # filler staff: random directions at the norm of real dlib descriptors (timing only)
    norm = float(np.mean([np.linalg.norm(e) for _, e in real]))
    for i in range(n_staff - len(real)):
        for _ in range(per_staff):
            v = rng.normal(size=engine.embedding_dim).astype(np.float32)
            g.add(f"S{i:05d}", v / np.linalg.norm(v) * norm)
    return g


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="check-ins per photo and frame size")
    parser.add_argument("--searches", type=int, default=2000, help="1:N searches to time")
    parser.add_argument("--staff", type=int, default=1000, help="enrolled staff for the search")
    parser.add_argument("--no-cnn", action="store_true", help="skip the CNN detector comparison")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)

    pinned = _pin_one_core()
    engine = DlibFaceEngine(DlibOptions())
    images = [load_image(p) for p in PHOTOS]
    real = [(f"R{i}", enrol_image(engine, f"R{i}", img, str(p)).embedding) for i, (p, img) in enumerate(zip(PHOTOS, images))]
    gallery = _gallery(engine, args.staff, 3, real)
    match = MatchOptions.for_engine(engine)
    results: dict = {"engine": engine.name, "options": engine.options.__dict__, "pinned": pinned,
                     "gallery_embeddings": len(gallery), "gallery_staff": args.staff, "frames": {}}

    for size in SIZES:
        frames = [_frame(img, size) for img in images]
        identify_image(engine, gallery, frames[0], match, at=datetime.now())  # warm-up
        rows = {"detect_s": [], "align_s": [], "embed_s": [], "search_s": [], "total_s": []}
        found = 0
        for frame in frames:
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                r = identify_image(engine, gallery, frame, match, at=datetime.now())
                total = time.perf_counter() - t0
                found += r.checkin is not None
                rows["detect_s"].append(r.times.detect_s)
                rows["align_s"].append(r.times.align_s)
                rows["embed_s"].append(r.times.embed_s)
                rows["search_s"].append(r.search_s)
                rows["total_s"].append(total)
        entry = {k: {"median": statistics.median(v), "max": max(v)} for k, v in rows.items()}
        entry["checkins"] = len(rows["total_s"])
        entry["faces_found"] = found
        if not args.no_cnn:
            t0 = time.perf_counter()
            cnn = engine.analyse(frames[0], embed=False, detector="cnn", allow_upsample=False)
            entry["cnn_detect_s"] = time.perf_counter() - t0
            entry["cnn_faces"] = len(cnn.faces)
        results["frames"][f"{size[0]}x{size[1]}"] = entry

    probe = real[0][1] + np.random.default_rng(1).normal(scale=0.01, size=engine.embedding_dim).astype(np.float32)
    gallery.identify(probe, match)
    times = []
    for _ in range(args.searches):
        t0 = time.perf_counter()
        gallery.identify(probe, match)
        times.append(time.perf_counter() - t0)
    results["search_1_to_n"] = {"staff": args.staff, "embeddings": len(gallery), "median_ms": 1000 * statistics.median(times),
                                "p99_ms": 1000 * float(np.percentile(times, 99)), "searches": args.searches}

    if args.json:
        print(json.dumps(results, indent=1, default=str))
        return 0
    print(f"dlib engine, HOG detector (max side {engine.options.detect_max_side_px} px, upsample {engine.options.upsample}), "
          f"one core ({pinned}); gallery {args.staff} staff x 3 = {len(gallery)} embeddings")
    print(f"{'frame':>10} {'detect':>8} {'align':>8} {'embed':>8} {'search':>8} {'total':>8} {'max':>8}  {'CNN detect':>10}")
    for name, e in results["frames"].items():
        cnn = f"{e['cnn_detect_s']:.3f} s" if "cnn_detect_s" in e else "-"
        print(f"{name:>10} {e['detect_s']['median']:8.3f} {e['align_s']['median']:8.3f} {e['embed_s']['median']:8.3f} "
              f"{e['search_s']['median']:8.4f} {e['total_s']['median']:8.3f} {e['total_s']['max']:8.3f}  {cnn:>10}"
              f"   ({e['faces_found']}/{e['checkins']} faces; seconds, medians)")
    s = results["search_1_to_n"]
    print(f"1:N search, {s['staff']} staff ({s['embeddings']} embeddings): median {s['median_ms']:.3f} ms, p99 {s['p99_ms']:.3f} ms")
    ok_checkin = all(e["total_s"]["median"] <= 0.5 for e in results["frames"].values())
    print(f"targets: check-in <= 0.5 s: {'met' if ok_checkin else 'NOT met'}; search <= 5 ms: "
          f"{'met' if s['median_ms'] <= 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
