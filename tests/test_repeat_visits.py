"""Repeat visits (八.3 一次性告知, 八.4 两头跑) from queue data with hashed citizen references."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from _store_support import add_site, factory, rulebook, sqlite_url, store_fixture  # noqa: F401  (fixtures)
from models.db import Flag, FlagKind, Interaction, QueueCall
from models.workdays import WorkCalendar
from scoring.store.queue import import_queue
from scoring.store.repeat_visits import citizen_ref

RAW_ID = "370830199001011234"
OTHER_ID = "37083019850505432X"
SALT = "test-salt-not-secret"
MONDAY = datetime(2026, 3, 2, 9, 0, 0)
THURSDAY = datetime(2026, 3, 5, 9, 0, 0)  # 3 working days later
# window-a03-morning.jsonl's sixth interaction begins 415 s after the recording starts: a call at
# 09:06:55 belongs to it (as in test_scoring_store_recordings)
QUEUE = (
    "叫号时间,窗口,票号,取号时间,事项,证件号码\n"
    f"2026-03-02 09:06:55,A03,A012,2026-03-02 09:01:55,企业设立登记,{RAW_ID}\n"
    f"2026-03-05 09:06:55,A03,A031,2026-03-05 09:01:55,企业设立登记,{RAW_ID.lower()[:-2]} {RAW_ID[-2:]}\n"  # the ID typed differently
    f"2026-03-05 09:07:13,A03,A032,2026-03-05 08:42:13,个体户注销,{RAW_ID}\n"  # the same citizen, another matter
    f"2026-03-05 10:00:00,B01,B007,2026-03-05 09:40:00,社保转移,{OTHER_ID}\n"
    f"2026-03-23 10:00:00,B01,B041,2026-03-23 09:40:00,社保转移,{OTHER_ID}\n"  # 12 working days later: out of the window
    "2026-03-05 10:05:00,B01,B008,2026-03-05 09:41:00,社保转移,\n"  # no ID given
)


def _hall(factory, rulebook, tmp_path: Path, *, salt: str | None = SALT):
    with factory() as s, s.begin():
        site = add_site(s, day=MONDAY)
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=MONDAY)
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=THURSDAY)
    path = tmp_path / "queue.csv"
    path.write_text(QUEUE, encoding="utf-8")
    with factory() as s, s.begin():
        report = import_queue(s, path, rulebook, citizen_salt=salt, calendar=WorkCalendar(use_national=False),
                              today=datetime(2026, 3, 24))
    return site, report


def test_the_same_citizen_back_for_the_same_matter_is_flagged_against_the_first_staff_member(factory, rulebook, tmp_path):
    site, report = _hall(factory, rulebook, tmp_path)
    assert report.imported == 6 and report.citizen_refs == 5 and report.ids_dropped == 0 and report.repeat_visit_flags == 1
    with factory() as s:
        flags = s.scalars(select(Flag).where(Flag.kind == FlagKind.REPEAT_VISIT)).all()
        assert len(flags) == 1
        flag = flags[0]
        first, back = s.get(Interaction, flag.interaction_id), s.get(Interaction, flag.linked_interaction_id)
        assert first.ticket_no == "A012" and back.ticket_no == "A031"
        assert flag.staff_id == site["zhang"].id == first.staff_id  # the staff member who served the first visit
        assert flag.severity == rulebook.repeat_visit.severity.value and flag.penalised
        assert flag.evidence["matter"] == "企业设立登记" and flag.evidence["working_days"] == 3
        assert flag.evidence["first"]["interaction_id"] == first.id and flag.evidence["return"]["interaction_id"] == back.id


def test_the_raw_id_never_reaches_the_database(factory, rulebook, tmp_path, sqlite_url):
    _hall(factory, rulebook, tmp_path)
    with factory() as s:
        refs = set(s.scalars(select(QueueCall.citizen_ref)))
    assert refs == {citizen_ref(RAW_ID, SALT), citizen_ref(OTHER_ID, SALT), None}
    assert citizen_ref(RAW_ID, SALT) != citizen_ref(RAW_ID, "another-salt")
    factory.kw["bind"].dispose()
    db_file = Path(sqlite_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    for raw in (RAW_ID, OTHER_ID, RAW_ID[:14]):
        assert raw.encode() not in stored


def test_the_window_of_working_days_comes_from_the_rulebook(factory, rulebook, tmp_path):
    # with 2 working days the return 3 working days later no longer counts (nor, as with 5, the one 12 later)
    two = rulebook.model_copy(update={"repeat_visit": rulebook.repeat_visit.model_copy(update={"working_days": 2})})
    _site, report = _hall(factory, two, tmp_path)
    assert report.repeat_visit_flags == 0


def test_without_a_salt_the_ids_are_dropped(factory, rulebook, tmp_path):
    _site, report = _hall(factory, rulebook, tmp_path, salt=None)
    assert report.ids_dropped == 5 and report.citizen_refs == 0 and report.repeat_visit_flags == 0
    with factory() as s:
        assert set(s.scalars(select(QueueCall.citizen_ref))) == {None}


def test_the_first_visit_loses_the_rulebooks_points_line_by_line_and_dismissing_gives_them_back(factory, rulebook, tmp_path):
    from scoring.access.reviews import decide_flag
    from scoring.accounts import authenticate, create_account
    from scoring.effective import effective_score, score_adjustments
    from scoring.store.recordings import rescore_recording

    _hall(factory, rulebook, tmp_path)
    points = rulebook.repeat_visit.weight * rulebook.scoring.severity_multiplier(rulebook.repeat_visit.severity)
    assert points > 0  # the shipped rulebook makes a return for the same matter cost points (八.3/八.4)
    with factory() as s, s.begin():
        flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.REPEAT_VISIT))
        first = s.get(Interaction, flag.interaction_id)
        [line] = [line for line in first.explanation if line.get("ref") == flag.dedupe_key]
        assert line["points"] == -points and line["rule_id"] == "conduct.repeat_visit" and line["reason"] == flag.summary
        assert first.score == sum(x["points"] for x in first.explanation)
        before = first.score
        # a rebuild keeps the line and the flag's links to both visits
        rescore_recording(s, first.recording, rulebook)
        s.refresh(flag)
        rebuilt = s.get(Interaction, flag.interaction_id)
        assert rebuilt.ticket_no == "A012" and rebuilt.score == before and s.get(Interaction, flag.linked_interaction_id).ticket_no == "A031"
        create_account(s, "insp", "long-enough-1", "inspector", rounds=4)
    with factory() as s, s.begin():
        decide_flag(s, authenticate(s, "insp", "long-enough-1"), flag.id, "dismiss", reason="told everything; the citizen forgot", rulebook=rulebook)
    with factory() as s:
        adj = score_adjustments()
        score = s.scalar(select(effective_score(adj)).outerjoin(adj, adj.c.interaction_id == Interaction.id).where(Interaction.id == flag.interaction_id))
        assert score == before + points


def test_a_rulebook_weight_of_zero_keeps_the_flag_and_takes_no_points(factory, rulebook, tmp_path):
    free = rulebook.model_copy(update={"repeat_visit": rulebook.repeat_visit.model_copy(update={"weight": 0.0})})
    _hall(factory, free, tmp_path)
    with factory() as s:
        flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.REPEAT_VISIT))
        first = s.get(Interaction, flag.interaction_id)
        assert [line["points"] for line in first.explanation if line.get("ref") == flag.dedupe_key] == [0.0]
