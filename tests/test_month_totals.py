"""Stored monthly totals (scoring.store.month_totals): the management figures read from stored months equal
the live computation, a month whose rows changed is found stale and computed live, and the job rewrites it.

The test hall (tests/_dashboard_support.py) has March 2026; ratings with terminal dimension scores are added
(January to March) so that the trend, the watch list (张敏 and 李强 lowest in February and March) and the
dimensions span three months.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime

import pytest
from sqlalchemy import func, select, update

from _dashboard_support import PASSWORD, build_hall, staff_id
from models.db import Flag, FlagKind, FlagStatus, Interaction, Rating, Recording, Window, make_engine, make_session_factory
from models.management_db import MonthTotalRow, MonthTotalStampRow
from models.rulebook import load_rulebook
from models.settings import Settings
from scoring.access import circular, management
from scoring.accounts import authenticate
from scoring.store.month_totals import fresh_months, refresh_month_totals
from windowqa.jobs import JobRun, run_job

MONTHS = ["2026-01", "2026-02", "2026-03"]
TODAY = date(2026, 12, 3)  # every month of the hall is finished


@pytest.fixture()
def hall(tmp_path_factory):
    base = _base(tmp_path_factory)
    root = tmp_path_factory.mktemp("totals-hall")
    shutil.copy(base, root / "windowqa.db")
    return make_session_factory(make_engine(f"sqlite:///{root / 'windowqa.db'}"))


_BASE: list = []


def _base(tmp_path_factory):
    """The hall plus two earlier months of ratings, built once for the module's tests."""
    if _BASE:
        return _BASE[0]
    hall = build_hall(tmp_path_factory.mktemp("totals-base"))
    levels = load_rulebook().ratings.levels
    factory = make_session_factory(make_engine(f"sqlite:///{hall.db_path}"))
    with factory() as s, s.begin():
        windows = {w.code: w.id for w in s.scalars(select(Window))}
        n = 0
        for staff_no, window, goods in (("1001", "A03", (5, 1)), ("1002", "A03", (3, 2, 1)), ("2001", "B01", (4, 5, 5)), ("2002", "B02", (2, 4, 5))):
            sid = staff_id(s, staff_no)
            for month, good in zip(MONTHS, goods):
                for i in range(5):
                    n += 1
                    level = levels[0] if i < good else levels[-1]
                    s.add(Rating(serial_no=f"MT{n:04d}", rated_at=datetime.strptime(month, "%Y-%m").replace(day=10 + i, hour=10),
                                 window_id=windows[window], staff_id=sid, level=level, level_rank=levels.index(level),
                                 is_poor=level == levels[-1], dimension_scores={"态度": 5 - i % 3, "效率": 4}))
    factory.kw["bind"].dispose()
    _BASE.append(hall.db_path)
    return hall.db_path


def _figures(factory) -> dict:
    """Every figure read through the month totals: the trends by each grouping, a staff member's own, the
    dimensions by month, the watch list and the circular's management sheets."""
    rb = load_rulebook()
    with factory() as s:
        mgr, zhang = authenticate(s, "mgr", PASSWORD), authenticate(s, "zhang", PASSWORD)
        out = {by: management.management_trend(s, mgr, rb, by=by, through="2026-03") for by in management.GROUPINGS}
        out["own"] = management.management_trend(s, zhang, rb, through="2026-03")
        out["dims"] = management.dimension_scores(s, mgr, by="month", start=date(2026, 1, 1), end=date(2026, 3, 31), rulebook=rb)
        out["dims live"] = management.dimension_scores(s, mgr, by="month", start=date(2026, 1, 1), end=date(2026, 3, 31))
        out["watch"] = [management.watch_list(s, mgr, rb, unit=u, through="2026-03") for u in ("staff", "window")]
        out["circular"] = circular.monthly_circular(s, mgr, "2026-03", rb).sheets
    return out


