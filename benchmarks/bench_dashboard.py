"""Dashboard page render times on one year of a 60-window hall (about 1.5 million interactions).

Step 1 generates the database (once; ``var/bench/dashboard.db``, not committed) with bulk inserts
into the schema that ``models.db.init_db`` creates: departments, 60 windows, 120 staff, one
recording per window and working day, interactions with utterances, courtesy and forbidden hits,
flags, ratings (with 差评 follow-ups) that correlate with courtesy, a year of check-ins, and one
account per role. Step 2 logs in as each role through Streamlit's AppTest and times each page's
first render (cold caches) and a second render (warm caches) after login.

    .venv/bin/python benchmarks/bench_dashboard.py                 # generate if missing, then measure
    .venv/bin/python benchmarks/bench_dashboard.py --interactions-per-day 10 --db var/bench/small.db

Target (issue 6): every page renders in <= 2 s after login.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-1"
DT = "%Y-%m-%d %H:%M:%S.%f"

# every page of the dashboard, each under the role that uses it most (the manager's 质检 pages are the inspector's)
PAGES = {
    "inspector": ["queue", "alerts", "flag", "appeals", "sample_review", "search", "interaction"],
    "staff": ["my_scores", "my_flags", "my_ratings", "my_attendance", "my_leave", "profile", "flag"],
    "manager": ["satisfaction", "follow_ups", "compliance", "attendance", "leave_approval", "attendance_appeals", "substitutes", "relation",
                "export", "trends", "watch_list", "profile"],
    "admin": ["accounts"],
}
USERS = {"inspector": "insp", "staff": "staff1", "manager": "mgr", "admin": "admin"}


def _dt(value: datetime) -> str:
    return value.strftime(DT)


def working_days(year: int) -> list[date]:
    from models.workdays import is_working_day

    day, out = date(year, 1, 1), []
    while day.year == year:
        if is_working_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def generate(db: Path, *, year: int, windows: int, per_day: int, seed: int = 7) -> dict[str, int]:
    """Create the benchmark database with bulk inserts; returns row counts."""
    from tqdm import tqdm

    from models.db import init_db, make_engine, make_session_factory
    from models.domain import RuleFamily
    from models.rulebook import load_rulebook
    from scoring.accounts import create_account

    rng = random.Random(seed)
    rulebook = load_rulebook()
    version = rulebook.version
    good_levels, levels = rulebook.ratings.good, rulebook.ratings.levels
    poor_levels = set(rulebook.ratings.poor)
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_suffix(".tmp.db")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    engine = init_db(make_engine(f"sqlite:///{tmp}"))
    engine.dispose()

    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute("PRAGMA cache_size=-400000")
    cur = con.cursor()
    n_dept = 10
    cur.executemany("INSERT INTO department (id, code, name) VALUES (?, ?, ?)", [(d, f"D{d:02d}", f"部门{d:02d}") for d in range(1, n_dept + 1)])
    cur.executemany(
        "INSERT INTO window (id, code, name, department_id, active) VALUES (?, ?, ?, ?, 1)",
        [(w, f"W{w:02d}", f"窗口{w:02d}", (w - 1) % n_dept + 1) for w in range(1, windows + 1)],
    )
    staff = []
    for w in range(1, windows + 1):
        for k in range(2):
            sid = (w - 1) * 2 + k + 1
            staff.append((sid, f"{1000 + sid}", f"员工{sid:03d}", (w - 1) % n_dept + 1))
    cur.executemany("INSERT INTO staff (id, staff_no, name, department_id, active) VALUES (?, ?, ?, ?, 1)", staff)
    cur.executemany("INSERT INTO staff_window (staff_id, window_id) VALUES (?, ?)", [(s[0], (s[0] - 1) // 2 + 1) for s in staff])
    # each staff member has a "diligence" that drives courtesy, forbidden phrases and so ratings
    diligence = {s[0]: rng.uniform(0.6, 0.98) for s in staff}
    days = working_days(year)

    counts = dict.fromkeys(["recording", "interaction", "utterance", "rule_hit", "flag", "rating", "follow_up", "attendance_checkin"], 0)
    rec_id = inter_id = utt_id = hit_id = flag_id = rating_id = fu_id = 0
    forbidden_rules = rulebook.family(RuleFamily.FORBIDDEN)
    for day in tqdm(days, desc="days", unit="day"):
        recs, inters, utts, hits, flags, ratings, fus, checks = [], [], [], [], [], [], [], []
        for w in range(1, windows + 1):
            rec_id += 1
            start = datetime.combine(day, datetime.min.time()).replace(hour=8, minute=30)
            recs.append((rec_id, f"bench:{w}:{day}", f"W{w:02d}/{day:%Y%m%d}.flac", w, _dt(start), 8 * 3600.0, 2, "done", version, _dt(start)))
            t = 0.0
            for seq in range(per_day):
                inter_id += 1
                # morning staff member, afternoon the colleague
                sid = (w - 1) * 2 + (1 if seq < per_day // 2 else 2)
                dil = diligence[sid]
                t += rng.uniform(60, 200)
                begin = start + timedelta(seconds=t)
                length = rng.uniform(60, 240)
                greet, farewell = rng.random() < dil, rng.random() < dil
                forbidden = rng.random() < (1 - dil) * 0.08
                score = 100.0 - (0 if greet else 10) - (0 if farewell else 10) - (20 if forbidden else 0)
                explanation = []
                if not greet:
                    explanation.append({"reason": "no greeting", "points": -10.0, "rule_id": "courtesy.greet"})
                if not farewell:
                    explanation.append({"reason": "no farewell", "points": -10.0, "rule_id": "courtesy.farewell"})
                texts = [
                    ("staff", "您好，您需要办理什么业务？" if greet else "嗯，什么事？", "courtesy.greet" if greet else None),
                    ("citizen", "我来办一下营业执照变更。", None),
                    ("staff", "好的，请稍等。", "courtesy.please_wait"),
                    ("staff", "再见，请慢走。" if farewell else "好了。", "courtesy.farewell" if farewell else None),
                ]
                rule = None
                if forbidden:
                    rule = rng.choice(forbidden_rules)
                    texts[2] = ("staff", rule.wording[0] + "。", rule.id)
                    explanation.append({"reason": "forbidden phrase by staff", "points": -20.0, "rule_id": rule.id, "utterance_seq": seq * 4 + 2, "severity": "major"})
                end = begin + timedelta(seconds=length)
                inters.append((inter_id, rec_id, seq, w, sid, t, t + length, _dt(begin), _dt(end), 1, int(greet), int(farewell), max(score, 0.0),
                               json.dumps(explanation, ensure_ascii=False), version, "farewell" if farewell else "silence"))
                first_utt = utt_id + 1
                for k, (role, text, rid) in enumerate(texts):
                    utt_id += 1
                    us = t + k * length / 4
                    utts.append((utt_id, rec_id, seq * 4 + k, inter_id, us, us + 3.0, _dt(begin + timedelta(seconds=k * length / 4)), text, role, 1.0, 0 if role == "staff" else 1, 0.9,
                                 sid if role == "staff" else None))
                    if rid:
                        hit_id += 1
                        family = rid.split(".")[0]
                        hits.append((hit_id, utt_id, inter_id, rid, family, "exact", 1.0, 0, len(text), "{}", version))
                        if family == "forbidden":
                            flag_id += 1
                            ev = {"recording": recs[-1][2], "start_s": round(us, 3), "end_s": round(us + 3, 3), "text": text, "role": "staff", "rule_id": rid}
                            flags.append((flag_id, f"forbidden:u{utt_id}:{rid}", "forbidden", "major", 1, _dt(begin + timedelta(seconds=k * length / 4)), w, sid, inter_id, utt_id, rec_id,
                                          None, None, f"{rid}: {text}", json.dumps(ev, ensure_ascii=False), "open"))
                if not (greet and farewell):
                    flag_id += 1
                    missing = [n for n, ok in (("greeting", greet), ("farewell", farewell)) if not ok]
                    ev = {"recording": recs[-1][2], "start_s": round(t, 3), "end_s": round(t + length, 3), "missing": missing}
                    flags.append((flag_id, f"missing_courtesy:u{first_utt}", "missing_courtesy", "minor", 1, _dt(begin), w, sid, inter_id, first_utt, rec_id, None, None,
                                  "interaction without " + " and ".join(missing), json.dumps(ev), "open"))
                t += length
                if rng.random() < 0.3:
                    # ratings follow behaviour: courtesy and no forbidden phrase make good ratings likelier
                    quality = 0.5 * greet + 0.5 * farewell - (1.0 if forbidden else 0.0) + rng.gauss(0, 0.35)
                    rank = 0 if quality > 0.85 else 1 if quality > 0.45 else 2 if quality > 0.0 else 3 if quality > -0.6 else 4
                    level = levels[rank]
                    rating_id += 1
                    rated = end + timedelta(seconds=rng.uniform(5, 60))
                    is_poor = level in poor_levels
                    ratings.append((rating_id, f"B{rating_id:08d}", _dt(rated), w, str(1000 + sid), f"员工{sid:03d}", sid, level, rank, int(is_poor), None,
                                    "态度不好" if is_poor else None, "营业执照", inter_id, "linked", "bench.csv", rating_id, _dt(rated)))
                    if is_poor:
                        fu_id += 1
                        due = day + timedelta(days=7)
                        status = "closed" if rng.random() < 0.9 or day < days[-1] - timedelta(days=14) else "open"
                        fus.append((fu_id, rating_id, sid, day.isoformat(), due.isoformat(), 5, status))
                        flag_id += 1
                        flags.append((flag_id, f"poor_rating:r{rating_id}", "poor_rating", "major", 1, _dt(rated), w, sid, inter_id, None, None, rating_id, fu_id,
                                      f"差评 {level}: 态度不好", json.dumps({"level": level}, ensure_ascii=False), "confirmed" if status == "closed" else "open"))
        for sid, _, _, _ in staff:
            # four checks a day, a few minutes either way
            for hour, minute in ((8, 20), (12, 2), (13, 25), (17, 35)):
                at = datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute) + timedelta(minutes=rng.gauss(0, 6))
                checks.append((sid, _dt(at), "face", "bench", 1, "dlib", ""))
        cur.executemany("INSERT INTO recording (id, content_hash, path, window_id, started_at, duration_s, channels, status, rulebook_version, finished_at, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP)", recs)
        cur.executemany("INSERT INTO interaction (id, recording_id, seq, window_id, staff_id, start_s, end_s, started_at, ended_at, served, has_greeting, has_farewell, "
                        "score, explanation, rulebook_version, split_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inters)
        cur.executemany("INSERT INTO utterance (id, recording_id, seq, interaction_id, start_s, end_s, started_at, text, role, role_confidence, channel, confidence, staff_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", utts)
        cur.executemany("INSERT INTO rule_hit (id, utterance_id, interaction_id, rule_id, family, method, score, span_start, span_end, evidence, rulebook_version) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", hits)
        cur.executemany("INSERT INTO rating (id, serial_no, rated_at, window_id, terminal_staff_no, terminal_staff_name, staff_id, level, level_rank, is_poor, "
                        "dimension_scores, comment, matter, interaction_id, link_status, source_file, source_line, imported_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ratings)
        cur.executemany("INSERT INTO follow_up (id, rating_id, staff_id, opened_on, due_on, working_days, status) VALUES (?, ?, ?, ?, ?, ?, ?)", fus)
        cur.executemany("INSERT INTO flag (id, dedupe_key, kind, severity, penalised, raised_at, window_id, staff_id, interaction_id, utterance_id, recording_id, "
                        "rating_id, follow_up_id, summary, evidence, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", flags)
        cur.executemany("INSERT INTO attendance_checkin (staff_id, at, method, terminal, collapsed, engine, note) VALUES (?, ?, ?, ?, ?, ?, ?)", checks)
        for name, rows in (("recording", recs), ("interaction", inters), ("utterance", utts), ("rule_hit", hits), ("flag", flags), ("rating", ratings),
                           ("follow_up", fus), ("attendance_checkin", checks)):
            counts[name] += len(rows)
    con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()
    factory = make_session_factory(make_engine(f"sqlite:///{tmp}"))
    with factory() as s, s.begin():
        for role, user in USERS.items():
            create_account(s, user, PASSWORD, role, staff_no="1001" if role == "staff" else None, by="bench", rounds=4)
    factory.kw["bind"].dispose()
    tmp.replace(db)
    return counts


def classify_last_month(db: Path, year: int) -> float:
    """Classify and store December as the daily run would (the attendance pages read it); seconds."""
    from attendance.classify import classify_and_store
    from models.db import open_database
    from models.rulebook import load_rulebook
    from models.workdays import WorkCalendar

    factory = open_database(f"sqlite:///{db}")  # also migrates a database generated before the stored months
    t0 = time.perf_counter()
    with factory() as s, s.begin():
        classify_and_store(s, f"{year}-12", load_rulebook(), WorkCalendar.from_file(None), through=date(year, 12, 31))
    factory.kw["bind"].dispose()
    return time.perf_counter() - t0


def store_month_totals(db: Path) -> tuple[float, list[str]]:
    """Store the finished months' management totals as the nightly ``month-totals`` job would; seconds, months written."""
    from models.db import open_database
    from models.rulebook import load_rulebook
    from scoring.store.month_totals import refresh_month_totals

    factory = open_database(f"sqlite:///{db}")
    t0 = time.perf_counter()
    with factory() as s, s.begin():
        result = refresh_month_totals(s, load_rulebook(), date.today())
    factory.kw["bind"].dispose()
    return time.perf_counter() - t0, result.written


