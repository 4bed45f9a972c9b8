"""替岗备案 (四.(三).2) end to end: the filing time comes from the site file or ``attendance substitute-add``,
and only a substitute filed before the substitution began escapes the "not filed" flag."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from _store_support import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)
from attendance.store import compute_month, load_substitutes, save_checkin, save_leave
from models.attendance import CheckIn, CoverageIssue, LeaveRecord, LeaveStatus
from models.db import Substitution, init_db, make_engine, make_session_factory
from models.workdays import WorkCalendar
from scoring.store.site import load_site

DAY = date(2026, 3, 4)  # a Wednesday in winter hours (8:30-12:00, 13:30-17:30)

SITE = """
[[windows]]
code = "W01"
name = "不动产"

[[windows]]
code = "W02"
name = "公积金"

[[staff]]
staff_no = "1001"
name = "张敏"
windows = ["W01"]

[[staff]]
staff_no = "2001"
name = "王芳"
windows = ["W02"]

[[staff]]
staff_no = "9001"
name = "赵替"

[[staff]]
staff_no = "9002"
name = "钱补"

# filed the afternoon before: counts as filed
[[substitutes]]
window = "W01"
substitute = "9001"
replaces = "1001"
starts_at = "2026-03-04T08:30"
ends_at = "2026-03-04T17:30"
filed_at = "2026-03-03T16:00"

