"""Site file loading (TOML, CSV), roll-ups per staff/window/department and report rendering."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from openpyxl import load_workbook
from sqlalchemy import func, select

from _store_support import DATA, factory, rulebook, sqlite_url, store_fixture  # noqa: F401
from models.db import Department, Review, ReviewDecision, ReviewKind, RosterEntry, Staff, Substitution, Window
from scoring.duty import DutyTable
from scoring.store.ratings import RatingImportOptions, import_ratings
from scoring.reports import ReportError, ReportOptions, month_range, render_csv, render_table, rollup, write_xlsx
from scoring.store.site import load_site

HALL = DATA / "site" / "hall.toml"


def _counts(s):
    return [s.scalar(select(func.count()).select_from(t)) for t in (Department, Window, Staff, RosterEntry, Substitution)]


def test_site_toml_loads_once(factory, rulebook):
    with factory() as s, s.begin():
        report = load_site(s, HALL, rulebook)
        assert report.created == {"departments": 2, "windows": 3, "staff": 4, "roster": 2 * 2 * 22 + 1, "substitutes": 1}
    with factory() as s, s.begin():
        first = _counts(s)
        again = load_site(s, HALL, rulebook)
        assert again.created == {} and _counts(s) == first
    with factory() as s:
        a03 = s.scalar(select(Window).where(Window.code == "A03"))
        duty = DutyTable.load(s, a03.id, datetime(2026, 3, 1), datetime(2026, 4, 1))
        by_no = {p.id: p.staff_no for p in s.scalars(select(Staff))}
        # winter afternoon starts 13:30; the 3rd has a substitute in the morning; the 7th is a Saturday
        assert by_no[duty.staff_at(datetime(2026, 3, 2, 13, 40))] == "1001"
        assert duty.staff_at(datetime(2026, 3, 2, 13, 20)) is None
        assert by_no[duty.staff_at(datetime(2026, 3, 3, 10, 0))] == "1002"
        assert by_no[duty.staff_at(datetime(2026, 3, 3, 14, 0))] == "1001"
        assert duty.staff_at(datetime(2026, 3, 7, 10, 0)) is None


def test_site_csv_rejects_bad_rows_and_loads_the_rest(factory, rulebook):
    with factory() as s, s.begin():
        report = load_site(s, DATA / "site" / "staff.csv", rulebook)
    assert report.created == {"departments": 2, "windows": 3, "staff": 2}
    assert [(r.line, r.reason) for r in report.rejected] == [(4, "missing 'staff_no'")]
    with factory() as s:
        sun = s.scalar(select(Staff).where(Staff.staff_no == "3001"))
        assert sorted(w.code for w in sun.windows) == ["C01", "C02"] and sun.department.code == "GJJ"


def _month(factory, rulebook):
    with factory() as s, s.begin():
        load_site(s, HALL, rulebook)
        windows = {w.code: w for w in s.scalars(select(Window))}
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=windows["A03"], start=datetime(2026, 3, 2, 9))
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=windows["A03"], start=datetime(2026, 3, 3, 9))
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=windows["B01"], start=datetime(2026, 3, 9, 14))
        import_ratings(
            s, DATA / "ratings" / "terminal-2026-03-02.csv", rulebook,
            RatingImportOptions(vendor_codes={"1": "非常不满意"}), today=datetime(2026, 3, 3),
        )


def test_rollups_by_staff_window_and_department(factory, rulebook):
    _month(factory, rulebook)
    start, end = month_range("2026-03")
    with factory() as s:
        staff = rollup(s, ReportOptions.for_rulebook("staff", "month", start, end, rulebook)).as_dicts()
        by = {r["key"]: r for r in staff}
        # 张敏: the 2nd at A03 (6 served interactions); 李强 substitutes on the 3rd; 王芳 at B01 on the 9th
        assert by["1001"]["interactions"] == 6 and by["1002"]["interactions"] == 6 and by["2001"]["interactions"] == 6
        assert by["1001"]["avg_score"] == round((100 + 100 + 60 + 87 + 90 + 100) / 6, 1)
        assert by["1001"]["min_score"] == 60 and by["1001"]["forbidden_hits"] == 1 and by["1001"]["citizen_abuse"] == 1
        assert by["1001"]["greeting_rate"] == round(5 / 6, 4) and by["1001"]["farewell_rate"] == round(3 / 6, 4)
        # 好评 are the rulebook's good levels (非常满意, 满意): the 基本满意 rating is neither good nor poor
        assert by["1001"]["ratings"] == 5 and by["1001"]["poor_ratings"] == 2 and by["1001"]["good_ratings"] == 2
        assert by["1001"]["good_rate"] == 0.4
        windows = {r["key"]: r for r in rollup(s, ReportOptions.for_rulebook("window", "month", start, end, rulebook)).as_dicts()}
        assert windows["A03"]["interactions"] == 12 and windows["B01"]["interactions"] == 6
        depts = {r["key"]: r for r in rollup(s, ReportOptions.for_rulebook("department", "month", start, end, rulebook)).as_dicts()}
        assert depts["SCJG"]["interactions"] == 12 and depts["RSJ"]["interactions"] == 6
        days = rollup(s, ReportOptions.for_rulebook("window", "day", start, end, rulebook)).as_dicts()
        assert [(r["period"], r["key"]) for r in days] == [("2026-03-02", "A03"), ("2026-03-03", "A03"), ("2026-03-09", "B01")]
        weeks = rollup(s, ReportOptions.for_rulebook("staff", "week", start, end, rulebook)).as_dicts()
        assert {r["period"] for r in weeks} == {"2026-W10", "2026-W11"}


def test_inspector_adjustment_changes_the_rollup(factory, rulebook):
    _month(factory, rulebook)
    start, end = month_range("2026-03")
    with factory() as s, s.begin():
        from models.db import Interaction

        worst = s.scalar(select(Interaction).where(Interaction.score == 60.0).order_by(Interaction.id))
        s.add(Review(kind=ReviewKind.APPEAL, interaction_id=worst.id, decision=ReviewDecision.ADJUST, score_adjustment=12.0, comment="申诉成立：群众先辱骂"))
    with factory() as s:
        by = {r["key"]: r for r in rollup(s, ReportOptions.for_rulebook("staff", "month", start, end, rulebook)).as_dicts()}
        assert by["1001"]["min_score"] == 72.0


def test_reports_render_as_table_csv_and_xlsx(factory, rulebook, tmp_path):
    _month(factory, rulebook)
    start, end = month_range("2026-03")
    with factory() as s:
        report = rollup(s, ReportOptions.for_rulebook("staff", "month", start, end, rulebook))
    table = render_table(report)
    assert "张敏" in table and table.splitlines()[1].startswith("period")
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert {r["key"] for r in rows} == {"1001", "1002", "2001"}
    path = write_xlsx(report, tmp_path / "staff.xlsx")
    sheet = load_workbook(path).active
    assert [c.value for c in sheet[1]] == report.columns and sheet.max_row == len(report.rows) + 1


def test_bad_month_is_a_clear_error():
    import pytest

    with pytest.raises(ReportError, match="YYYY-MM"):
        month_range("2026-13")
    assert month_range("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
