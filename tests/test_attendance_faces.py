"""Face engine, enrolment checks, 1:N identification and check-ins on real photos (dlib models)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from attendance.checkin import (
    BurstOptions,
    CaptureError,
    CredentialDirectory,
    CredentialError,
    checkin_capture,
    checkin_card,
    checkin_image_file,
    checkin_pin,
    checkin_burst,
    collapse_checkins,
    confirm_face_with_credential,
    hash_pin,
    presence_sample,
)
from attendance.faces import BadImageError, DlibFaceEngine, EngineUnavailableError, InsightFaceEngine, load_image
from attendance.gallery import (
    EnrolmentOptions,
    EnrolmentRejected,
    Gallery,
    MatchDecision,
    MatchOptions,
    RejectReason,
    enrol_file,
    enrol_image,
)
from models.attendance import CheckIn, CheckMethod, SecondFactor

pytestmark = pytest.mark.slow

FACES = Path(__file__).parent / "data" / "faces"
PEOPLE = FACES / "people"
P03_ENROL, P03_PROBE = PEOPLE / "deepface_p03" / "img50.jpg", PEOPLE / "deepface_p03" / "img51.jpg"
P05_ENROL, P05_PROBE = PEOPLE / "deepface_p05" / "img16.jpg", PEOPLE / "deepface_p05" / "img62.jpg"
CLAPTON_ENROL, CLAPTON_PROBE = PEOPLE / "eric_clapton" / "clapton-1.jpg", PEOPLE / "eric_clapton" / "clapton-2.jpg"
IMPOSTOR = PEOPLE / "_impostors" / "tom_cruise_Tom_Cruise_avp_2014_4.jpg"
TWO_FACES = FACES / "scenes" / "kit_harington_rose_leslie_kit_with_rose.jpg"
# one person whose two photos are 0.549 apart: within dlib's 0.6, not clearly (look-alikes land there)
BAND_ENROL, BAND_PROBE = FACES / "band" / "deepface_p02" / "img12.jpg", FACES / "band" / "deepface_p02" / "img55.jpg"
AT = datetime(2025, 9, 15, 8, 20)


@pytest.fixture(scope="module")
def engine():
    return DlibFaceEngine()


@pytest.fixture(scope="module")
def gallery(engine):
    g = Gallery.for_engine(engine)
    for staff_id, photo in (("0303", P03_ENROL), ("0505", P05_ENROL), ("0707", CLAPTON_ENROL)):
        g.add_many([enrol_file(engine, staff_id, photo)])
    return g


@pytest.fixture(scope="module")
def match(engine):
    return MatchOptions.for_engine(engine)


# ---------------------------------------------------------------------------- bad images


def test_load_image_names_the_file_and_the_reason(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(P03_ENROL.read_bytes()[:200])  # a real JPEG header, then nothing
    text = tmp_path / "notes.png"
    text.write_text("这不是图片", encoding="utf-8")
    cases = {tmp_path / "missing.jpg": "not found", empty: "empty file", truncated: "not a readable image",
             text: "not a readable image", tmp_path: "is a folder"}
    for path, reason in cases.items():
        with pytest.raises(BadImageError) as err:
            load_image(path)
        assert str(path) in str(err.value) and reason in str(err.value)


def test_load_image_reads_a_chinese_path(tmp_path):
    target = tmp_path / "员工照片.jpg"
    target.write_bytes(P03_ENROL.read_bytes())
    assert load_image(target).shape == (512, 410, 3)


def test_enrol_file_turns_a_corrupt_photo_into_a_rejection(engine, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(P05_ENROL.read_bytes()[: len(P05_ENROL.read_bytes()) // 50])
    with pytest.raises(EnrolmentRejected) as err:
        enrol_file(engine, "0505", bad)
    assert err.value.reason is RejectReason.BAD_IMAGE


# ---------------------------------------------------------------------------- enrolment checks


def test_enrolment_accepts_one_clear_face(engine):
    face = enrol_file(engine, "0303", P03_ENROL)
    assert face.staff_id == "0303" and face.engine == "dlib"
    assert face.embedding.shape == (128,)
    assert face.face_px >= 150 and face.sharpness > 100
    assert face.options == EnrolmentOptions()  # the result carries the options that made it


def test_enrolment_rejects_two_faces(engine):
    with pytest.raises(EnrolmentRejected) as err:
        enrol_file(engine, "0001", TWO_FACES)
    assert err.value.reason is RejectReason.SEVERAL_FACES
    assert "2 faces" in str(err.value) and TWO_FACES.name in str(err.value)


def test_enrolment_rejects_a_photo_without_a_face(engine):
    image = load_image(IMPOSTOR)[520:, :].copy()  # the real photo below the chin: shirt, no face
    with pytest.raises(EnrolmentRejected) as err:
        enrol_image(engine, "0001", image, "below-the-chin")
    assert err.value.reason is RejectReason.NO_FACE


def test_enrolment_rejects_a_face_too_small(engine):
    import cv2

    image = load_image(P05_ENROL)
    small = cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    with pytest.raises(EnrolmentRejected) as err:
        enrol_image(engine, "0505", small, "small")
    assert err.value.reason is RejectReason.TOO_SMALL
    assert "at least 80 px" in str(err.value)


def test_enrolment_rejects_a_blurred_photo(engine):
    import cv2

    image = load_image(P03_ENROL)
    blurred = cv2.GaussianBlur(image, (0, 0), 5)
    with pytest.raises(EnrolmentRejected) as err:
        enrol_image(engine, "0303", blurred, "blurred")
    assert err.value.reason is RejectReason.TOO_BLURRED
    # the same photo, not blurred, passes: the check is about the blur
    assert enrol_image(engine, "0303", image, "sharp").sharpness > 100


# ---------------------------------------------------------------------------- identification


def test_probes_are_identified_as_their_staff(engine, gallery, match):
    for probe, staff_id in ((P03_PROBE, "0303"), (P05_PROBE, "0505"), (CLAPTON_PROBE, "0707")):
        result = checkin_image_file(engine, gallery, probe, match, at=AT)
        assert result.identification.decision is MatchDecision.ACCEPTED, probe
        assert result.checkin.staff_id == staff_id
        assert result.checkin.distance <= match.threshold
        assert result.checkin.margin >= match.margin


def test_unknown_face_is_recorded_as_unknown_not_the_nearest(engine, gallery, match):
    result = checkin_image_file(engine, gallery, IMPOSTOR, match, at=AT, terminal="大厅东门")
    assert result.identification.decision is MatchDecision.ABOVE_THRESHOLD
    assert result.identification.best_staff_id is not None  # there was a nearest staff member ...
    assert result.checkin.staff_id is None and result.checkin.is_unknown  # ... and it was not used
    assert result.checkin.terminal == "大厅东门" and result.checkin.method is CheckMethod.FACE


def test_margin_to_the_second_best_is_required(engine, gallery):
    strict = MatchOptions(threshold=0.6, margin=0.9)  # no real pair of people is this far apart
    result = checkin_image_file(engine, gallery, P03_PROBE, strict, at=AT)
    assert result.identification.best_staff_id == "0303"
    assert result.identification.decision is MatchDecision.AMBIGUOUS
    assert result.checkin.staff_id is None


def test_a_face_not_clearly_inside_the_threshold_needs_a_second_factor(engine, gallery, match):
    band = Gallery.for_engine(engine)
    band.add_many(gallery_faces(engine))
    band.add_many([enrol_file(engine, "0202", BAND_ENROL)])
    result = checkin_image_file(engine, band, BAND_PROBE, match, at=AT)
    assert match.sure_threshold < result.identification.best_distance <= match.threshold
    # not on the face alone: a look-alike of 0202 would be here too
    assert result.identification.decision is MatchDecision.NEEDS_SECOND_FACTOR
    assert result.checkin.staff_id is None and result.needs_second_factor and result.candidate == "0202"
    directory = CredentialDirectory(cards={"CARD-02": "0202", "CARD-07": "0707"}, pin_hashes={"0202": hash_pin("1357", "0202")})
    by_card = confirm_face_with_credential(result, directory, card="CARD-02")
    assert (by_card.staff_id, by_card.method, by_card.second_factor) == ("0202", CheckMethod.FACE, SecondFactor.CARD)
    by_pin = confirm_face_with_credential(result, directory, pin="1357")
    assert (by_pin.staff_id, by_pin.second_factor) == ("0202", SecondFactor.PIN)
    with pytest.raises(CredentialError, match="belongs to 0707"):
        confirm_face_with_credential(result, directory, card="CARD-07")  # somebody else's card
    with pytest.raises(CredentialError):
        confirm_face_with_credential(result, directory, pin="0000")
    with pytest.raises(CredentialError, match="card or PIN is needed"):
        confirm_face_with_credential(result, directory)
    # a clear face needs no confirmation, and presence sampling (not a check-in) counts the candidate
    clear = checkin_image_file(engine, band, P03_PROBE, match, at=AT)
    assert clear.checkin.staff_id == "0303" and clear.checkin.second_factor is None and not clear.needs_second_factor
    assert "0202" in presence_sample(engine, band, "W01", load_image(BAND_PROBE), match, AT).staff_present


def gallery_faces(engine):
    return [enrol_file(engine, s, p) for s, p in (("0303", P03_ENROL), ("0505", P05_ENROL), ("0707", CLAPTON_ENROL))]


def test_a_second_clear_frame_of_the_burst_confirms_a_face_in_the_band(engine, gallery):
    import cv2

    probe, other = load_image(P03_PROBE), load_image(P03_ENROL)
    d_probe = gallery.identify(engine.analyse(probe, embed=True).faces[0].embedding, MatchOptions(0.6, 0.05)).best_distance
    assert d_probe > 0.05
    # the frame with the larger face (ranked first) sits in the band, the other one is clearly inside
    band = MatchOptions(threshold=0.6, margin=0.05, sure_threshold=d_probe - 0.01)
    big = cv2.resize(probe, None, fx=1.5, fy=1.5)
    result = checkin_burst(engine, gallery, [other, big], band, at=AT)
    assert result.checkin.staff_id == "0303" and result.checkin.second_factor is SecondFactor.FRAME
    alone = checkin_burst(engine, gallery, [big], band, at=AT)
    assert alone.needs_second_factor and alone.checkin.staff_id is None


def test_the_band_must_lie_under_the_threshold():
    with pytest.raises(ValueError, match="sure_threshold"):
        MatchOptions(threshold=0.5, margin=0.05, sure_threshold=0.6)


def test_check_in_from_a_video_picks_the_best_frame(engine, gallery, match, tmp_path):
    import cv2

    face = cv2.cvtColor(load_image(P05_PROBE), cv2.COLOR_RGB2BGR)
    h, w = 480, 640
    path = tmp_path / "terminal.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    assert writer.isOpened()
    for i in range(9):
        frame = np.full((h, w, 3), 90, np.uint8)
        if i >= 3:  # the person steps up to the terminal: the face grows
            scale = 0.35 + 0.1 * (i - 3)
            f = cv2.resize(face, None, fx=scale, fy=scale)
            fh, fw = f.shape[:2]
            frame[(h - fh) // 2 : (h - fh) // 2 + fh, (w - fw) // 2 : (w - fw) // 2 + fw] = f
        writer.write(frame)
    writer.release()
    result = checkin_capture(engine, gallery, path, match, burst=BurstOptions(frames=9, step=1), at=AT)
    assert result.frames_read == 9
    assert result.checkin.staff_id == "0505"
    assert result.face.box.size_px > 150  # the largest face of the burst was used
    assert result.burst == BurstOptions(frames=9, step=1)


def test_capture_errors_name_the_source(engine, gallery, match, tmp_path):
    with pytest.raises(CaptureError, match="not found"):
        checkin_capture(engine, gallery, tmp_path / "none.mp4", match)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 2048)
    with pytest.raises(CaptureError) as err:
        checkin_capture(engine, gallery, broken, match)
    assert "broken.mp4" in str(err.value)


def test_frame_without_face_records_nothing(engine, gallery, match):
    image = load_image(IMPOSTOR)[520:, :].copy()
    from attendance.checkin import identify_image

    result = identify_image(engine, gallery, image, match, at=AT)
    assert result.checkin is None and result.face is None


def test_terminal_check_in_embeds_only_the_largest_face(engine):
    image = load_image(TWO_FACES)
    every = engine.analyse(image, embed=False)
    one = engine.analyse(image, embed=True, quick=True, largest_only=True)
    assert len(every.faces) == 2 and len(one.faces) == 1
    big, got = max(every.faces, key=lambda f: f.box.size_px).box, one.faces[0].box
    cx, cy = (got.left + got.right) / 2, (got.top + got.bottom) / 2
    assert big.left < cx < big.right and big.top < cy < big.bottom  # the same (largest) person
    assert one.faces[0].embedding is not None


def test_presence_sample_counts_every_face(engine, gallery, match):
    from attendance.checkin import presence_sample

    sample = presence_sample(engine, gallery, "W01", load_image(TWO_FACES), match, AT)
    assert sample.window_id == "W01" and sample.at == AT
    assert sample.staff_present == frozenset() and sample.unknown_faces == 2  # two people, neither enrolled
    sample = presence_sample(engine, gallery, "W01", load_image(P05_PROBE), match, AT)
    assert sample.staff_present == frozenset({"0505"}) and sample.unknown_faces == 0


# ---------------------------------------------------------------------------- collapsing and fallback


def test_repeated_check_ins_within_minutes_collapse():
    t = lambda hh, mm: datetime(2025, 9, 15, hh, mm)  # noqa: E731
    raw = [
        CheckIn("0303", t(8, 20)), CheckIn("0303", t(8, 22)), CheckIn("0303", t(8, 25)),
        CheckIn("0505", t(8, 21)), CheckIn(None, t(8, 21)), CheckIn(None, t(8, 22)),
        CheckIn("0303", t(8, 26)),  # 6 minutes after the kept one: a new check
    ]
    out = collapse_checkins(raw, window_minutes=5)
    mine = [c for c in out if c.staff_id == "0303"]
    assert [c.at for c in mine] == [t(8, 20), t(8, 26)]
    assert mine[0].collapsed == 3
    assert sum(c.is_unknown for c in out) == 2  # unknown faces are never merged


def test_card_and_pin_fallback_are_recorded_as_such():
    directory = CredentialDirectory(cards={"CARD-88": "0707"}, pin_hashes={"0707": hash_pin("2468", "0707")})
    card = checkin_card(directory, "CARD-88", at=AT, terminal="T1")
    assert (card.staff_id, card.method) == ("0707", CheckMethod.CARD)
    pin = checkin_pin(directory, "0707", "2468", at=AT)
    assert (pin.staff_id, pin.method) == ("0707", CheckMethod.PIN)
    with pytest.raises(CredentialError):
        checkin_pin(directory, "0707", "1111", at=AT)
    with pytest.raises(CredentialError):
        checkin_card(directory, "CARD-00", at=AT)
    assert "2468" not in hash_pin("2468", "0707")


# ---------------------------------------------------------------------------- engines


def test_insightface_needs_a_complete_local_pack(tmp_path):
    with pytest.raises(EngineUnavailableError, match="none is configured"):
        InsightFaceEngine(None)
    with pytest.raises(EngineUnavailableError, match="not found"):
        InsightFaceEngine(tmp_path / "models" / "buffalo_l")
    pack = tmp_path / "models" / "buffalo_l"
    pack.mkdir(parents=True)
    (pack / "det_10g.onnx").write_bytes(b"")
    with pytest.raises(EngineUnavailableError, match="incomplete insightface model pack"):
        InsightFaceEngine(pack)
    # both files present by name but damaged: a clear error, never a download
    (pack / "w600k_r50.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(EngineUnavailableError, match="insightface"):
        InsightFaceEngine(pack)
    assert sorted(p.name for p in pack.iterdir()) == ["det_10g.onnx", "w600k_r50.onnx"]


def test_nothing_heavy_loads_at_import():
    code = (
        "import sys, attendance.faces, attendance.gallery, attendance.checkin, attendance.schedule, "
        "attendance.presence, attendance.report, attendance.evaluation; "
        "print(sorted(m for m in ('dlib', 'insightface', 'onnxruntime', 'face_recognition_models') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]"


def test_eval_command_reports_counts(tmp_path):
    from typer.testing import CliRunner

    from windowqa.cli import app

    result = CliRunner().invoke(app, ["attendance", "eval", str(PEOPLE), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["probes"] == 3 and report["accepted"] == 3 and report["tar"] == 1.0
    # one impostor photo + every photo of each identity (enrolment photo too) against the others
    assert report["impostor_trials"] == 1 + 6
    assert report["false_accepts"] == 0 and report["far"] == 0.0
    assert report["threshold"] == 0.6 and report["sure_threshold"] == 0.5
    assert report["tar_with_second_factor"] >= report["tar"]
    assert report["second_factor_share"] == report["second_factor"] / report["probes"]
