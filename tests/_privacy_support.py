"""Hostile data planted in the dashboard test hall: formula names, Markdown, a citizen's numbers.

The hall of ``_dashboard_support`` gets site names that spreadsheets would run as formulas, a
rating comment with a Markdown link, an external image and the citizen's numbers, and score
explanations and transcripts in which a staff member repeats the citizen's mobile number (in
spoken digits) and ID number, as Whisper would write them.
"""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from models.db import Department, Flag, FlagKind, Interaction, Rating, Staff, Utterance, Window
from models.domain import Role

FORMULA = "=cmd|' /C calc'!A0"
AT_FORMULA = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS_FORMULA = "-2+3+cmd|' /C calc'!A0"
FORMULAS = (FORMULA, AT_FORMULA, MINUS_FORMULA)
MOBILE = "13812345678"
SPOKEN_MOBILE = "幺三八一二三四五六七八"
ID_NO = "11010519491231002X"
NUMBERS = (MOBILE, SPOKEN_MOBILE, ID_NO)
LINK = "http://evil.example/phish"
IMAGE = "http://evil.example/pixel.png"
HTML_NAME = f"<a href='{LINK}'>张敏</a>"
COMMENT = f"态度不好 [点此领取补贴]({LINK}) ![x]({IMAGE}) {FORMULA} 我电话{MOBILE} 身份证{ID_NO}"
STAFF_LINE = f"好的，您的电话是{SPOKEN_MOBILE}，身份证号{ID_NO}，我记下了，详见[办事指南]({LINK})"


def plant(factory) -> None:
    """Plant the hostile strings in an already populated hall (idempotent)."""
    with factory() as s, s.begin():
        if s.scalar(select(Department.id).where(Department.name == FORMULA)) is not None:
            return
        s.scalar(select(Department).where(Department.code == "RSJ")).name = FORMULA
        s.scalar(select(Department).where(Department.code == "SCJG")).name = AT_FORMULA
        s.scalar(select(Window).where(Window.code == "B01")).name = FORMULA
        s.scalar(select(Window).where(Window.code == "A03")).name = MINUS_FORMULA
        s.scalar(select(Staff).where(Staff.staff_no == "2001")).name = FORMULA
        s.scalar(select(Staff).where(Staff.staff_no == "1001")).name = HTML_NAME
        for rating in s.scalars(select(Rating).where(Rating.is_poor.is_(True))):
            rating.comment = COMMENT
        for interaction in s.scalars(select(Interaction)):
            first_staff = s.scalar(select(Utterance).where(Utterance.interaction_id == interaction.id, Utterance.role == Role.STAFF).order_by(Utterance.seq).limit(1))
            if first_staff is None:
                continue
            first_staff.text = STAFF_LINE
            # the line scoring writes when a courtesy phrase was said: the utterance's words verbatim
            interaction.explanation = [*(interaction.explanation or []), {"reason": f"courtesy.greet said: {STAFF_LINE}", "points": 0.0,
                                                                          "rule_id": "courtesy.greet", "utterance_seq": first_staff.seq}]
        for flag in s.scalars(select(Flag).where(Flag.kind == FlagKind.POOR_RATING)):
            flag.summary = f"差评：{COMMENT}"


def xlsx_formulas(data: bytes) -> list[str]:
    """The formula cells (``<f>`` elements) of every sheet of an xlsx file."""
    found = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name).decode("utf-8")
                if "<f>" in xml or "<f " in xml:
                    found.append(name)
    return found


def xlsx_text(data: bytes) -> str:
    """Every cell value of an xlsx file, one per line."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return "\n".join(str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None)


def csv_dangerous(text: str) -> list[str]:
    """Fields of a CSV text that a spreadsheet would run as a formula."""
    import csv

    bad = []
    for row in csv.reader(io.StringIO(text)):
        for field in row:
            if field[:1] in ("=", "+", "@", "\t", "\r") or (field[:1] == "-" and not _number(field)):
                bad.append(field)
    return bad


def _number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True