def test_stored_months_give_the_live_figures(hall):
    live = _figures(hall)
    assert live["dims"] == live["dims live"]
    assert {r.month for r in live["hall"]} == set(MONTHS) and live["watch"][0]
    rb = load_rulebook()
    with hall() as s, s.begin():
        result = refresh_month_totals(s, rb, TODAY)
    assert set(MONTHS) <= set(result.written) and result.written[-1] == "2026-11"  # months without data are stored empty
    with hall() as s:
        assert fresh_months(s, rb, MONTHS) == set(MONTHS)
        assert s.query(MonthTotalRow).count() > 0
    assert _figures(hall) == live
    # the figures are read from the stored rows: a changed stored count shows (the stamp still matches)
    with hall() as s, s.begin():
        one = s.scalar(select(MonthTotalRow.id).where(MonthTotalRow.month == "2026-03", MonthTotalRow.interactions > 0).limit(1))
        s.execute(update(MonthTotalRow).where(MonthTotalRow.id == one).values(interactions=MonthTotalRow.interactions + 100))
    assert _figures(hall)["hall"][-1].interactions == live["hall"][-1].interactions + 100
    with hall() as s, s.begin():
        assert refresh_month_totals(s, rb, TODAY).written == []  # not stale: the stamp is of the source rows


def test_a_changed_month_is_found_stale_computed_live_and_rewritten_by_the_job(hall, tmp_path):
    rb = load_rulebook()
    with hall() as s, s.begin():
        refresh_month_totals(s, rb, TODAY)
    stored = _figures(hall)
    with hall() as s, s.begin():
        # a new interaction lands in March (a late upload), copied from one there
        model = s.scalars(select(Interaction).where(Interaction.started_at >= datetime(2026, 3, 1)).limit(1)).one()
        s.add(Interaction(recording_id=model.recording_id, seq=999, window_id=model.window_id, staff_id=model.staff_id, start_s=0.0,
                          end_s=1.0, started_at=model.started_at, ended_at=model.ended_at, served=True, has_greeting=False,
                          has_farewell=False, score=50.0, explanation=[], rulebook_version=model.rulebook_version))
    with hall() as s:
        assert fresh_months(s, rb, MONTHS) == {"2026-01", "2026-02"}
    now = _figures(hall)
    assert now["hall"][-1].interactions == stored["hall"][-1].interactions + 1  # computed live, not the stale stored month
    run = JobRun(hall, Settings(), rb, datetime(2026, 12, 3, 1, 30))
    assert run_job("month-totals", run).written == ["2026-03"]
    with hall() as s:  # the fresh months' watermarks moved up: the next check reads only newer rows
        assert {r.interaction_watermark for r in s.scalars(select(MonthTotalStampRow))} == {s.scalar(select(func.max(Interaction.id)))}
    assert _figures(hall) == now
    with hall() as s, s.begin():
        # dismissing a forbidden-phrase flag changes the month too
        flag = s.scalars(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN, Flag.status != FlagStatus.DISMISSED)).first()
        flag.status = FlagStatus.DISMISSED
        month = f"{flag.raised_at:%Y-%m}"
    with hall() as s:
        assert month not in fresh_months(s, rb, [month])
        stamp = s.get(MonthTotalStampRow, month)
        assert stamp is not None and stamp.built_at == datetime(2026, 12, 3, 1, 30)


def test_rebuilding_a_recordings_interactions_forgets_its_month(hall):
    from scoring.store.recordings import rescore_recording

    rb = load_rulebook()
    with hall() as s, s.begin():
        refresh_month_totals(s, rb, TODAY)
        recording = s.scalars(select(Recording).where(Recording.started_at >= datetime(2026, 3, 1))).first()
        rescore_recording(s, recording, rb)
    with hall() as s:
        assert fresh_months(s, rb, MONTHS) == set(MONTHS[:2])


def test_the_current_month_is_never_stored(hall):
    rb = load_rulebook()
    with hall() as s, s.begin():
        result = refresh_month_totals(s, rb, date(2026, 3, 20))
    assert "2026-03" not in result.written and result.written[-2:] == MONTHS[:2]
    with hall() as s:
        assert fresh_months(s, rb, MONTHS) == set(MONTHS[:2])
