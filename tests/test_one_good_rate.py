"""One 好评率 and one compliance figure: the CLI report, the dashboard's access layer and the xlsx circular agree for a month.

The hall (tests/_dashboard_support.py) has ratings at every level for March 2026, 基本满意 among
them: it counts as good nowhere (the rulebook's ``ratings.good`` is 非常满意+满意).
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from _dashboard_support import PASSWORD, build_hall, set_env
from models.db import Rating, make_engine, make_session_factory
from models.rulebook import load_rulebook
from scoring import access
from scoring.accounts import authenticate
from windowqa.cli import app

MONTH = "2026-03"
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    return build_hall(tmp_path_factory.mktemp("good-rate-hall"))


def _cli(hall, group: str) -> dict[str, dict[str, str]]:
    result = CliRunner().invoke(app, ["report", group, "--month", MONTH, "--format", "csv", "--db", hall.url])
    assert result.exit_code == 0, result.output
    return {row["key"]: row for row in csv.DictReader(io.StringIO(result.output))}


def _sheet(book, name: str) -> dict[str, dict]:
    rows = list(book[name].iter_rows(values_only=True))
    header = rows[0]
    return {str(r[header.index("key")]): dict(zip(header, r)) for r in rows[1:]}


def _number(text: str | None) -> float | None:
    return None if text in (None, "") else float(text)


def test_cli_dashboard_and_circular_give_the_same_good_rate_and_compliance(hall, monkeypatch):
    set_env(hall, monkeypatch)
    rulebook = load_rulebook()
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s:
        mgr = authenticate(s, "mgr", PASSWORD)
        levels = set(s.scalars(select(Rating.level)))
        assert "基本满意" in levels and not set(rulebook.ratings.good) & {"基本满意"}  # the level the definitions used to disagree on
        dash_windows = {r.key: r for r in access.satisfaction(s, mgr, rulebook, by="window", start=FIRST, end=LAST)}
        dash_staff = {r.key: r for r in access.satisfaction(s, mgr, rulebook, by="staff", start=FIRST, end=LAST)}
        dash_compliance = {r.key: r for r in access.compliance(s, mgr, by="staff", start=FIRST, end=LAST)}
        buf = io.BytesIO()
        access.write_circular_xlsx(access.monthly_circular(s, mgr, MONTH, rulebook), buf)
    book = load_workbook(io.BytesIO(buf.getvalue()))
    cli_windows, cli_staff = _cli(hall, "window"), _cli(hall, "staff")

    # 好评率 by window and by staff member
    for cli, dash, sheet in ((cli_windows, dash_windows, "服务评价(按窗口)"), (cli_staff, dash_staff, "服务评价(按人员)")):
        circular = _sheet(book, sheet)
        rated = {k for k, row in cli.items() if int(row["ratings"]) and k != "(none)"}
        assert rated and rated == set(dash) == set(circular)
        for key in rated:
            assert _number(cli[key]["good_rate"]) == dash[key].good_rate == circular[key]["good_rate"], (sheet, key)
            assert int(cli[key]["good_ratings"]) == dash[key].good == circular[key]["good"], (sheet, key)
            assert int(cli[key]["poor_ratings"]) == dash[key].poor == circular[key]["poor"], (sheet, key)
    assert dash_windows["A03"].good_rate == 0.4  # 2 of 5; counting 基本满意 as good would make it 0.6

    # compliance by staff member: greeting and farewell rates, forbidden phrases (flags not dismissed)
    circular = _sheet(book, "规范用语(按人员)")
    served = {k for k, row in cli_staff.items() if int(row["interactions"]) and k != "(none)"}
    assert served and served == set(dash_compliance) == set(circular)
    for key in served:
        row, dash = cli_staff[key], dash_compliance[key]
        assert _number(row["greeting_rate"]) == dash.greeting_rate == circular[key]["greeting_rate"], key
        assert _number(row["farewell_rate"]) == dash.farewell_rate == circular[key]["farewell_rate"], key
        assert int(row["forbidden_hits"]) == dash.forbidden == circular[key]["forbidden"], key


def test_cli_dashboard_and_circular_give_the_same_follow_up_rates(hall, monkeypatch):
    """回访率 and 整改率 of the month's 差评: one case called back, one rectified (then closed) of the hall's 差评."""
    from models.db import FollowUpStatus
    from scoring.access import management

    set_env(hall, monkeypatch)
    rulebook = load_rulebook()
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s, s.begin():
        mgr = authenticate(s, "mgr", PASSWORD)
        _, cases = access.follow_up_cases(s, mgr)
        assert len(cases) == 2
        access.advance_follow_up(s, mgr, cases[0].id, FollowUpStatus.CALLED_BACK, "已回访")
    with factory() as s:
        dash = {r.key: r for r in management.follow_up_rates(s, mgr, rulebook, by="window", start=FIRST, end=LAST)}
        trend = {r.key: r for r in management.management_trend(s, mgr, rulebook, by="window", through=MONTH) if r.month == MONTH}
        buf = io.BytesIO()
        access.write_circular_xlsx(access.monthly_circular(s, mgr, MONTH, rulebook), buf)
    circular = _sheet(load_workbook(io.BytesIO(buf.getvalue())), "差评回访整改(按窗口)")
    cli = _cli(hall, "window")
    poor = {k for k, row in cli.items() if int(row["poor_ratings"])}
    assert poor == set(dash) == set(circular) == {"A03"}
    for key in poor:
        assert _number(cli[key]["callback_rate"]) == dash[key].callback_rate == trend[key].callback_rate == circular[key]["callback_rate"] == 0.5
        assert _number(cli[key]["rectify_rate"]) == dash[key].rectify_rate == trend[key].rectify_rate == circular[key]["rectify_rate"] == 0.0
        assert int(cli[key]["poor_called_back"]) == dash[key].called_back == circular[key]["called_back"] == 1
    assert circular["A03"]["target"] == 1.0 and circular["A03"]["below_target"] is True


@pytest.fixture(scope="module")
def lent_hall(tmp_path_factory):
    """The hall with 张敏 (A03, 市场监管局's window) on 人社局's staff list: a colleague lent across departments."""
    from models.db import Department, FollowUpStatus, Staff

    hall = build_hall(tmp_path_factory.mktemp("lent-hall"))
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s, s.begin():
        s.scalar(select(Staff).where(Staff.staff_no == "1001")).department_id = s.scalar(select(Department.id).where(Department.code == "RSJ"))
        mgr = authenticate(s, "mgr", PASSWORD)
        _, cases = access.follow_up_cases(s, mgr)
        access.advance_follow_up(s, mgr, cases[0].id, FollowUpStatus.CALLED_BACK, "已回访")
    return hall


def test_departments_are_the_windows_in_the_cli_the_dashboard_and_the_circular(lent_hall, monkeypatch):
    """好评率, compliance, 回访率 and 整改率 by department: the window's department (scoring.departments) everywhere."""
    from scoring.access import management

    set_env(lent_hall, monkeypatch)
    rulebook = load_rulebook()
    with make_session_factory(make_engine(lent_hall.url))() as s:
        mgr = authenticate(s, "mgr", PASSWORD)
        windows = {r.key: r for r in access.satisfaction(s, mgr, rulebook, by="window", start=FIRST, end=LAST)}
        satisfaction = {r.key: r for r in access.satisfaction(s, mgr, rulebook, by="department", start=FIRST, end=LAST)}
        compliance = {r.key: r for r in access.compliance(s, mgr, by="department", start=FIRST, end=LAST)}
        follow_ups = {r.key: r for r in management.follow_up_rates(s, mgr, rulebook, by="department", start=FIRST, end=LAST)}
        trend = {r.key: r for r in management.management_trend(s, mgr, rulebook, by="department", through=MONTH) if r.month == MONTH}
        buf = io.BytesIO()
        access.write_circular_xlsx(access.monthly_circular(s, mgr, MONTH, rulebook), buf)
    book = load_workbook(io.BytesIO(buf.getvalue()))
    cli = _cli(lent_hall, "department")
    # 张敏 is 人社局's now, but A03's ratings and interactions stay 市场监管局's: the window's department
    assert satisfaction["SCJG"].ratings == windows["A03"].ratings > 0 and "RSJ" not in satisfaction
    assert int(cli["SCJG"]["ratings"]) == windows["A03"].ratings and int(cli["SCJG"]["interactions"]) == compliance["SCJG"].interactions

    circular = _sheet(book, "服务评价(按部门)")
    rated = {k for k, row in cli.items() if int(row["ratings"])}
    assert rated == set(satisfaction) == set(circular) == {"SCJG"}
    for key in rated:
        assert _number(cli[key]["good_rate"]) == satisfaction[key].good_rate == trend[key].good_rate == circular[key]["good_rate"], key
        assert int(cli[key]["poor_ratings"]) == satisfaction[key].poor == trend[key].poor == circular[key]["poor"], key

    circular = _sheet(book, "规范用语(按部门)")
    served = {k for k, row in cli.items() if int(row["interactions"])}
    assert served == set(compliance) == set(circular) == {"SCJG", "RSJ"}
    for key in served:
        row, dash = cli[key], compliance[key]
        assert _number(row["greeting_rate"]) == dash.greeting_rate == trend[key].greeting_rate == circular[key]["greeting_rate"], key
        assert _number(row["farewell_rate"]) == dash.farewell_rate == trend[key].farewell_rate == circular[key]["farewell_rate"], key
        assert int(row["forbidden_hits"]) == dash.forbidden == trend[key].forbidden == circular[key]["forbidden"], key

    circular = _sheet(book, "差评回访整改(按部门)")
    assert set(follow_ups) == set(circular) == {k for k, row in cli.items() if int(row["poor_ratings"])} == {"SCJG"}
    assert _number(cli["SCJG"]["callback_rate"]) == follow_ups["SCJG"].callback_rate == trend["SCJG"].callback_rate == circular["SCJG"]["callback_rate"] == 0.5
    assert _number(cli["SCJG"]["rectify_rate"]) == follow_ups["SCJG"].rectify_rate == trend["SCJG"].rectify_rate == circular["SCJG"]["rectify_rate"] == 0.0
