"""The management trend on a large store (bench_dashboard.py's database) read three ways: every month live
(no stored totals), every finished month stored, and the last month live (its totals stale); seconds per run.

    .venv/bin/python benchmarks/bench_month_totals.py --db var/bench/dashboard.db [--rounds 2]

It rewrites the database's stored month totals (``jobs run month-totals`` would do the same).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "var" / "bench" / "dashboard.db")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from sqlalchemy import delete, select

    from models.db import UserAccount, UserRole, open_database
    from models.management_db import MonthTotalRow, MonthTotalStampRow
    from models.rulebook import load_rulebook
    from scoring.access import management
    from scoring.accounts import Actor
    from scoring.store.month_totals import fresh_months, refresh_month_totals

    rulebook = load_rulebook()
    factory = open_database(f"sqlite:///{args.db}")
    with factory() as s:
        user = s.scalars(select(UserAccount).where(UserAccount.role == UserRole.MANAGER)).first()
        actor = Actor(user.id, user.username, user.role, user.staff_id)
        through = management.latest_month(s, actor)
    span = management.months_back(through, rulebook.management.trend_months)

    def timed(label: str, fn):
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        print(f"{label:44s} " + "  ".join(f"{t:6.2f}s" for t in times), flush=True)
        return out

    def trend():
        with factory() as s:
            return management.management_trend(s, actor, rulebook, by="department", through=through)

    def watch():
        with factory() as s:
            return management.watch_list(s, actor, rulebook, unit="staff", through=through)

    def stamps() -> None:
        with factory() as s:
            fresh_months(s, rulebook, span)

    with factory() as s, s.begin():
        s.execute(delete(MonthTotalRow))
        s.execute(delete(MonthTotalStampRow))
    live = timed("trend by department, every month live", trend), timed("watch list (staff), every month live", watch)
    t0 = time.perf_counter()
    with factory() as s, s.begin():
        written = refresh_month_totals(s, rulebook, date.today()).written
    print(f"{'month-totals job (' + str(len(written)) + ' months)':44s} {time.perf_counter() - t0:6.2f}s", flush=True)
    timed("stamp check of the 12 months", stamps)
    stored = timed("trend by department, stored months", trend), timed("watch list (staff), stored months", watch)
    print(f"stored figures == live figures: {stored == live}", flush=True)
    with factory() as s, s.begin():
        s.execute(delete(MonthTotalStampRow).where(MonthTotalStampRow.month == through))
    last_live = timed(f"trend by department, {through} live", trend), timed(f"watch list (staff), {through} live", watch)
    print(f"with {through} live == live figures: {last_live == live}", flush=True)
    with factory() as s, s.begin():
        refresh_month_totals(s, rulebook, date.today())


if __name__ == "__main__":
    main()
