"""Transcript search on real SQLite (FTS5) and real PostgreSQL (GIN): exact words, filters, roles, masking, backfill."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from _store_support import add_site, any_factory, db_url, factory, pg_url, rulebook, sqlite_url, store_fixture  # noqa: F401
from models.db import Interaction, Recording, UserRole, Utterance, Window
from models.domain import Role, Utterance as Said
from scoring.access.policy import AccessDenied, NotFound
from scoring.access.search import SearchFilters, SearchQueryError, search_transcripts
from scoring.accounts import Actor
from scoring.segment import MatchedUtterance
from scoring.store import store_recording

DAY = datetime(2026, 3, 2)  # a Monday
START = DAY.replace(hour=9)
INSPECTOR = Actor(1, "insp", UserRole.INSPECTOR)
MANAGER = Actor(4, "mgr", UserRole.MANAGER)
PHONE = "13812345678"


def _hall(session, rulebook) -> dict:
    """A03 (张敏) and B01 (王芳) on DAY, A03 again a week later, and a line with a citizen's mobile number."""
    site = add_site(session, day=DAY)
    store_fixture(session, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
    store_fixture(session, rulebook, "window-a03-morning.jsonl", window=site["B01"], start=START)
    store_fixture(session, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START + timedelta(days=7))
    said = [
        Said("您好，您需要办理什么业务？", Role.STAFF, 0.0, 2.0),
        Said(f"我的手机号是{PHONE}，麻烦帮我登记。", Role.CITIZEN, 3.0, 6.0),
        Said("好的，再见，请慢走。", Role.STAFF, 7.0, 9.0),
    ]
    rec = Recording(content_hash="pii", path="B01/pii.flac", window_id=site["B01"].id, started_at=DAY.replace(hour=15))
    session.add(rec)
    session.flush()
    store_recording(session, rec, [MatchedUtterance(i, u, (), ()) for i, u in enumerate(said)], rulebook)
    return {k: site[k].id for k in ("A03", "B01", "zhang", "wang")}


def test_finds_the_words_said_at_a_window_on_a_day(any_factory, rulebook):
    with any_factory() as s, s.begin():
        ids = _hall(s, rulebook)
    with any_factory() as s:
        # "the woman at window A03 said 不在我们这儿 on Monday 2 March"
        hits = search_transcripts(s, INSPECTOR, "不在我们这儿", SearchFilters(window="A03", date_from=DAY.date(), date_to=DAY.date()))
        assert len(hits) == 1
        hit = hits[0]
        assert hit.text == "社保卡补办不在我们这儿，请到三号窗口办理。" and hit.window_code == "A03" and hit.staff_no == "1001"
        assert hit.line == 2 and hit.start_s == 102.5
        interaction = s.get(Interaction, hit.interaction_id)
        assert interaction.window_id == ids["A03"] and interaction.started_at.date() == DAY.date()
        assert [u.text for u in interaction.utterances][hit.line] == hit.text
        # without filters: both windows and both days; the other window and day each alone
        assert len(search_transcripts(s, INSPECTOR, "不在我们这儿")) == 3
        b01 = search_transcripts(s, INSPECTOR, "不在我们这儿", SearchFilters(window="B01"))
        assert [h.window_code for h in b01] == ["B01"]
        later = search_transcripts(s, INSPECTOR, "不在我们这儿", SearchFilters(date_from=DAY.date() + timedelta(days=1)))
        assert len(later) == 1 and later[0].started_at.date() == DAY.date() + timedelta(days=7)
        # punctuation and spacing of the transcript do not matter; every word must occur
        assert len(search_transcripts(s, INSPECTOR, "这儿，请到 三号窗口", SearchFilters(window="A03"))) == 2
        assert search_transcripts(s, INSPECTOR, "三号窗口 公积金") == []
        # exact words only: a paraphrase is not found
        assert search_transcripts(s, INSPECTOR, "不在我们这里") == []
        # rule filter: the interaction with 刚才和你说过了 has the forbidden hit, not a wrong-window one
        told = search_transcripts(s, INSPECTOR, "说过了", SearchFilters(rule="forbidden.already_told", window="A03", date_to=DAY.date()))
        assert len(told) == 1 and told[0].flag_id is not None
        assert search_transcripts(s, INSPECTOR, "说过了", SearchFilters(rule="courtesy.wrong_window")) == []
        assert len(search_transcripts(s, INSPECTOR, "说过了", SearchFilters(rule="forbidden"))) == 3
        # one character is a word too
        assert {h.text for h in search_transcripts(s, INSPECTOR, "冲")} == {"你说话怎么这么冲。"}


def test_staff_see_only_their_own_lines(any_factory, rulebook):
    with any_factory() as s, s.begin():
        ids = _hall(s, rulebook)
    zhang = Actor(2, "zhang", UserRole.STAFF, ids["zhang"], "1001")
    with any_factory() as s:
        mine = search_transcripts(s, zhang, "不在我们这儿")
        assert mine and all(h.staff_no == "1001" for h in mine)
        assert all(h.window_code == "A03" for h in mine)
        assert search_transcripts(s, zhang, "不在我们这儿", SearchFilters(window="B01")) == []
        with pytest.raises(AccessDenied):
            search_transcripts(s, zhang, "不在我们这儿", SearchFilters(staff_no="1003"))
        wang = search_transcripts(s, INSPECTOR, "不在我们这儿", SearchFilters(staff_no="1003"))
        assert [h.window_code for h in wang] == ["B01"]
        with pytest.raises(NotFound):
            search_transcripts(s, INSPECTOR, "再见", SearchFilters(window="Z99"))
        with pytest.raises(SearchQueryError):
            search_transcripts(s, INSPECTOR, " ，。 ")


def test_citizens_numbers_are_masked_and_cannot_be_searched_by_roles_that_may_not_see_them(any_factory, rulebook):
    with any_factory() as s, s.begin():
        _hall(s, rulebook)
    with any_factory() as s:
        [seen] = search_transcripts(s, MANAGER, "麻烦帮我登记")
        assert PHONE not in seen.text and "手机号是" in seen.text
        [full] = search_transcripts(s, INSPECTOR, "麻烦帮我登记")
        assert PHONE in full.text
        assert search_transcripts(s, MANAGER, PHONE) == []
        assert [h.utterance_id for h in search_transcripts(s, INSPECTOR, PHONE)] == [full.utterance_id]


def test_reindex_backfills_rows_stored_without_search_text(factory, rulebook):
    from scoring.store.search_index import reindex

    with factory() as s, s.begin():
        _hall(s, rulebook)
        s.execute(text("UPDATE utterance SET search_text = NULL"))  # as a bulk load before the index existed
    with factory() as s:
        assert search_transcripts(s, INSPECTOR, "不在我们这儿") == []
    with factory() as s, s.begin():
        assert reindex(s).utterances_filled == 3 * 34 + 3
    with factory() as s:
        assert len(search_transcripts(s, INSPECTOR, "不在我们这儿")) == 3
    # deleting a recording's lines takes them out of the index (triggers)
    with factory() as s, s.begin():
        a03 = s.scalar(select(Window.id).where(Window.code == "A03"))
        s.execute(Utterance.__table__.delete().where(Utterance.recording_id.in_(select(Recording.id).where(Recording.window_id == a03))))
    with factory() as s:
        assert [h.window_code for h in search_transcripts(s, INSPECTOR, "不在我们这儿")] == ["B01"]


def test_migration_backfills_existing_utterances(tmp_path, rulebook):
    from alembic import command

    from models.db import _alembic_config, init_db, make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0003_pipeline_options")
        connection.execute(text("INSERT INTO window (id, code, name, active) VALUES (1, 'A03', '企业开办', 1)"))
        connection.execute(text("INSERT INTO recording (id, content_hash, path, window_id, status, created_at) VALUES (1, 'h', 'p', 1, 'done', '2026-03-02')"))
        connection.execute(text("INSERT INTO interaction (id, recording_id, seq, window_id, start_s, end_s, started_at, served, has_greeting, has_farewell, "
                                "score, explanation, rulebook_version, split_reason) VALUES (1, 1, 0, 1, 0, 9, '2026-03-02 09:00:00', 1, 1, 1, 100, '[]', 'v', 'end')"))
        connection.execute(text("INSERT INTO utterance (id, recording_id, seq, interaction_id, start_s, end_s, text, role, role_confidence, confidence) "
                                "VALUES (1, 1, 0, 1, 0, 3, '这个不归我管。', 'staff', 1, 1)"))
    init_db(engine)
    with make_session_factory(engine)() as s:
        [hit] = search_transcripts(s, INSPECTOR, "不归我管", SearchFilters(window="A03", date_from=date(2026, 3, 2)))
        assert hit.utterance_id == 1 and hit.role == "staff"
    engine.dispose()


def test_cli_search_prints_the_line_masked(tmp_path, rulebook, monkeypatch):
    from models.db import init_db, make_engine, make_session_factory
    from windowqa.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = init_db(make_engine(url))
    with make_session_factory(engine)() as s, s.begin():
        _hall(s, rulebook)
    engine.dispose()
    runner = CliRunner()
    out = runner.invoke(app, ["search", "不在我们这儿", "--window", "A03", "--from", "2026-03-02", "--to", "2026-03-02", "--db", url])
    assert out.exit_code == 0, out.output
    assert "社保卡补办不在我们这儿" in out.output and "2026-03-02" in out.output and out.output.count("\n") == 1
    masked = runner.invoke(app, ["search", "麻烦帮我登记", "--db", url])
    assert masked.exit_code == 0 and "手机号是" in masked.output and PHONE not in masked.output
    reindexed = runner.invoke(app, ["search", "reindex", "--db", url])
    assert reindexed.exit_code == 0 and "0 lines filled" in reindexed.output


@pytest.mark.parametrize("plan", ["index drives", "filters drive", "walk newest first"])
def test_both_plans_find_the_same_lines(any_factory, rulebook, monkeypatch, plan):
    import scoring.access.search as search

    factory = any_factory
    with factory() as s, s.begin():
        _hall(s, rulebook)
    cases = [("不在我们这儿", SearchFilters(window="A03")), ("请慢走", SearchFilters(date_from=DAY.date(), date_to=DAY.date())),
             ("说过了", SearchFilters(rule="forbidden")), ("您好", SearchFilters(staff_no="1003"))]
    with factory() as s:
        expected = [{h.utterance_id for h in search_transcripts(s, INSPECTOR, q, f)} for q, f in cases]
        if plan == "index drives":  # the filters never count as narrow, the words always as rare
            monkeypatch.setattr(search, "DIRECT_SCAN_MAX_INTERACTIONS", -1)
            monkeypatch.setattr(search, "RARE_WORDS_MAX_LINES", 10**9)
            monkeypatch.setattr(search, "PG_RARE_WORDS_MAX_ESTIMATE", 10**12)
        else:  # the words always count as common (and, walking, the filters never as narrow)
            monkeypatch.setattr(search, "RARE_WORDS_MAX_LINES", -1)
            monkeypatch.setattr(search, "PG_RARE_WORDS_MAX_ESTIMATE", -1)
            if plan == "walk newest first":
                monkeypatch.setattr(search, "DIRECT_SCAN_MAX_INTERACTIONS", -1)
        assert [{h.utterance_id for h in search_transcripts(s, INSPECTOR, q, f)} for q, f in cases] == expected
        assert all(expected)


def test_dashboard_search_page_finds_the_line_masks_numbers_and_opens_the_interaction_at_it(tmp_path, monkeypatch):
    testing = pytest.importorskip("streamlit.testing.v1")
    from pathlib import Path

    from _dashboard_support import PASSWORD, PHONE as HALL_PHONE, build_hall, set_env

    hall = build_hall(tmp_path / "hall")
    set_env(hall, monkeypatch)
    entry = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"

    def search_as(user: str, words: str):
        at = testing.AppTest.from_file(str(entry), default_timeout=60)
        at.run()
        at.text_input(key="login_user").input(user)
        at.text_input(key="login_password").input(PASSWORD)
        at.button[0].click()
        at.run()
        at.switch_page("app_pages/search.py")
        at.run()
        at.text_input(key="s_words").input(words)
        at.selectbox(key="s_window").select(next(o for o in at.selectbox(key="s_window").options if o.startswith("A03")))
        at.button[0].click()  # the form's 搜索
        at.run()
        assert not at.exception, at.exception
        return at

    at = search_as("insp", "公积金提取")
    table = at.dataframe[0].value
    assert any(HALL_PHONE in t for t in table["原话"]) and set(table["窗口"]) == {"A03"}
    at = search_as("mgr", "公积金提取")
    table = at.dataframe[0].value
    assert table["原话"].str.contains("公积金提取").all() and not table["原话"].str.contains(HALL_PHONE).any()
    at = search_as("insp", "刚才和你说过了")
    assert "刚才和你说过了，怎么还问？" in list(at.dataframe[0].value["原话"])
    found = next(i for i, h in enumerate(at.session_state["s_hits"]) if h.text == "刚才和你说过了，怎么还问？")
    at.selectbox(key="s_open").set_value(found)
    at.button(key="s_open_button").click()
    at.run()
    # the whole interaction, at the found line: highlighted, and its audio ready to play from that line
    assert not at.exception and at.title[0].value == "接待详情", at.exception
    hit = at.session_state["s_hits"][found]
    assert at.query_params["interaction"] == str(hit.interaction_id) and at.query_params["line"] == str(hit.line)
    bodies = [h.proto.body for h in at.get("html")]
    highlighted = [b for b in bodies if "wq-line-highlight" in b]
    assert len(highlighted) == 1 and "刚才和你说过了" in highlighted[0]
    audio = [b for b in bodies if "<audio" in b]
    assert len(audio) == 1 and "#t=5.0" in audio[0]  # the clip starts 5 s before the line and plays from it


@pytest.mark.postgres
def test_postgresql_searches_through_the_gin_index(pg_url, rulebook):
    from models.db import init_db, make_engine, make_session_factory
    from scoring.access.search import pg_match

    engine = init_db(make_engine(pg_url))
    with make_session_factory(engine)() as s:
        s.execute(text("SET enable_seqscan = off"))  # an empty table: only say whether the index can serve the query
        stmt = select(Utterance.id).where(pg_match(["不在我们这儿"]))
        compiled = stmt.compile(s.get_bind())  # with its bound parameters, as the search sends it
        plan = "\n".join(r[0] for r in s.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))
        assert "ix_utterance_search_text" in plan, plan
    engine.dispose()