def measure(db: Path, *, rounds: int = 2) -> dict[str, dict[str, list[float]]]:
    """Render every page of every role after login; seconds per render (first = cold caches)."""
    os.environ["WINDOWQA_DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["WINDOWQA_ARCHIVE_DIR"] = str(db.parent / "archive")
    from sqlalchemy import select

    from models.db import Flag, FlagKind, make_engine, make_session_factory
    from streamlit.testing.v1 import AppTest

    import streamlit as st

    entry = ROOT / "dashboard" / "streamlit_app.py"
    factory = make_session_factory(make_engine(f"sqlite:///{db}"))
    with factory() as s:
        flag_id, interaction_id = s.execute(select(Flag.id, Flag.interaction_id).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == 1)
                                            .order_by(Flag.id.desc()).limit(1)).one()
    results: dict[str, dict[str, list[float]]] = {}
    # warm the process (imports, engine, first file pages) as a long-running server would be
    warm = AppTest.from_file(str(entry), default_timeout=300)
    warm.run()
    from dashboard import data as dashboard_data

    dashboard_data._factory(f"sqlite:///{db}")  # the server opens (and checks) the database once
    for role, pages in PAGES.items():
        st.cache_data.clear()
        at = AppTest.from_file(str(entry), default_timeout=300)
        at.run()
        at.text_input(key="login_user").input(USERS[role])
        at.text_input(key="login_password").input(PASSWORD)
        t0 = time.perf_counter()
        at.button[0].click()
        at.run()
        login_s = time.perf_counter() - t0
        if at.exception:
            raise SystemExit(f"login as {role} failed: {at.exception}")
        results.setdefault(role, {})["login + landing page"] = [login_s]
        print(f"{role:9s} {'login + landing page':14s} {login_s:6.2f}s", flush=True)
        for name in pages:
            times = []
            st.cache_data.clear()  # the first render of each page runs every query (cold caches)
            for _ in range(rounds):
                at.query_params.clear()
                if name == "flag":
                    at.query_params["flag"] = str(flag_id)
                elif name == "interaction":
                    at.query_params["interaction"] = str(interaction_id)
                t0 = time.perf_counter()
                at.switch_page(f"app_pages/{name}.py")
                at.run()
                times.append(time.perf_counter() - t0)
                if at.exception:
                    raise SystemExit(f"{role} {name}: {at.exception}")
            results.setdefault(role, {})[name] = times
            print(f"{role:9s} {name:14s} " + "  ".join(f"{t:6.2f}s" for t in times), flush=True)
        if role == "manager":
            # the export itself: build the month's circular (xlsx + HTML) after a click
            at.switch_page("app_pages/export.py")
            at.run()
            st.cache_data.clear()
            t0 = time.perf_counter()
            [b for b in at.button if b.label == "生成通报"][0].click()
            at.run()
            elapsed = time.perf_counter() - t0
            if at.exception:
                raise SystemExit(f"export: {at.exception}")
            results[role]["export (generate)"] = [elapsed]
            print(f"{role:9s} {'export (generate)':14s} {elapsed:6.2f}s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "var" / "bench" / "dashboard.db")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--windows", type=int, default=60)
    parser.add_argument("--interactions-per-day", type=int, default=100, help="per window and working day")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the timings here")
    args = parser.parse_args()
    if args.regenerate or not args.db.exists():
        t0 = time.perf_counter()
        counts = generate(args.db, year=args.year, windows=args.windows, per_day=args.interactions_per_day)
        print(f"generated {args.db} in {time.perf_counter() - t0:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
        print(f"database size {args.db.stat().st_size / 2**30:.2f} GiB", flush=True)
    print(f"classified and stored {args.year}-12 in {classify_last_month(args.db, args.year):.1f} s", flush=True)
    totals_s, written = store_month_totals(args.db)
    print(f"stored month totals of {len(written)} month(s) (the others fresh) in {totals_s:.1f} s", flush=True)
    results = measure(args.db, rounds=args.rounds)
    first = [t[0] for pages in results.values() for t in pages.values()]
    warm = [t[-1] for pages in results.values() for t in pages.values()]
    print(f"first render (cold caches): median {statistics.median(first):.2f} s, max {max(first):.2f} s; "
          f"second render (warm caches): median {statistics.median(warm):.2f} s, max {max(warm):.2f} s; target <= 2 s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
