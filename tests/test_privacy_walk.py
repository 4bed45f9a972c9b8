"""A walk of every dashboard page and every export, as each role, looking for planted hostile data.

The dashboard test hall gets a citizen's mobile number (digits and spoken 幺三八…), an ID number,
formula names (``=cmd|' /C calc'!A0`` as department, window and staff name) and a rating comment
with Markdown, a formula and the numbers (tests/_privacy_support.py); an appeal and a follow-up
note carry the number too. Then:

* no page hands a data string to the Markdown renderer unescaped (no link, no image),
* no role outside the site's PII roles (default: inspectors) finds a number anywhere on a page,
  in a table, in a downloaded circular or in the CLI's report,
* no table cell a page offers for CSV download, no CSV field and no xlsx cell is a formula.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from google.protobuf import text_format
from sqlalchemy import select
from typer.testing import CliRunner

from _dashboard_support import PASSWORD, PHONE, build_hall, set_env, staff_id
from _privacy_support import FORMULA, IMAGE, LINK, MOBILE, NUMBERS, csv_dangerous, plant, xlsx_formulas, xlsx_text
from models.db import Flag, FlagKind, FlagStatus, FollowUp, FollowUpStatus, UserRole, make_engine, make_session_factory
from models.rulebook import load_rulebook
from scoring import access
from scoring.accounts import Actor
from windowqa.cli import app

streamlit_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = streamlit_testing.AppTest

ENTRY = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"
PAGES = {
    "inspector": ["queue", "flag", "appeals"],
    "staff": ["my_scores", "my_flags", "my_ratings", "my_attendance", "flag"],
    "manager": ["satisfaction", "follow_ups", "compliance", "attendance", "relation", "export", "queue", "flag", "appeals"],
    "admin": ["accounts", "satisfaction", "follow_ups", "compliance", "attendance", "relation", "export", "queue", "flag", "appeals"],
}
BY_STAFF = {"compliance": ("c_by",), "satisfaction": ("sat_by",)}  # the views that name staff
USER_OF = {"inspector": "insp", "staff": "zhang", "manager": "mgr", "admin": "admin"}
SEES_NUMBERS = {"inspector"}  # the default site policy (Settings.dashboard_pii_roles)
MARKDOWN_KINDS = ("markdown", "title", "header", "subheader", "caption", "error", "warning", "info", "success", "metric", "toast")
ALL_NUMBERS = (*NUMBERS, PHONE)


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    hall = build_hall(tmp_path_factory.mktemp("walk-hall"))
    factory = make_session_factory(make_engine(hall.url))
    plant(factory)
    with factory() as s, s.begin():
        zhang = staff_id(s, "1001")
        insp = Actor(1, "insp", UserRole.INSPECTOR)
        staff = Actor(2, "zhang", UserRole.STAFF, zhang, "1001")
        mgr = Actor(4, "mgr", UserRole.MANAGER)
        poor = s.scalar(select(Flag).where(Flag.kind == FlagKind.POOR_RATING, Flag.staff_id == zhang))
        access.decide_flag(s, insp, poor.id, "confirm", reason=f"录音核实，群众留了电话{MOBILE}", rulebook=load_rulebook())
        forbidden = s.scalar(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == zhang))
        access.file_appeal(s, staff, forbidden.id, f"我在核对群众的电话{MOBILE}，不是顶撞")
        case = s.scalar(select(FollowUp).where(FollowUp.status == FollowUpStatus.OPEN).order_by(FollowUp.id))
        access.advance_follow_up(s, mgr, case.id, FollowUpStatus.CALLED_BACK, f"已回访 {MOBILE}，群众表示理解")
    return hall


@pytest.fixture
def env(hall, monkeypatch):
    set_env(hall, monkeypatch)
    return hall


def _flags_to_open(hall, role: str) -> list[int]:
    with make_session_factory(make_engine(hall.url))() as s:
        zhang = staff_id(s, "1001")
        if role == "staff":
            return list(s.scalars(select(Flag.id).where(Flag.staff_id == zhang).order_by(Flag.id)))[:6]
        kinds = (FlagKind.FORBIDDEN, FlagKind.POOR_RATING, FlagKind.MISSING_COURTESY, FlagKind.STAFF_MISMATCH)
        return [s.scalar(select(Flag.id).where(Flag.kind == k).order_by(Flag.id)) for k in kinds]


def _leaves(node):
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _leaves(child)
    else:
        yield node


def _seen(at: AppTest) -> tuple[str, list[str], list[str], list[str]]:
    """(everything on the page as text, what goes to the Markdown renderer, the string cells of tables, Plotly specs)."""
    everything, markdown, cells, charts = [], [], [], []
    for el in _leaves(at._tree):
        proto = getattr(el, "proto", None)
        if proto is None:
            continue
        everything.append(text_format.MessageToString(proto, as_utf8=True))
        if el.type in MARKDOWN_KINDS:
            markdown += [v for v in (getattr(proto, "body", None), getattr(proto, "label", None), getattr(proto, "body", None)) if isinstance(v, str)]
            if el.type == "metric":
                markdown.append(proto.body)
        if el.type == "plotly_chart":
            charts.append(proto.spec)
        if el.type in ("arrow_data_frame", "dataframe"):
            df = el.value
            everything.append(df.to_string())
            cells += [v for column in df.columns for v in df[column] if isinstance(v, str)]
    return "\n".join(everything), markdown, cells, charts


def _rendered_link_or_image(source: str) -> bool:
    # "](" or "![" not escaped, raw HTML, or a bare address GFM would link (escapes do not stop that)
    return bool(re.search(r"(?<!\\)\]\(", source) or re.search(r"(?<!\\)!\[", source) or re.search(r"(?<!\\)<(a|img)\b", source)
                or re.search(r"(?i)(https?|www)\\?[:.]", source))


def _check(at: AppTest, role: str, where: str) -> None:
    assert not at.exception, f"{role} {where}: {at.exception}"
    everything, markdown, cells, charts = _seen(at)
    assert not [m for m in markdown if _rendered_link_or_image(m) or LINK in m or IMAGE in m], f"{role} {where}: Markdown from data"
    assert not [c for c in charts if "<a " in c or "\\u003ca " in c], f"{role} {where}: a chart label is Plotly HTML"
    assert not [c for c in cells if csv_dangerous(f'"{c}"')], f"{role} {where}: a table cell would be a formula in its CSV download"
    if role not in SEES_NUMBERS:
        leaked = [n for n in ALL_NUMBERS if n in everything]
        assert not leaked, f"{role} {where}: {leaked} shown"


def _login(user: str) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.run()
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click()
    at.run()
    return at


def _open(at: AppTest, name: str, **params) -> AppTest:
    at.query_params.clear()
    for key, value in params.items():
        at.query_params[key] = str(value)
    at.switch_page(f"app_pages/{name}.py")
    at.run()
    return at


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_page_as_every_role(env, role):
    at = _login(USER_OF[role])
    _check(at, role, "landing")
    opened_numbers = False
    for name in PAGES[role]:
        if name == "flag":
            for fid in _flags_to_open(env, role):
                _check(_open(at, "flag", flag=fid), role, f"flag {fid}")
                opened_numbers |= any(n in _seen(at)[0] for n in ALL_NUMBERS)
            continue
        _open(at, name)
        _check(at, role, name)
        for key in BY_STAFF.get(name, ()):
            at.radio(key=key).set_value("staff")
            at.run()
            _check(at, role, f"{name} by staff")
        if name == "export":
            at.selectbox(key="x_month").set_value("2026-03")
            [b for b in at.button if b.label == "生成通报"][0].click()
            at.run()
            _check(at, role, "export (preview of the circular)")
            assert [el for el in at.get("html") if "窗口服务月度通报" in el.proto.body]
    if role in SEES_NUMBERS:
        assert opened_numbers  # the walk does reach the planted numbers: an inspector sees them


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_circular_exports(hall, role):
    with make_session_factory(make_engine(hall.url))() as s:
        actor = Actor(4, USER_OF[role], UserRole(role))
        circular = access.monthly_circular(s, actor, "2026-03", load_rulebook())
        buf = io.BytesIO()
        access.write_circular_xlsx(circular, buf)
        html = access.render_circular_html(circular)
    data = buf.getvalue()
    assert not xlsx_formulas(data)
    text = xlsx_text(data)
    assert FORMULA in text and "差评" in text  # the walk covers the planted names and the confirmed 差评
    for number in ALL_NUMBERS:
        assert number not in text and number not in html, number
    assert "<a " not in html and "<img" not in html and f'href="{LINK}' not in html


@pytest.mark.parametrize("group", ["staff", "window", "department"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_cli_report_exports(hall, tmp_path, monkeypatch, group, fmt):
    monkeypatch.setenv("WINDOWQA_DATABASE_URL", hall.url)
    out = tmp_path / f"r.{fmt}"
    result = CliRunner().invoke(app, ["report", group, "--month", "2026-03", "--by", "day", "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        text = out.read_text(encoding="utf-8")
        assert not csv_dangerous(text)
    else:
        assert not xlsx_formulas(out.read_bytes())
        text = xlsx_text(out.read_bytes())
    assert not [n for n in ALL_NUMBERS if n in text]


def test_flag_status_is_planted(hall):
    with make_session_factory(make_engine(hall.url))() as s:
        assert s.scalar(select(Flag.id).where(Flag.kind == FlagKind.POOR_RATING, Flag.status == FlagStatus.CONFIRMED)) is not None
