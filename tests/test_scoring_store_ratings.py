"""Ratings (好差评) import: validation, linking, 工号 check, follow-ups and re-import, on real databases."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from _store_support import DATA, add_site, any_factory, db_url, factory, pg_url, rulebook, sqlite_url, store_fixture  # noqa: F401
from models.db import Flag, FlagKind, FollowUp, FollowUpStatus, ImportRun, Interaction, Rating, RatingLinkStatus
from scoring.store.ratings import RatingImportOptions, advance_follow_up, flag_overdue_follow_ups, import_ratings, link_ratings

DAY = datetime(2026, 3, 2)
START = datetime(2026, 3, 2, 9, 0, 0)
EXPORT = DATA / "ratings" / "terminal-2026-03-02.csv"
CODES = RatingImportOptions(vendor_codes={"5": "非常满意", "4": "满意", "3": "基本满意", "2": "不满意", "1": "非常不满意"})


def _setup(s, rulebook):
    site = add_site(s, day=DAY)
    store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
    return site


def test_import_validates_links_checks_staff_and_opens_follow_ups(any_factory, rulebook):
    with any_factory() as s, s.begin():
        site = _setup(s, rulebook)
        report = import_ratings(s, EXPORT, rulebook, CODES, today=datetime(2026, 3, 3))
    assert report.imported == 5
    assert [(r.line, r.reason.split(" ")[0]) for r in report.rejected] == [
        (5, "unknown"), (6, "cannot"), (7, "unknown"), (8, "missing"), (10, "dimension"), (11, "serial"),
    ]
    assert "很好" in report.rejected[0].reason and "Z99" in report.rejected[2].reason and "工号" not in report.rejected[3].reason
    assert report.unlinked == ["T0008"] and report.linked == 4
    with any_factory() as s:
        interactions = s.scalars(select(Interaction).order_by(Interaction.seq)).all()
        ratings = {r.serial_no: r for r in s.scalars(select(Rating))}
        assert ratings["T0001"].interaction_id == interactions[0].id
        assert ratings["T0002"].interaction_id == interactions[2].id  # the one with the forbidden phrase
        assert ratings["T0003"].interaction_id == interactions[3].id
        assert ratings["T0001"].dimension_scores == {"态度": 5.0, "效率": 5.0}
        assert ratings["T0008"].level == "非常不满意" and ratings["T0008"].vendor_code == "1"
        assert ratings["T0008"].link_status is RatingLinkStatus.UNLINKED
        no_serial = [r for k, r in ratings.items() if k.startswith("h:")]
        assert len(no_serial) == 1 and no_serial[0].level == "基本满意"
        cases = s.scalars(select(FollowUp).order_by(FollowUp.id)).all()
        assert [c.rating.serial_no for c in cases] == ["T0002", "T0008"]
        # Monday 2026-03-02 + 5 working days
        assert cases[0].due_on == date(2026, 3, 9) and cases[0].staff_id == site["zhang"].id
        flags = s.scalars(select(Flag).where(Flag.rating_id.is_not(None))).all()
        kinds = sorted((f.kind.value, f.rating.serial_no) for f in flags)
        assert kinds == [("poor_rating", "T0002"), ("poor_rating", "T0008"), ("staff_mismatch", "T0003"), ("unlinked_rating", "T0008")]
        poor = next(f for f in flags if f.kind is FlagKind.POOR_RATING and f.rating.serial_no == "T0002")
        assert poor.interaction_id == interactions[2].id and poor.evidence["start_s"] == 140.0
        assert "刚才和你说过了" in poor.evidence["text"] and poor.evidence["level"] == "不满意"
        mismatch = next(f for f in flags if f.kind is FlagKind.STAFF_MISMATCH)
        assert "1002" in mismatch.summary and "1001" in mismatch.summary and mismatch.staff_id == site["zhang"].id


def test_reimport_is_a_no_op(factory, rulebook, tmp_path):
    with factory() as s, s.begin():
        _setup(s, rulebook)
        import_ratings(s, EXPORT, rulebook, CODES, today=datetime(2026, 3, 3))
    with factory() as s:
        counts = [s.scalar(select(func.count()).select_from(t)) for t in (Rating, FollowUp, Flag, ImportRun)]
    with factory() as s, s.begin():
        again = import_ratings(s, EXPORT, rulebook, CODES, today=datetime(2026, 3, 3))
    assert again.imported == 0 and again.unchanged == 5 and len(again.rejected) == 6
    with factory() as s:
        assert [s.scalar(select(func.count()).select_from(t)) for t in (Rating, FollowUp, Flag, ImportRun)] == counts
    changed = tmp_path / "changed.csv"
    changed.write_text(EXPORT.read_text(encoding="utf-8").replace("T0001,2026-03-02 09:01:10,A03,1001,张敏,非常满意", "T0001,2026-03-02 09:01:10,A03,1001,张敏,满意"), encoding="utf-8")
    with factory() as s, s.begin():
        edited = import_ratings(s, changed, rulebook, CODES, today=datetime(2026, 3, 3))
    assert edited.imported == 0 and (2, "serial number T0001 was imported before with other content") in [(r.line, r.reason) for r in edited.rejected]


def test_ratings_before_recordings_link_after_ingest(factory, rulebook):
    with factory() as s, s.begin():
        site = add_site(s, day=DAY)
        report = import_ratings(s, EXPORT, rulebook, CODES, today=datetime(2026, 3, 3))
        assert report.linked == 0 and len(report.unlinked) == 5
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
        linked, unlinked, _ = link_ratings(s, rulebook, window_id=site["A03"].id, start=START, end=datetime(2026, 3, 2, 12))
        assert linked == 4 and unlinked == ["T0008"]
    with factory() as s:
        unlinked_flags = s.scalars(select(Flag).where(Flag.kind == FlagKind.UNLINKED_RATING)).all()
        assert [f.rating.serial_no for f in unlinked_flags] == ["T0008"]


def test_overdue_follow_ups_are_flagged_until_closed(factory, rulebook):
    with factory() as s, s.begin():
        _setup(s, rulebook)
        import_ratings(s, EXPORT, rulebook, CODES, today=datetime(2026, 3, 3))
        assert flag_overdue_follow_ups(s, date(2026, 3, 9)) == 0
        first = s.scalars(select(FollowUp).order_by(FollowUp.id)).first()
        advance_follow_up(s, first.id, FollowUpStatus.CALLED_BACK, "已电话回访，群众表示理解")
        advance_follow_up(s, first.id, FollowUpStatus.RECTIFIED, "窗口人员已作检讨，加强文明用语培训")
        advance_follow_up(s, first.id, FollowUpStatus.CLOSED, "")
        assert flag_overdue_follow_ups(s, date(2026, 3, 10)) == 1
        assert flag_overdue_follow_ups(s, date(2026, 3, 11)) == 0  # already flagged
    with factory() as s:
        overdue = s.scalars(select(Flag).where(Flag.kind == FlagKind.OVERDUE_FOLLOW_UP)).all()
        assert [f.rating.serial_no for f in overdue] == ["T0008"]


def test_a_json_export_with_dimension_objects(factory, rulebook, tmp_path):
    export = tmp_path / "ratings.json"
    export.write_text(
        '{"rows": [{"serial": "J1", "time": "2026-03-02T09:01:05+08:00", "window": "A03", "staff_no": "1001",'
        ' "level": "满意", "dimension_scores": {"态度": 5}},'
        ' {"serial": "J2", "time": "2026-03-02T09:01:06", "window": "A03", "staff_no": "1001", "level": "满意",'
        ' "dimension_scores": [1, 2]}]}',
        encoding="utf-8",
    )
    with factory() as s, s.begin():
        _setup(s, rulebook)
        report = import_ratings(s, export, rulebook)
    assert report.imported == 1 and report.linked == 1
    assert [(r.line, r.reason) for r in report.rejected] == [(2, "dimension scores must be an object of name: number")]


def test_gb18030_csv_and_json_lines_exports(factory, rulebook, tmp_path):
    gbk = tmp_path / "terminal-gbk.csv"
    gbk.write_bytes(
        "评价编号,时间,窗口号,工作人员工号,满意度\nG1,2026/03/02 09:01:20,A03,1001,5\nG2,2026/03/02 09:02:45,A03,1001,2\n".encode("gb18030")
    )
    lines = tmp_path / "terminal.jsonl"
    lines.write_text(
        '{"serial_no": "L1", "rated_at": "2026-03-02 09:04:40", "window": "A03", "staff_no": "1001", "level": "基本满意"}\n'
        "{not json}\n"
        '["a list"]\n',
        encoding="utf-8",
    )
    codes = RatingImportOptions(vendor_codes={"5": "非常满意", "2": "不满意"})
    with factory() as s, s.begin():
        _setup(s, rulebook)
        first = import_ratings(s, gbk, rulebook, codes)
        second = import_ratings(s, lines, rulebook)
    assert first.imported == 2 and first.follow_ups_opened == 1 and first.linked == 2
    assert second.imported == 1 and [(r.line, r.reason.split(":")[0]) for r in second.rejected] == [(2, "not JSON"), (3, "not a JSON object")]
    with factory() as s:
        levels = {r.serial_no: (r.level, r.vendor_code) for r in s.scalars(select(Rating))}
        assert levels == {"G1": ("非常满意", "5"), "G2": ("不满意", "2"), "L1": ("基本满意", None)}
