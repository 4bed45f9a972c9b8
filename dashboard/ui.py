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
from dataclasses import asdict, fields, is_dataclass
from datetime import date, timedelta
from html import escape
from typing import Any, Iterator

import pandas as pd
import streamlit as st

from dashboard import data, labels
from models.export_cells import csv_field
from scoring.access import AccessDenied, AudioClip, NotFound, TranscriptLine

ROLE_NAMES = labels.SPEAKER
FAMILY_COLOURS = {"forbidden": "#f8b4b4", "courtesy": "#b7e4c7", "phone": "#bde0fe"}


def chrome() -> None:
    """Streamlit's own English in Chinese: the keyboard "Skip to main content" link reads :data:`labels.SKIP_LINK`.

    A style only (Streamlit sends it apart, it takes no room on the page); the link keeps working.
    """
    st.html("<style>[data-testid='stSkipToContent']{font-size:0 !important}"
            f"[data-testid='stSkipToContent']::after{{content:'{labels.SKIP_LINK}';font-size:1rem}}</style>")


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
    return st.selectbox("月份", months or [last.strftime("%Y-%m")], key=key, placeholder=labels.PLACEHOLDER)


def line_html(line: TranscriptLine, rulebook=None, number: int | None = None) -> str:
    """One transcript line with role, time and its hits highlighted (text escaped); a hit names its rule, its id in the tooltip."""
    text = line.text
    marks = sorted(((max(0, h.start), min(len(text), h.end), h) for h in line.hits if h.end > h.start), key=lambda m: (m[0], m[1]))
    pieces, pos = [], 0
    for start, end, hit in marks:
        if start < pos:
            continue
        pieces.append(escape(text[pos:start]))
        colour = "#ffd166" if hit.rule_id == "citizen.abuse" else FAMILY_COLOURS.get(hit.family, "#eee")
        pieces.append(f"<mark style='background:{colour}' title='{escape(hit.rule_id)}'>{escape(text[start:end])}</mark>"
                      f"<sub>{escape(labels.rule_name(rulebook, hit.rule_id) if rulebook is not None else hit.rule_id)}</sub>")
        pos = end
    pieces.append(escape(text[pos:]))
    style = "border-left:4px solid #d00;padding-left:6px;background:#fff4f4;" if line.flagged else "padding-left:10px;"
    marker = " data-testid='wq-line-highlight'" if line.flagged else ""
    prefix = f"<code>{number}.</code> " if number is not None else ""
    return (f"<p{marker} style='margin:2px 0;{style}'>{prefix}<code>{line.start_s:7.1f}s</code> "
            f"<b>{escape(ROLE_NAMES.get(line.role, line.role))}</b>：{''.join(pieces)}</p>")


def transcript_html(lines: list[TranscriptLine], rulebook=None) -> str:
    """The transcript with roles, times and the hits highlighted (text escaped); a hit names its rule, its id in the tooltip."""
    return "<div class='wq-transcript'>" + "".join(line_html(line, rulebook) for line in lines) + "</div>"


def seconds(value: Any) -> str:
    """A date-time to the second (no microseconds); empty for none."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "hour") else str(value)


def frame(rows: list[Any]) -> pd.DataFrame:
    """A table of the access layer's typed rows (dataclasses), one column per field (CSV-safe, :func:`safe`)."""
    return safe(pd.DataFrame([_row(r) for r in rows]))


def _row(row: Any) -> dict[str, Any]:
    # the fields as they are: asdict deep-copies every value (a second for a month of attendance days); a row
    # holding a dataclass (none today) is converted the thorough way
    out = {f.name: getattr(row, f.name) for f in fields(row)}
    return asdict(row) if any(is_dataclass(v) for v in out.values()) else out


