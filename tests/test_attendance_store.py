"""Attendance persistence on real databases (SQLite file; PostgreSQL when WINDOWQA_TEST_PG_URL is set) and the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from _store_support import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)
from attendance.faces import DlibFaceEngine
from attendance.gallery import Gallery, MatchOptions, enrol_file
from attendance.store import (
    compute_month,
    load_checkins,
    load_credentials,
    load_gallery,
    load_leaves,
    load_substitutes,
    load_window_duties,
    save_checkin,
    save_enrolment,
    save_leave,
    save_presence_sample,
    set_credentials,
)
from models.workdays import WorkCalendar
from models.attendance import (
    AbsenteeismCause,
    CheckIn,
    CheckMethod,
    CoverageIssue,
    HalfDay,
    HalfDayStatus,
    LeaveExtension,
    LeaveRecord,
    LeaveStatus,
    PresenceSample,
    SecondFactor,
)
from models.attendance_db import CheckInRow, FaceEmbeddingRow
from models.db import Staff, Substitution, Window, init_db, make_engine, make_session_factory, open_database

PEOPLE = Path(__file__).parent / "data" / "faces" / "people"


@pytest.fixture
def factory(db_url):  # noqa: F811
    engine = init_db(make_engine(db_url))
    yield make_session_factory(engine)
    engine.dispose()


def _site(session) -> None:
    w1 = Window(code="W01", name="不动产")
    w2 = Window(code="W02", name="公积金")
    a = Staff(staff_no="1001", name="张敏", windows=[w1])
    b = Staff(staff_no="1002", name="李强", windows=[w1])
    c = Staff(staff_no="2001", name="王芳", windows=[w2])
    s = Staff(staff_no="9001", name="赵替")
    session.add_all([w1, w2, a, b, c, s])
    session.flush()
    session.add(Substitution(window_id=w2.id, substitute_id=s.id, replaced_id=c.id, starts_at=datetime(2025, 9, 22, 8),
                             ends_at=datetime(2025, 9, 22, 18), approved=True, filed_at=datetime(2025, 9, 19, 10)))


def _day_checks(staff_no: str, day: date) -> list[CheckIn]:
    return [CheckIn(staff_no, datetime.combine(day, datetime.min.time()) + timedelta(hours=h, minutes=m))
            for h, m in ((8, 20), (12, 2), (13, 50), (18, 5))]


def test_checkins_collapse_and_unknown_faces_are_kept(factory):
    with factory() as s, s.begin():
        _site(s)
        first, new1 = save_checkin(s, CheckIn("1001", datetime(2025, 9, 15, 8, 20)), window_minutes=5)
        again, new2 = save_checkin(s, CheckIn("1001", datetime(2025, 9, 15, 8, 23)), window_minutes=5)
        later, new3 = save_checkin(s, CheckIn("1001", datetime(2025, 9, 15, 8, 40)), window_minutes=5)
        save_checkin(s, CheckIn(None, datetime(2025, 9, 15, 8, 21), distance=0.71), window_minutes=5)
        save_checkin(s, CheckIn("1002", datetime(2025, 9, 15, 8, 22), CheckMethod.PIN), window_minutes=5)
    assert (new1, new2, new3) == (True, False, True)
    with factory() as s:
        assert s.get(CheckInRow, first.id).collapsed == 2
        known = load_checkins(s, date(2025, 9, 15), date(2025, 9, 15))
        everything = load_checkins(s, date(2025, 9, 15), date(2025, 9, 15), include_unknown=True)
    assert [c.staff_id for c in known] == ["1001", "1002", "1001"]
    assert known[1].method is CheckMethod.PIN
    assert sum(c.is_unknown for c in everything) == 1


def test_leave_roundtrip_and_reimport_updates(factory):
    leave = LeaveRecord("1002", "病假", date(2025, 9, 23), date(2025, 9, 24), LeaveStatus.APPROVED,
                        extensions=(LeaveExtension(date(2025, 9, 26), LeaveStatus.PENDING),), record_id="OA-77")
    with factory() as s, s.begin():
        _site(s)
        save_leave(s, leave)
        save_leave(s, LeaveRecord("1002", "病假", date(2025, 9, 23), date(2025, 9, 24), LeaveStatus.APPROVED,
                                  extensions=(LeaveExtension(date(2025, 9, 26), LeaveStatus.REJECTED),), record_id="OA-77"))
    with factory() as s:
        leaves = load_leaves(s, date(2025, 9, 1), date(2025, 9, 30))
    assert len(leaves) == 1
    assert leaves[0].extensions == (LeaveExtension(date(2025, 9, 26), LeaveStatus.REJECTED),)


def test_roster_substitutes_and_credentials(factory, rulebook):
    with factory() as s, s.begin():
        _site(s)
        set_credentials(s, "9001", card_no="C-9001", pin="5678", face_consent=False)
        w1 = s.query(Window).filter_by(code="W01").one()
        sub = s.query(Staff).filter_by(staff_no="9001").one()
        # a morning-only stand-in at W01, filed only after it began
        s.add(Substitution(window_id=w1.id, substitute_id=sub.id, starts_at=datetime(2025, 9, 23, 8, 30),
                           ends_at=datetime(2025, 9, 23, 12, 0), approved=True, filed_at=datetime(2025, 9, 23, 9, 0)))
    with factory() as s:
        duties = {d.window_id: d.staff_ids for d in load_window_duties(s, date(2025, 9, 1), date(2025, 9, 30))}
        subs = load_substitutes(s, date(2025, 9, 1), date(2025, 9, 30), rulebook)
        directory = load_credentials(s)
    assert duties == {"W01": ("1001", "1002"), "W02": ("2001",)}
    assert sorted((x.window_id, x.substitute_staff_id, x.start, x.end, x.filed, x.half) for x in subs) == [
        ("W01", "9001", date(2025, 9, 23), date(2025, 9, 23), False, HalfDay.MORNING),
        ("W02", "9001", date(2025, 9, 22), date(2025, 9, 22), True, None),
    ]
    assert directory.by_card("C-9001") == "9001" and directory.by_pin("9001", "5678") == "9001"
    assert "5678" not in json.dumps(directory.pin_hashes)


def test_checkin_desk_and_leave_rows_as_the_cli_and_the_demo_use_them(factory):
    from attendance.checkin import CredentialError
    from attendance.services import CheckinDesk, DeskOptions, leave_from_row, save_leaves

    with factory() as s, s.begin():
        _site(s)
        set_credentials(s, "1001", card_no="C-1001")
        set_credentials(s, "1002", pin="2468")
        desk = CheckinDesk(s, DeskOptions(window_minutes=5, terminal="东门"))
        first = desk.card("C-1001", datetime(2025, 9, 15, 8, 10))
        again = desk.card(" C-1001 ", datetime(2025, 9, 15, 8, 12))
        assert first.new and not again.new and again.row.id == first.row.id and again.row.collapsed == 2
        by_pin = desk.pin("1002", "2468", datetime(2025, 9, 15, 8, 11))
        assert (by_pin.checkin.method, by_pin.row.terminal, by_pin.new) == (CheckMethod.PIN, "东门", True)
        with pytest.raises(CredentialError):
            desk.pin("1002", "0000", datetime(2025, 9, 15, 8, 30))
        with pytest.raises(ValueError, match="face engine"):
            desk.gallery  # noqa: B018  (a card desk has no face engine)
        truth = {"staff": "1002", "leave_type": "事假", "start": "2025-09-16", "end": "2025-09-16", "status": "approved",
                 "start_half": "afternoon", "end_half": "afternoon", "record_id": "QJ-1"}
        records = [leave_from_row(truth, ["事假"]), leave_from_row({**truth, "staff": "7777", "record_id": "QJ-2"}, ["事假"])]
        assert (records[0].start_half, records[0].extensions, records[0].note) == (HalfDay.AFTERNOON, (), "")
        result = save_leaves(s, records, "truth.json")
        assert result.saved == 1 and len(result.rejected) == 1 and result.rejected[0].startswith("truth.json: QJ-2: ")
        with pytest.raises(ValueError, match="unknown leave type"):
            leave_from_row({**truth, "leave_type": "调休假"}, ["事假"])
    with factory() as s:
        assert [lv.record_id for lv in load_leaves(s, date(2025, 9, 1), date(2025, 9, 30))] == ["QJ-1"]
        assert len(load_checkins(s, date(2025, 9, 15), date(2025, 9, 15))) == 2


@pytest.mark.slow
def test_enrolment_embeddings_roundtrip_into_a_gallery(factory):
    engine = DlibFaceEngine()
    face = enrol_file(engine, "1001", PEOPLE / "deepface_p03" / "img50.jpg")
    with factory() as s, s.begin():
        _site(s)
        save_enrolment(s, face)
    with factory() as s:
        row = s.query(FaceEmbeddingRow).one()
        gallery = load_gallery(s, Gallery.for_engine(engine))
    assert row.photo_path is None and row.source_name == "img50.jpg"  # photos are not kept by default
    assert np.allclose(np.frombuffer(row.vector, np.float32), face.embedding)
    probe = engine.analyse(__import__("attendance.faces", fromlist=["load_image"]).load_image(
        PEOPLE / "deepface_p03" / "img51.jpg")).faces[0]
    assert gallery.identify(probe.embedding, MatchOptions.for_engine(engine)).staff_id == "1001"


def test_compute_month_from_the_database(factory, rulebook):
    days = WorkCalendar().working_days(date(2025, 9, 1), date(2025, 9, 26))
    with factory() as s, s.begin():
        _site(s)
        for d in days:
            for sid in ("1001", "1002", "2001"):
                if (sid, d) in {("1002", date(2025, 9, 17)), ("2001", date(2025, 9, 22))}:
                    continue
                for c in _day_checks(sid, d):
                    save_checkin(s, c, window_minutes=5)
            if d == date(2025, 9, 22):
                for c in _day_checks("9001", d):
                    save_checkin(s, c, window_minutes=5)
        save_leave(s, LeaveRecord("2001", "年假", date(2025, 9, 22), date(2025, 9, 22), LeaveStatus.APPROVED))
        save_checkin(s, CheckIn("1001", datetime(2025, 9, 16, 8, 41)), window_minutes=5)  # a second arrival: ignored
        t = datetime(2025, 9, 16, 9, 0)
        while t < datetime(2025, 9, 16, 9, 30):
            present = {"1001", "1002"} if t.minute < 5 or t.minute > 20 else {"1002"}
            save_presence_sample(s, PresenceSample("W01", t, frozenset(present)))
            t += timedelta(minutes=1)
    with factory() as s:
        result = compute_month(s, "2025-09", rulebook, WorkCalendar(), as_of=date(2025, 9, 26))
    by = {(r.staff_id, r.day): r for r in result.records}
    assert by[("1002", date(2025, 9, 17))].morning.absenteeism is AbsenteeismCause.NO_LEAVE_FILED
    assert by[("2001", date(2025, 9, 22))].morning.status is HalfDayStatus.LEAVE
    assert not [f for f in result.coverage if f.issue is not CoverageIssue.SUBSTITUTE_NOT_FILED and f.window_id == "W02"]
    line = {x.staff_id: x for x in result.staff_lines}
    assert line["1002"].absenteeism_days == 1.0 and line["2001"].leave_days == 1.0
    assert line["1001"].working_days == len(days)
    assert [(f.staff_ids, f.start.minute, f.end.minute) for f in result.presence] == [(("1001",), 5, 21)]
    assert {w.window_id for w in result.window_lines} == {"W01", "W02"}
    # the floating substitute is held to the schedule only on the day they substituted
    assert line["9001"].working_days == 1 and line["9001"].absenteeism_days == 0


def test_cli_leave_import_checkin_and_report(db_url, tmp_path, monkeypatch):  # noqa: F811
    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    engine = init_db(make_engine(db_url))
    with make_session_factory(engine)() as s, s.begin():
        _site(s)
        set_credentials(s, "1001", card_no="C-1001")
    engine.dispose()
    leaves = tmp_path / "leaves.csv"
    leaves.write_text(
        "staff,leave_type,start,end,status,extension_end,extension_status,record_id\n"
        "1002,事假,2025-09-16,2025-09-16,approved,,,OA-1\n"
        "1002,调休假,2025-09-17,2025-09-17,approved,,,OA-2\n"
        "7777,病假,2025-09-18,2025-09-18,approved,,,OA-3\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    res = runner.invoke(app, ["attendance", "leave-import", str(leaves), "--db", db_url])
    assert res.exit_code == 0, res.output
    assert "1 leave record(s) imported, 2 rejected" in res.output
    assert "调休假" in res.output and "7777" in res.output
    for at in ("2025-09-15T08:10", "2025-09-15T08:12", "2025-09-15T12:01"):
        res = runner.invoke(app, ["attendance", "checkin", "--card", "C-1001", "--at", at, "--db", db_url, "--json"])
        assert res.exit_code == 0, res.output
    assert json.loads(res.output)["method"] == "card"
    res = runner.invoke(app, ["attendance", "checkin", "--card", "C-0000", "--db", db_url])
    assert res.exit_code == 1 and "not registered" in res.output
    res = runner.invoke(app, ["attendance", "leave-add", "--staff", "1001", "--type", "病假", "--start", "2025-09-18",
                              "--end", "2025-09-19", "--status", "approved", "--extend-to", "2025-09-22",
                              "--extension-status", "rejected", "--record-id", "OA-9", "--db", db_url])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["attendance", "leave-add", "--staff", "1001", "--type", "产检假", "--start", "2025-09-18",
                              "--end", "2025-09-19", "--db", db_url])
    assert res.exit_code == 2 and "unknown leave type" in res.output
    res = runner.invoke(app, ["attendance", "report", "--month", "2025-09", "--format", "csv", "--db", db_url])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.output)))
    staff_rows = {r[0]: r for r in rows[1:] if r and r[0].isdigit()}
    assert set(staff_rows) >= {"1001", "1002", "2001"}
    header = rows[0]
    assert staff_rows["1001"][header.index("请假天数")] == "2.0"  # 18-19 Sep 病假
    assert float(staff_rows["1001"][header.index("旷工天数")]) >= 1.0  # 22 Sep: extension refused
    res = runner.invoke(app, ["attendance", "report", "--month", "2025-09", "--format", "xlsx", "-o",
                              str(tmp_path / "sep.xlsx"), "--db", db_url])
    assert res.exit_code == 0 and (tmp_path / "sep.xlsx").stat().st_size > 0
    res = runner.invoke(app, ["attendance", "report", "--month", "2025-13", "--db", db_url])
    assert res.exit_code == 2 and "YYYY-MM" in res.output


@pytest.mark.slow
def test_cli_enroll_and_face_check_in(sqlite_url, tmp_path, monkeypatch):  # noqa: F811
    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes((PEOPLE / "deepface_p05" / "img16.jpg").read_bytes()[:300])
    two = Path(__file__).parent / "data" / "faces" / "scenes" / "kit_harington_rose_leslie_kit_with_rose.jpg"
    runner = CliRunner()
    res = runner.invoke(app, ["attendance", "enroll", "--staff", "0505", str(PEOPLE / "deepface_p05" / "img16.jpg"),
                              "--db", sqlite_url])
    assert res.exit_code == 2 and "unknown staff" in res.output  # no such staff and no --name
    res = runner.invoke(app, ["attendance", "enroll", "--staff", "0505", "--name", "测试", str(PEOPLE / "deepface_p05" / "img16.jpg"),
                              str(two), str(corrupt), "--db", sqlite_url])
    assert res.exit_code == 0, res.output
    assert "1 of 3 photo(s) enrolled" in res.output and "several_faces" in res.output and "bad_image" in res.output
    assert not (tmp_path / "data" / "enrolment").exists()  # photos are not kept by default
    res = runner.invoke(app, ["attendance", "checkin", "--image", str(PEOPLE / "deepface_p05" / "img62.jpg"),
                              "--at", "2025-09-15T08:21", "--db", sqlite_url, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert (out["staff"], out["decision"], out["method"]) == ("0505", "accepted", "face")
    res = runner.invoke(app, ["attendance", "checkin", "--image", str(PEOPLE / "_impostors" / "tom_cruise_Tom_Cruise_avp_2014_4.jpg"),
                              "--at", "2025-09-15T08:22", "--db", sqlite_url, "--json"])
    out = json.loads(res.output)
    assert out["staff"] is None and out["unknown"] is True and out["nearest"] == "0505"
    res = runner.invoke(app, ["attendance", "unenroll", "--staff", "0505", "--db", sqlite_url])
    assert res.exit_code == 0 and "1 embedding(s) deleted" in res.output


@pytest.mark.slow
def test_cli_face_in_the_band_is_confirmed_by_the_candidates_card(sqlite_url, tmp_path, monkeypatch):  # noqa: F811
    """A face within the threshold but not clearly inside it needs the card; somebody else's card is refused."""
    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    band = Path(__file__).parent / "data" / "faces" / "band" / "deepface_p02"
    runner = CliRunner()
    for staff, name, photo in (("0202", "甲", band / "img12.jpg"), ("0505", "乙", PEOPLE / "deepface_p05" / "img16.jpg")):
        res = runner.invoke(app, ["attendance", "enroll", "--staff", staff, "--name", name, str(photo), "--db", sqlite_url])
        assert res.exit_code == 0, res.output
        res = runner.invoke(app, ["attendance", "credential", "--staff", staff, "--card", f"CARD-{staff}", "--db", sqlite_url])
        assert res.exit_code == 0, res.output

    def check(at: str, *extra: str) -> dict:
        res = runner.invoke(app, ["attendance", "checkin", "--image", str(band / "img55.jpg"), "--at", at, *extra,
                                  "--db", sqlite_url, "--json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.output)

    alone = check("2025-09-15T08:20")
    assert alone["decision"] == "needs_second_factor" and alone["staff"] is None and alone["awaits_second_factor"]
    assert alone["nearest"] == "0202" and alone["sure_threshold"] < alone["distance"] <= alone["threshold"]
    wrong = check("2025-09-15T08:21", "--card", "CARD-0505")
    assert wrong["staff"] is None and "0505" in wrong["second_factor_refused"]
    right = check("2025-09-15T08:22", "--card", "CARD-0202")
    assert (right["staff"], right["method"], right["second_factor"]) == ("0202", "face", "card")
    factory = open_database(sqlite_url)
    with factory() as s:
        rows = s.execute(select(CheckInRow.staff_id, CheckInRow.second_factor, CheckInRow.note).order_by(CheckInRow.at)).all()
    assert [r.second_factor for r in rows] == [None, None, SecondFactor.CARD]
    assert "需刷卡" in rows[0].note and "第二验证未通过" in rows[1].note


@pytest.mark.slow
def test_cli_terminal_watches_a_camera_and_collapses_repeats(sqlite_url, tmp_path, monkeypatch):  # noqa: F811
    import cv2

    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    res = runner.invoke(app, ["attendance", "enroll", "--staff", "0505", "--name", "测试",
                              str(PEOPLE / "deepface_p05" / "img16.jpg"), "--db", sqlite_url])
    assert res.exit_code == 0, res.output
    # a terminal camera: empty hall, the person steps up for a while, empty again
    face = cv2.resize(cv2.imread(str(PEOPLE / "deepface_p05" / "img62.jpg")), None, fx=0.7, fy=0.7)
    path = tmp_path / "terminal.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for i in range(24):
        frame = np.full((480, 640, 3), 70, np.uint8)
        if 6 <= i < 18:
            fh, fw = face.shape[:2]
            frame[(480 - fh) // 2:(480 - fh) // 2 + fh, (640 - fw) // 2:(640 - fw) // 2 + fw] = face
        writer.write(frame)
    writer.release()
    res = runner.invoke(app, ["attendance", "terminal", "--camera", str(path), "--terminal", "东门", "--cooldown-s", "0",
                              "--db", sqlite_url])
    assert res.exit_code == 0, res.output
    assert "0505" in res.output and "1 check-in(s) recorded" in res.output  # repeats collapsed into one
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as s:
        rows = s.query(CheckInRow).all()
    engine.dispose()
    assert len(rows) == 1 and rows[0].terminal == "东门" and rows[0].collapsed >= 2
