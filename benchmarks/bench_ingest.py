"""Ingest throughput with transcription excluded: a simulated month of 60 windows into SQLite.

Each window-day is one recording (an 8-hour stream from 08:30) of generated dialogues:
greetings and farewells from the rulebook's wordings, requests, materials and instructions
with varying slots (so the matcher's text cache does not make repeats free), and the usual
faults (missing farewell or greeting, forbidden phrases, citizen abuse, silent waits,
citizens at the wrong window, staff-only talk). Utterances are generated in memory when
"transcription" is called, and that time is subtracted. Measured: roles (classifier), the
real phrase matcher, segmentation, scoring, staff attribution from the roster, rating links and
the database writes, through ``windowqa.ingest.ingest``.

    .venv/bin/python benchmarks/bench_ingest.py                 # 60 windows x the working days of March 2026
    .venv/bin/python benchmarks/bench_ingest.py --windows 5 --days 3   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MATTERS = ["营业执照变更", "社保卡补办", "公积金提取", "不动产登记", "户口迁移", "居住证办理", "医保报销", "退休审批",
           "个体户注销", "健康证办理", "食品经营许可", "税务登记", "结婚登记", "出生证明", "残疾证年审", "养老保险转移"]
MATERIALS = ["身份证", "户口本", "营业执照复印件", "购房合同", "结婚证", "委托书", "申请表", "银行卡", "一寸照片", "租赁合同"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
CITIZEN = ["你好，我想办{m}", "我来办一下{m}", "请问{m}在这个窗口办吗", "{mat}我带了，你看看", "我没带{mat}，能先办吗",
           "这个要多久能办好", "我的电话是1{d}", "我姓{s}，{s}{g}", "好的，谢谢", "还需要什么材料", "这一栏怎么填",
           "我都来了{n}趟了", "能不能快一点", "我排的是{t}号", "行，那我{n}号再来", "上次说缺{mat}，这次带齐了"]
STAFF = ["请出示一下您的{mat}", "您的{mat}需要复印一份", "这个表填一下，签个字", "{m}需要{n}个工作日", "您的材料我已经提交了",
         "审核通过以后会短信通知您", "这一栏填您的联系电话", "{mat}原件还给您", "您这个是{m}，我给您受理", "系统里显示您已经预约了",
         "{t}号，请到{w}窗口", "麻烦您在这里签字", "费用是{n}十元，可以扫码支付", "办好了会通知您来取"]
FORBIDDEN = ["刚才和你说过了，怎么还问", "有意见你找领导去", "没看我正忙着吗，急什么急", "手续不全你来干什么", "要下班了，明天再来"]
ABUSE = ["你算什么东西", "有病吧你们", "你们这帮废物"]


def _fill(template: str, rng: random.Random, window: str) -> str:
    return template.format(
        m=rng.choice(MATTERS), mat=rng.choice(MATERIALS), s=rng.choice(SURNAMES), g=rng.choice("建国秀英明华丽敏强军"),
        d="".join(rng.choice("0123456789") for _ in range(10)), n=rng.randint(2, 9), t=f"A{rng.randint(1, 300):03d}", w=window,
    )


def _slot(text: str, rng: random.Random) -> str:
    return text.replace("××", f"{rng.randint(1, 30)}号")


def window_day(rulebook, window: str, seed: int):
    """Utterances of one window-day (generator function result: list of Utterance), deterministic per seed."""
    from models.domain import Role, Utterance

    rng = random.Random(seed)
    greet = rulebook.rule("courtesy.greet").templates
    farewell = rulebook.rule("courtesy.farewell").templates
    wait = rulebook.rule("courtesy.please_wait").templates
    wrong = rulebook.rule("courtesy.wrong_window").templates
    out: list[Utterance] = []
    t = rng.uniform(0, 60)
    end_of_day = 8 * 3600
    while t < end_of_day:
        kind = rng.choices(["normal", "no_farewell", "no_greeting", "forbidden", "abuse", "wrong", "chatter", "silent"],
                           [66, 10, 5, 5, 2, 5, 3, 4])[0]
        lines: list[tuple[Role, str]] = []
        if kind != "no_greeting" and kind != "chatter":
            lines.append((Role.STAFF, _slot(rng.choice(greet), rng)))
        if kind == "chatter":
            lines += [(Role.STAFF, f"小{rng.choice(SURNAMES)}，打印机又卡纸了"), (Role.STAFF, "我去拿点纸过来")]
        else:
            for turn in range(rng.randint(2, 5)):
                lines.append((Role.CITIZEN, _fill(rng.choice(CITIZEN), rng, window)))
                lines.append((Role.STAFF, _fill(rng.choice(STAFF), rng, window)))
            if kind == "forbidden":
                lines.insert(rng.randint(2, len(lines)), (Role.STAFF, rng.choice(FORBIDDEN)))
            if kind == "abuse":
                lines.insert(rng.randint(2, len(lines)), (Role.CITIZEN, rng.choice(ABUSE)))
            if kind == "wrong":
                lines.append((Role.STAFF, _slot(rng.choice(wrong), rng)))
            if kind == "silent":
                lines.insert(3, (Role.STAFF, _slot(rng.choice(wait), rng)))
        if kind not in ("no_farewell", "chatter"):
            lines.append((Role.STAFF, _slot(rng.choice(farewell), rng)))
        for n, (role, text) in enumerate(lines):
            duration = 0.25 * len(text) + rng.uniform(0.2, 1.0)
            out.append(Utterance(text=text, role=Role.UNKNOWN if rng.random() < 0.0 else role, start_s=round(t, 2), end_s=round(t + duration, 2)))
            t += duration + (rng.uniform(31, 40) if kind == "silent" and n == 3 else rng.uniform(0.3, 2.5))
        t += rng.uniform(60, 600)  # the next citizen: about 70 served per window-day
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=60)
    parser.add_argument("--days", type=int, default=0, help="working days (0: every working day of the month)")
    parser.add_argument("--month", default="2026-03")
    parser.add_argument("--db", default=None, help="SQLite file (default: a temp file)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--ratings", type=float, default=0.5, help="share of interactions rated 30 s after they end (0: skip the ratings import)")
    args = parser.parse_args()

    from models.db import Department, RosterEntry, Staff, Window, open_database
    from models.rulebook import load_rulebook
    from nlp import build_matcher
    from nlp.role import build_role_classifier
    from models.workdays import is_working_day
    from windowqa.ingest import IngestOptions, ingest

    rulebook = load_rulebook()
    first = datetime.strptime(args.month, "%Y-%m").date()
    days = [first + timedelta(days=i) for i in range(31) if (first + timedelta(days=i)).month == first.month]
    days = [d for d in days if is_working_day(d)]
    if args.days:
        days = days[: args.days]
    tmp = tempfile.TemporaryDirectory(prefix="bench_ingest_")
    db_path = Path(args.db) if args.db else Path(tmp.name) / "bench.db"
    factory = open_database(f"sqlite:///{db_path}")
    windows = [f"W{n:02d}" for n in range(1, args.windows + 1)]
    with factory() as s, s.begin():
        dept = Department(code="HALL", name="为民服务中心")
        s.add(dept)
        for n, code in enumerate(windows):
            w = Window(code=code, name=f"{code}窗口", department=dept)
            p = Staff(staff_no=f"{1000 + n}", name=f"员工{n}", department=dept, windows=[w])
            s.add_all([w, p])
            s.flush()
            for d in days:
                shift = rulebook.attendance.shift_for(d)
                s.add(RosterEntry(window_id=w.id, staff_id=p.id, starts_at=datetime.combine(d, shift.morning_arrive_by), ends_at=datetime.combine(d, shift.morning_leave_from)))
                s.add(RosterEntry(window_id=w.id, staff_id=p.id, starts_at=datetime.combine(d, shift.afternoon_arrive_by), ends_at=datetime.combine(d, shift.afternoon_leave_from)))

    t0 = time.perf_counter()
    matcher = build_matcher(rulebook)
    classifier = build_role_classifier()
    build_s = time.perf_counter() - t0

    timers = {"generate_s": 0.0, "generate_cpu_s": 0.0, "match_s": 0.0}

    class TimedMatcher:
        def match_many(self, utterances):
            t = time.perf_counter()
            try:
                return matcher.match_many(utterances)
            finally:
                timers["match_s"] += time.perf_counter() - t

        def citizen_abuse(self, utterance):
            t = time.perf_counter()
            try:
                return matcher.citizen_abuse(utterance)
            finally:
                timers["match_s"] += time.perf_counter() - t

    files_dir = Path(tmp.name) / "recordings"
    files_dir.mkdir()
    seeds: dict[str, int] = {}

    def transcribe(path, *, started_at=None, channel_map=None):
        t, c = time.perf_counter(), time.process_time()
        from dataclasses import replace

        from windowqa.utterance_stream import HeardUtterance

        utterances = [replace(u, started_at=started_at + timedelta(seconds=u.start_s)) for u in window_day(rulebook, path.stem[:3], seeds[path.name])]
        heard = [HeardUtterance(u) for u in utterances]
        timers["generate_s"] += time.perf_counter() - t
        timers["generate_cpu_s"] += time.process_time() - c
        return heard

    total_utterances = 0
    ingest_s = 0.0
    cpu0 = time.process_time()
    for w_index, code in enumerate(windows):
        files = []
        for d_index, d in enumerate(days):
            path = files_dir / f"{code}_{d:%Y%m%d}-083000.wav"
            path.write_bytes(f"{code} {d}".encode())  # stands in for the audio: only hashed
            seeds[path.name] = w_index * 1000 + d_index
            files.append(path)
        t = time.perf_counter()
        report = ingest(files, IngestOptions(window=code, progress=sys.stderr.isatty()), session_factory=factory,
                        transcribe=transcribe, matcher=TimedMatcher(), rulebook=rulebook, role_classifier=None)
        ingest_s += time.perf_counter() - t
        assert report.count("failed") == 0, [f.reason for f in report.files if f.reason]
        total_utterances += report.utterances
    measured_s = ingest_s - timers["generate_s"]
    # CPU seconds of this process: on a shared machine, wall time also counts other people's work.
    cpu_s = time.process_time() - cpu0 - timers["generate_cpu_s"]
    from sqlalchemy import func, select

    from models.db import Flag, Interaction

    with factory() as s:
        interactions = s.scalar(select(func.count()).select_from(Interaction))
        flags = s.scalar(select(func.count()).select_from(Flag))
    # The role classifier (mono audio) on the same texts, measured separately: the generated
    # roles are kept so that the scores above do not depend on the classifier's errors.
    sample = [u.text for u in window_day(rulebook, "W01", 0)]
    t = time.perf_counter()
    classifier.predict_proba(sample)
    role_rate = len(sample) / (time.perf_counter() - t)
    result = {
        "windows": len(windows),
        "days": len(days),
        "recordings": len(windows) * len(days),
        "utterances": total_utterances,
        "interactions": interactions,
        "flags": flags,
        "ingest_s": round(measured_s, 1),
        "utterances_per_s": round(total_utterances / measured_s, 1),
        "cpu_s": round(cpu_s, 1),
        "utterances_per_cpu_s": round(total_utterances / cpu_s, 1),
        "match_s": round(timers["match_s"], 1),
        "store_and_score_s": round(measured_s - timers["match_s"], 1),
        "store_and_score_utterances_per_s": round(total_utterances / (measured_s - timers["match_s"]), 1),
        "role_classifier_utterances_per_s": round(role_rate, 1),
        "excluded_generation_s": round(timers["generate_s"], 1),
        "matcher_build_s": round(build_s, 1),
        "db_mb": round(db_path.stat().st_size / 1e6, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    if args.ratings > 0:
        result.update(_ratings_import(factory, rulebook, Path(tmp.name), args.ratings))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:36s} {v}")
        print(f"target >= 1000 utterances/s: {'met' if result['utterances_per_s'] >= 1000 else 'NOT met'}")


def _ratings_import(factory, rulebook, folder: Path, share: float) -> dict:
    """Import a terminal export rating ``share`` of the served interactions; time it and count links."""
    import csv

    from sqlalchemy import func, select

    from models.db import Interaction, Rating, RatingLinkStatus, Staff, Window
    from scoring.store.ratings import import_ratings

    rng = random.Random(11)
    levels = rulebook.ratings.levels
    path = folder / "ratings.csv"
    with factory() as s:
        rows = s.execute(
            select(Interaction.id, Interaction.ended_at, Window.code, Staff.staff_no, Staff.name)
            .join(Window, Interaction.window_id == Window.id)
            .join(Staff, Interaction.staff_id == Staff.id)
            .where(Interaction.served.is_(True))
            .order_by(Interaction.id)
        ).all()
    rated = [r for r in rows if rng.random() < share]
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["流水号", "评价时间", "窗口", "工号", "姓名", "评价等级"])
        for n, (_iid, ended_at, window, staff_no, name) in enumerate(rated):
            level = rng.choices(levels, [60, 30, 7, 2, 1])[0]
            out.writerow([f"R{n:07d}", (ended_at + timedelta(seconds=30)).strftime("%Y-%m-%d %H:%M:%S"), window, staff_no, name, level])
    t = time.perf_counter()
    with factory() as s, s.begin():
        report = import_ratings(s, path, rulebook)
    seconds = time.perf_counter() - t
    with factory() as s:
        linked = s.scalar(select(func.count()).select_from(Rating).where(Rating.link_status == RatingLinkStatus.LINKED))
    return {
        "ratings": len(rated),
        "ratings_import_s": round(seconds, 1),
        "ratings_per_s": round(len(rated) / seconds, 1) if seconds else None,
        "ratings_linked": linked,
        "ratings_rejected": len(report.rejected),
        "follow_ups_opened": report.follow_ups_opened,
    }


if __name__ == "__main__":
    main()