def table(rows: list[Any] | pd.DataFrame, columns: list[str] | None = None, *, key: str | None = None, rule_ids: bool = False,
          highlight: str | None = None, headers: dict[str, str] | None = None, values: dict[str, dict[str, str]] | None = None) -> pd.DataFrame:
    """Show rows (typed rows or a frame) as a table labelled from :mod:`dashboard.labels`; returns the frame shown.

    Names stand next to every 工号 and window code, coded cells are Chinese, a rule's wording
    stands where its id is (the id is a tooltip on the header: ``rule_id`` stays in the data).
    ``columns`` picks and orders the fields shown; ``highlight`` a boolean field whose rows are tinted;
    ``headers`` overrides a field's header where the page knows better (``key`` of a window ranking is 窗口),
    ``values`` a field's codes (an appeal's ``decision``).
    """
    df = frame(rows) if isinstance(rows, list) else safe(rows)
    df = _with_names(df)
    shown = labels.display_frame(df, data.rulebook(), values)
    order = None
    if columns is not None:
        order = [c for c in columns if c in shown.columns]
        for anchor, extra in (("rule_id", "rule"), ("window", "window_name"), ("staff_no", "staff_name")):
            if anchor in order and extra in shown.columns and extra not in order:
                order.insert(order.index(anchor) + 1, extra)
        if "rule" in order and "rule_id" in order and not rule_ids:
            order.remove("rule_id")
    config = labels.column_config(shown, rule_ids=rule_ids, headers=headers)
    if "rule" in shown.columns and "rule_id" in shown.columns:
        config["rule"] = st.column_config.TextColumn(labels.header("rule"), help=labels.HELP["rule"])
    body: Any = shown
    if highlight is not None and highlight in df.columns:
        # one frame of styles for the whole table: a style function per row cost 0.3 s for 200 rows
        tint = pd.DataFrame("", index=shown.index, columns=shown.columns)
        tint.loc[df[highlight].fillna(False).astype(bool).to_numpy()] = "background-color:#fde2e2"
        body = shown.style.apply(lambda _: tint, axis=None)
    st.dataframe(body, column_order=order, column_config=config, hide_index=True, width="stretch", key=key)
    return shown


def _with_names(df: pd.DataFrame) -> pd.DataFrame:
    """Add the staff member's name next to a 工号 and the window's name next to a window code (where the row has none)."""
    if df.empty:
        return df
    from dashboard.auth import current_actor  # auth lays out with ui: imported when used

    actor = current_actor()
    if "window" in df.columns and "window_name" not in df.columns:
        names = {w.code: w.name for w in data.window_choices(data.db_url(), actor)} if actor is not None else {}
        df.insert(list(df.columns).index("window") + 1, "window_name", df["window"].map(lambda c: csv_field(names.get(c, "")) if isinstance(c, str) else ""))
    if "staff_no" in df.columns and not ({"staff_name", "name"} & set(df.columns)):
        names = {s.staff_no: s.name for s in data.staff_choices(data.db_url(), actor)} if actor is not None else {}
        df.insert(list(df.columns).index("staff_no") + 1, "staff_name", df["staff_no"].map(lambda c: csv_field(names.get(c, "")) if isinstance(c, str) else ""))
    return df


def long_chart_frame(df: pd.DataFrame, x: str, ys: list[str], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """A chart's data in long form with Chinese column names (``指标``, ``数值``), names without angle brackets."""
    return chart_frame(labels.chart_frame(df, x, ys, extra))


def figure(df: pd.DataFrame, x: str, ys: list[str], *, kind: str = "line", by: str | None = None, title: str | None = None,
           x_title: str = "", y_title: str = "", legend_title: str = "指标", percent: bool = False, months: bool = False):
    """A Plotly line or grouped bar chart from graph objects: one trace per field in ``ys`` (named by its header) or,
    given ``by``, one trace of ``ys[0]`` per value of that column (names are data: without angle brackets).

    Plotly Express costs four to five times as much per chart (0.25 s against 0.05 s for a year of three rates),
    and a page draws several. ``percent``: a 0..100 % axis; ``months``: the x values as written (a date axis reads "Mar 1").
    """
    import plotly.graph_objects as go  # with the first chart, not with every page

    df = chart_frame(df)
    value = "%{y:.1%}" if percent else "%{y}"

    def trace(rows: pd.DataFrame, y: str, name: str):
        hover = f"{name}：{value}<extra>%{{x}}</extra>"  # names come without angle brackets
        if kind == "bar":
            return go.Bar(x=rows[x], y=rows[y], name=name, hovertemplate=hover)
        return go.Scatter(x=rows[x], y=rows[y], name=name, mode="lines+markers", hovertemplate=hover)

    if by is None:
        traces = [trace(df, y, labels.header(y)) for y in ys]
    else:
        traces = [trace(rows, ys[0], str(name)) for name, rows in df.groupby(by, sort=False)]
    fig = go.Figure(traces)
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, legend_title_text=legend_title, barmode="group")
    if months:
        fig.update_xaxes(type="category")
    if percent:
        fig.update_yaxes(range=[0, 1.05], tickformat=".0%")  # rates: 0 to 100 % whatever the points
    return fig


def chart(fig, *, key: str) -> None:
    """A Plotly chart without Plotly's tool bar: its buttons are English tooltips (Zoom, Pan, Autoscale…) a hall user does not need."""
    st.plotly_chart(fig, key=key, config={"displayModeBar": False, "displaylogo": False})


def percent_axis(fig, axis: str = "y"):
    """Show a 0..1 axis as percentages."""
    (fig.update_yaxes if axis == "y" else fig.update_xaxes)(tickformat=".0%")
    return fig


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
        st.error(f"工作人员参数无效：{plain(repr(raw))}")
        st.stop()
