"""Small layout helpers shared by the pages (no queries here).

Data strings (names, comments, transcripts, reasons) are untrusted: they are shown as plain text
(``st.text``, table cells, escaped HTML) or, where Streamlit renders Markdown (messages, metric
values), escaped with :func:`plain`. Table cells are CSV-safe (:func:`safe`), because Streamlit's
table toolbar downloads them as CSV.
"""

from __future__ import annotations

import base64
import re
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, timedelta
from html import escape
from typing import Any, Iterator

import pandas as pd
import streamlit as st

from dashboard import data
from models.export_cells import csv_field
from scoring.access import AccessDenied, AudioClip, NotFound, TranscriptLine

ROLE_NAMES = {"staff": "工作人员", "citizen": "群众", "unknown": "未知"}
FAMILY_COLOURS = {"forbidden": "#f8b4b4", "courtesy": "#b7e4c7", "phone": "#bde0fe"}


@contextmanager
def guarded() -> Iterator[None]:
    """Show an access refusal or a missing record as an error and stop the page."""
    try:
        yield
    except (AccessDenied, NotFound) as exc:
        st.error(f"无权查看或不存在：{plain(exc)}")
        st.stop()
    except ValueError as exc:
        st.error(plain(exc))
        st.stop()


_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
# GFM turns bare addresses into links after escapes are resolved: an invisible joiner breaks them
_AUTOLINK = re.compile(r"(?i)(https?|ftp|mailto|xmpp|www|@)(?=[:.\w])")
_JOINER = "\u2060"


def plain(value: Any) -> str:
    """``value`` as text for an element that renders Markdown (messages, metric values, captions).

    Every ASCII punctuation mark is escaped (CommonMark shows it as itself), so no link, image,
    emphasis, colour directive or formula is made from data; a word joiner (invisible) after
    ``http``, ``www``, ``@``… keeps GFM from linking bare addresses.
    """
    text = _AUTOLINK.sub(lambda m: m.group(1) + _JOINER, "" if value is None else str(value))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _map_text(df: pd.DataFrame, fn) -> pd.DataFrame:
    df = df.copy()
    for column in df.columns:
        if not pd.api.types.is_numeric_dtype(df[column]) and not pd.api.types.is_datetime64_any_dtype(df[column]):
            df[column] = df[column].map(lambda v: fn(v) if isinstance(v, str) else v)
    return df


def safe(df: pd.DataFrame) -> pd.DataFrame:
    """A table whose text cells cannot become formulas when downloaded as CSV (OWASP rules, as in exports)."""
    return _map_text(df, csv_field)


def chart_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A table for a Plotly chart: Plotly reads ``<a href>``, ``<b>``… in labels and hover texts, so names lose their angle brackets."""
    return _map_text(df, lambda v: v.replace("<", "‹").replace(">", "›"))


def audio_html(clip: AudioClip) -> str:
    """An audio player with the clip inline (a data: URL), starting at the evidence.

    The bytes travel in the logged-in session's own connection: unlike ``st.audio`` there is no
    ``/media/...`` address that anyone could fetch without the session.
    """
    src = f"data:{clip.mime};base64,{base64.b64encode(clip.data).decode('ascii')}#t={clip.hit_s:.1f}"
    return f"<audio controls preload='auto' data-testid='wq-audio-clip' src='{escape(src)}' style='width:100%'></audio>"


def date_range(actor, key: str, *, default_days: int = 31) -> tuple[date | None, date | None]:
    """A from/to day picker defaulting to the last ``default_days`` of the data."""
    span = data.data_range(data.db_url(), actor)
    last = span[1] if span else date.today()
    first_data = span[0] if span else last - timedelta(days=default_days)
    default = (max(first_data, last - timedelta(days=default_days - 1)), last)
    picked = st.date_input("日期范围", value=default, key=key)
    if isinstance(picked, (tuple, list)):
        if len(picked) == 2:
            return picked[0], picked[1]
        if len(picked) == 1:
            return picked[0], picked[0]
        return None, None
    return picked, picked


def month_picker(actor, key: str) -> str:
    span = data.data_range(data.db_url(), actor)
    last = span[1] if span else date.today()
    first = span[0] if span else last
    months = []
    m = date(last.year, last.month, 1)
    while m >= date(first.year, first.month, 1) and len(months) < 36:
        months.append(m.strftime("%Y-%m"))
        m = (m - timedelta(days=1)).replace(day=1)
    return st.selectbox("月份", months or [last.strftime("%Y-%m")], key=key)


def transcript_html(lines: list[TranscriptLine]) -> str:
    """The transcript with roles, times and the hits highlighted (text escaped)."""
    out = ["<div class='wq-transcript'>"]
    for line in lines:
        text = line.text
        marks = sorted(((max(0, h.start), min(len(text), h.end), h) for h in line.hits if h.end > h.start), key=lambda m: (m[0], m[1]))
        pieces, pos = [], 0
        for start, end, hit in marks:
            if start < pos:
                continue
            pieces.append(escape(text[pos:start]))
            colour = "#ffd166" if hit.rule_id == "citizen.abuse" else FAMILY_COLOURS.get(hit.family, "#eee")
            pieces.append(f"<mark style='background:{colour}' title='{escape(hit.rule_id)}'>{escape(text[start:end])}</mark>"
                          f"<sub>{escape(hit.rule_id)}</sub>")
            pos = end
        pieces.append(escape(text[pos:]))
        style = "border-left:4px solid #d00;padding-left:6px;" if line.flagged else "padding-left:10px;"
        out.append(
            f"<p style='margin:2px 0;{style}'><code>{line.start_s:7.1f}s</code> "
            f"<b>{escape(ROLE_NAMES.get(line.role, line.role))}</b>：{''.join(pieces)}</p>"
        )
    out.append("</div>")
    return "".join(out)


def frame(rows: list[Any]) -> pd.DataFrame:
    """A table of the access layer's typed rows (dataclasses), one column per field (CSV-safe, :func:`safe`)."""
    return safe(pd.DataFrame([asdict(r) for r in rows]))


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def requested_staff(actor) -> int | None:
    """The staff id a page is asked for (``?staff=ID``), defaulting to the actor's own.

    The access layer refuses a staff member's request for anyone else.
    """
    raw = st.query_params.get("staff")
    if raw is None:
        return actor.staff_id
    try:
        return int(raw)
    except ValueError:
        st.error(f"bad staff parameter {plain(repr(raw))}")
        st.stop()