# filed half an hour after it began: not filed beforehand
[[substitutes]]
window = "W02"
substitute = "9002"
replaces = "2001"
starts_at = "2026-03-04T08:30"
ends_at = "2026-03-04T17:30"
filed_at = "2026-03-04T09:00"
"""


@pytest.fixture
def factory(db_url):  # noqa: F811
    engine = init_db(make_engine(db_url))
    yield make_session_factory(engine)
    engine.dispose()


def _checks(staff_no: str, day: date) -> list[CheckIn]:
    return [CheckIn(staff_no, datetime.combine(day, datetime.min.time()) + timedelta(hours=h, minutes=m))
            for h, m in ((8, 20), (12, 2), (13, 20), (17, 35))]


def test_site_file_filing_times_load_and_decide_the_flag(factory, rulebook, tmp_path):
    site = tmp_path / "site.toml"
    site.write_text(SITE, encoding="utf-8")
    with factory() as s, s.begin():
        report = load_site(s, site, rulebook)
        again = load_site(s, site, rulebook)  # loading twice changes nothing
    assert report.created["substitutes"] == 2 and again.updated["substitutes"] == 2
    with factory() as s:
        filed = dict(s.execute(select(Substitution.window_id, Substitution.filed_at)).all())
        subs = {x.window_id: x.filed for x in load_substitutes(s, DAY, DAY, rulebook)}
    assert sorted(filed.values()) == [datetime(2026, 3, 3, 16, 0), datetime(2026, 3, 4, 9, 0)]
    assert subs == {"W01": True, "W02": False}

    # both windows' staff on approved leave that day; the substitutes came and checked in
    with factory() as s, s.begin():
        for d in WorkCalendar().working_days(date(2026, 3, 2), date(2026, 3, 6)):
            for sid in ("1001", "2001") if d != DAY else ("9001", "9002"):
                for c in _checks(sid, d):
                    save_checkin(s, c, window_minutes=5)
        for sid in ("1001", "2001"):
            save_leave(s, LeaveRecord(sid, "事假", DAY, DAY, LeaveStatus.APPROVED))
    with factory() as s:
        result = compute_month(s, "2026-03", rulebook, WorkCalendar(), as_of=date(2026, 3, 6))
    coverage = {(f.window_id, f.issue) for f in result.coverage}
    assert ("W02", CoverageIssue.SUBSTITUTE_NOT_FILED) in coverage  # filed late: flagged
    assert not [f for f in result.coverage if f.window_id == "W01"]  # filed beforehand: never flagged


def test_csv_substitutes_with_filing_time_and_without(factory, rulebook, tmp_path):
    site = tmp_path / "site.toml"
    site.write_text(SITE.split("# filed the afternoon before")[0], encoding="utf-8")
    subs_csv = tmp_path / "subs.csv"
    subs_csv.write_text(
        "窗口,替岗人工号,被替人工号,开始,结束,备案时间\n"
        "W01,9001,1001,2026-03-05T08:30,2026-03-05T12:00,2026-03-04 17:00\n"
        "W02,9002,2001,2026-03-05T08:30,2026-03-05T12:00,\n"
        "W02,9002,2001,2026-03-06T08:30,2026-03-06T12:00,不是时间\n",
        encoding="utf-8",
    )
    with factory() as s, s.begin():
        load_site(s, site, rulebook)
        report = load_site(s, subs_csv, rulebook)
    assert report.created == {"substitutes": 2}
    assert len(report.rejected) == 1 and "filed_at" in report.rejected[0].reason
    with factory() as s:
        subs = {x.window_id: x.filed for x in load_substitutes(s, date(2026, 3, 5), date(2026, 3, 5), rulebook)}
    assert subs == {"W01": True, "W02": False}  # no filing time: not filed


def test_substitute_add_files_now(db_url, rulebook, tmp_path, monkeypatch):  # noqa: F811
    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    site = tmp_path / "site.toml"
    site.write_text(SITE.split("# filed the afternoon before")[0], encoding="utf-8")
    engine = init_db(make_engine(db_url))
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        load_site(s, site, rulebook)
    today = date.today()
    ahead, behind = today + timedelta(days=3), today - timedelta(days=1)
    runner = CliRunner()

    def add(*args: str):
        return runner.invoke(app, ["attendance", "substitute-add", *args, "--db", db_url])

    res = add("--window", "W01", "--staff", "9001", "--for", "1001", "--start", f"{ahead}T08:30", "--end", f"{ahead}T12:00")
    assert res.exit_code == 0, res.output
    assert "filed" in res.output and "not filed beforehand" not in res.output
    # a substitution already under way when it is filed: late
    res = add("--window", "W02", "--staff", "9002", "--start", f"{behind}T08:30", "--end", f"{behind}T17:30")
    assert res.exit_code == 0, res.output
    assert "not filed beforehand" in res.output
    with factory() as s:
        first_filed = s.scalar(select(Substitution.filed_at).where(Substitution.starts_at == datetime.combine(ahead, time(8, 30))))
    # filing the same substitution again keeps the first filing time
    res = add("--window", "W01", "--staff", "9001", "--start", f"{ahead}T08:30", "--end", f"{ahead}T17:30")
    assert res.exit_code == 0 and "updated" in res.output, res.output
    with factory() as s:
        subs = {x.window_id: x for x in load_substitutes(s, behind, ahead, rulebook)}
        rows = {r.starts_at.date(): r for r in s.scalars(select(Substitution))}
    assert subs["W01"].filed and not subs["W02"].filed
    assert subs["W01"].replaces_staff_id == "1001"
    assert rows[ahead].filed_at == first_filed and rows[ahead].ends_at.hour == 17
    engine.dispose()

    for args, message in (
        (("--window", "W99", "--staff", "9001"), "unknown window"),
        (("--window", "W01", "--staff", "7777"), "unknown staff"),
        (("--window", "W01", "--staff", "9001", "--for", "7777"), "unknown staff"),
    ):
        res = add(*args, "--start", f"{ahead}T08:30", "--end", f"{ahead}T12:00")
        assert res.exit_code == 2 and message in res.output, res.output
    res = add("--window", "W01", "--staff", "9001", "--start", f"{ahead}T12:00", "--end", f"{ahead}T08:30")
    assert res.exit_code == 2 and "not after" in res.output
    res = add("--window", "W01", "--staff", "9001", "--start", "明天", "--end", f"{ahead}T08:30")
    assert res.exit_code == 2 and "--start" in res.output
