"""Citizens' numbers never reach a role that may not see them: score explanations, and the CLI.

On the dashboard test hall with a staff member repeating a citizen's mobile (in spoken digits)
and ID number (tests/_privacy_support.py): the access layer masks explanations like transcripts,
the CLI masks by default and ``--unmask`` is audited, viewing a flag unmasked is audited.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from _dashboard_support import PHONE, build_hall
from _privacy_support import ID_NO, NUMBERS, SPOKEN_MOBILE, plant
from models.db import AuditLog, Flag, FlagKind, Interaction, UserRole, make_engine, make_session_factory
from models.rulebook import load_rulebook
from scoring import access
from scoring.accounts import Actor
from windowqa.cli import app

runner = CliRunner()
ACTORS = {
    "inspector": Actor(1, "insp", UserRole.INSPECTOR),
    "manager": Actor(4, "mgr", UserRole.MANAGER),
    "admin": Actor(5, "admin", UserRole.ADMIN),
}


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    hall = build_hall(tmp_path_factory.mktemp("privacy-hall"))
    plant(make_session_factory(make_engine(hall.url)))
    return hall


@pytest.fixture
def factory(hall):
    return make_session_factory(make_engine(hall.url))


def _staff_actor(s, staff_no: str) -> Actor:
    from models.db import Staff

    sid = s.scalar(select(Staff.id).where(Staff.staff_no == staff_no))
    return Actor(2, "zhang", UserRole.STAFF, sid, staff_no)


def _explained_flag(s) -> int:
    return s.scalar(select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN).order_by(Flag.id))


def test_score_explanations_are_masked_like_transcripts(hall, factory):
    with factory() as s:
        fid = _explained_flag(s)
        for role, actor in [*ACTORS.items(), ("staff", _staff_actor(s, "1001"))]:
            d = access.flag_detail(s, actor, fid, rulebook=load_rulebook(), archive_dir=hall.archive)
            reasons = "\n".join(line.reason for line in d.interaction.explanation)
            transcript = "\n".join(t.text for t in d.transcript)
            if role == "inspector":
                assert SPOKEN_MOBILE in reasons and ID_NO in reasons and d.unmasked
            else:
                for number in NUMBERS:
                    assert number not in reasons and number not in transcript, (role, number)
                assert "＊" * 11 in reasons and not d.unmasked
            assert any("said:" in line.reason for line in d.interaction.explanation)


def test_viewing_a_flag_unmasked_or_its_audio_is_audited(hall, factory):
    with factory() as s, s.begin():
        fid = _explained_flag(s)
        d = access.flag_detail(s, ACTORS["inspector"], fid, rulebook=load_rulebook(), archive_dir=hall.archive)
        assert access.record_flag_view(s, ACTORS["inspector"], d)
        masked = access.flag_detail(s, ACTORS["manager"], fid, rulebook=load_rulebook(), archive_dir=hall.archive)
        assert not access.record_flag_view(s, ACTORS["manager"], masked)  # nothing unmasked, nothing heard
        row = s.scalar(select(AuditLog).where(AuditLog.action == "flag.view_pii", AuditLog.entity_id == fid))
        assert row.actor == "insp" and row.detail["audio"] is True and row.detail["unmasked"] is True


def _cli(hall, monkeypatch, args):
    monkeypatch.setenv("WINDOWQA_DATABASE_URL", hall.url)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _interaction_with_number(factory) -> int:
    with factory() as s:
        return s.scalar(select(Flag.interaction_id).where(Flag.kind == FlagKind.FORBIDDEN).order_by(Flag.id))


@pytest.mark.parametrize("args", [["flags", "list", "--all", "--limit", "100"], ["flags", "list", "--json", "--all", "--limit", "100"], ["followups", "list", "--all"], ["explain"]])
def test_cli_masks_transcripts_unless_unmasked_which_is_audited(hall, factory, monkeypatch, args):
    if args == ["explain"]:
        args = ["explain", str(_interaction_with_number(factory))]
    masked = _cli(hall, monkeypatch, args)
    for number in (*NUMBERS, PHONE):
        assert number not in masked, (args, number)
    assert "＊" * 11 in masked
    with factory() as s:
        before = s.query(AuditLog).filter(AuditLog.action == "pii.unmask").count()
    shown = _cli(hall, monkeypatch, [*args, "--unmask"])
    assert any(n in shown for n in (*NUMBERS, PHONE))
    with factory() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "pii.unmask").order_by(AuditLog.id)).all()
        assert len(rows) == before + 1 and rows[-1].actor.startswith("cli:") and rows[-1].detail["command"].startswith(args[0])


def test_explanations_in_the_store_keep_the_words(factory):
    # masking happens when shown, not when stored: an inspector can still check what was said
    with factory() as s:
        stored = [line["reason"] for i in s.scalars(select(Interaction)) for line in i.explanation or []]
    assert any(SPOKEN_MOBILE in r for r in stored)


def test_audit_details_are_masked_however_deep(factory):
    from scoring.accounts import audit

    with factory() as s, s.begin():
        row = audit(s, "insp", "test.nested", "flag", None, evidence={"text": f"电话{SPOKEN_MOBILE}", "lines": [f"身份证{ID_NO}"]}, n=3)
        shown = next(r for r in access.audit_trail(s, ACTORS["admin"]) if r.action == "test.nested")
        assert SPOKEN_MOBILE not in str(shown.detail) and ID_NO not in str(shown.detail) and shown.detail["n"] == 3
        s.delete(row)
