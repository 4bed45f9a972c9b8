"""Every page, as every role, reads Chinese: no raw field name, no None, no English code, no Streamlit default text.

Walks the pages of the test hall through AppTest and reads what a user sees: each table's headers
(the column configuration's labels of the columns shown) and cells, every text element, the
filters' placeholders and options, and the charts' axis, legend and series names.
"""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from _dashboard_support import build_hall, set_env
from dashboard import labels
from test_dashboard_pages import PAGES, USER_OF, login, page

RAW_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")  # greeting_rate, staff_id, key, value
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")  # a field name inside a text
ENGLISH_CODES = {
    "open", "confirmed", "dismissed", "minor", "major", "serious", "pending", "confirm", "dismiss", "adjust", "inspection", "appeal",
    "forbidden", "missing_courtesy", "poor_rating", "citizen_abuse", "morning", "afternoon", "late", "early_leave", "on_time",
    "leave", "absenteeism", "missing_check", "called_back", "rectified", "closed", "inspector", "manager", "citizen",
    "true", "false", "none", "nan", "nat",
}
ENGLISH_PHRASE = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,}")  # "interaction without farewell"
DEFAULT_TEXTS = ("Choose options", "Choose an option", "Select", "No options")
TEXT_KINDS = ("markdown", "text", "title", "subheader", "header", "caption", "metric", "error", "warning", "info", "success")


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    return build_hall(tmp_path_factory.mktemp("label-hall"))


def _shown_columns(el) -> list[tuple[str, str]]:
    """(field, header) of each column a table shows: its column order, less hidden columns, labelled by the configuration."""
    df = el.value
    config = json.loads(el.proto.columns or "{}")
    order = list(el.proto.column_order) or [str(c) for c in df.columns]
    out = []
    for field in order:
        conf = config.get(field) or {}
        if conf.get("hidden"):
            continue
        out.append((field, conf.get("label") or field))
    return out


def _table_problems(el) -> list[str]:
    problems = []
    df = el.value
    for field, header in _shown_columns(el):
        if RAW_NAME.match(header):
            problems.append(f"header {header!r}")
        if field not in df.columns:
            continue
        fmt = ((json.loads(el.proto.columns or "{}").get(field) or {}).get("type_config") or {}).get("format")
        if pd.api.types.is_datetime64_any_dtype(df[field]) and fmt != labels.DATETIME_FORMAT:
            problems.append(f"{header!r} not to the second ({fmt!r})")  # else Streamlit shows milliseconds
        if field in labels.PERCENT and pd.api.types.is_numeric_dtype(df[field]) and fmt != "percent":
            problems.append(f"{header!r} not a percentage")
        for cell in df[field]:
            if cell is None or (isinstance(cell, float) and math.isnan(cell)) or (hasattr(cell, "isoformat") and str(cell) == "NaT"):
                problems.append(f"empty cell shown as None in {header!r}")
                break
            if isinstance(cell, str) and (cell.strip().lower() in ENGLISH_CODES or cell.strip() == "None" or ENGLISH_PHRASE.search(cell)):
                problems.append(f"{header!r} cell {cell!r}")
                break
    return problems


def _text_problems(text: str) -> list[str]:
    problems = []
    if re.search(r"\bNone\b", text) or ENGLISH_PHRASE.search(text):
        problems.append(f"None in {text[:80]!r}")
    for name in SNAKE.findall(text):
        if name in labels.HEADERS:
            problems.append(f"field name {name!r} in {text[:80]!r}")
    problems += [f"{d!r} in {text[:80]!r}" for d in DEFAULT_TEXTS if d in text]
    return problems


def _widget_problems(at) -> list[str]:
    problems = []
    for kind in ("multiselect", "selectbox"):
        for w in getattr(at, kind):
            placeholder = w.proto.placeholder
            if placeholder and (placeholder != labels.PLACEHOLDER or any(d in placeholder for d in DEFAULT_TEXTS)):
                problems.append(f"{kind} {w.label!r} placeholder {placeholder!r}")
            english = [o for o in w.proto.options if o.strip().lower() in ENGLISH_CODES or RAW_NAME.match(o) and "_" in o]
            if english:
                problems.append(f"{kind} {w.label!r} options {english[:3]}")
    for w in at.radio:
        english = [o for o in w.proto.options if o.strip().lower() in ENGLISH_CODES or RAW_NAME.match(o)]
        if english:
            problems.append(f"radio {w.label!r} options {english[:3]}")
    return problems


def _chart_problems(at) -> list[str]:
    problems = []
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        layout = spec.get("layout", {})
        names = []
        for axis in ("xaxis", "yaxis"):
            names.append(((layout.get(axis) or {}).get("title") or {}).get("text"))
        names.append(((layout.get("legend") or {}).get("title") or {}).get("text"))
        names += [trace.get("name") for trace in spec.get("data", [])]
        names += [trace.get("hovertemplate") for trace in spec.get("data", [])]
        for name in filter(None, names):
            words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?==)", name) if "=" in name else [name]
            problems += [f"chart label {w!r}" for w in words if RAW_NAME.match(w)]
        if json.loads(el.proto.config or "{}").get("displayModeBar") is not False:  # its buttons' tooltips are English
            problems.append(f"chart {el.proto.id or ''} shows Plotly's tool bar")
    return problems


def problems_on(at) -> list[str]:
    """What the current page shows that is not Chinese."""
    found = []
    for el in at.dataframe:
        found += _table_problems(el)
    for kind in TEXT_KINDS:
        for el in getattr(at, kind):
            found += _text_problems(f"{getattr(el, 'label', '') or ''} {getattr(el, 'value', '') or ''}")
    found += _widget_problems(at)
    found += _chart_problems(at)
    return found


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_page_reads_chinese(hall, monkeypatch, role):
    set_env(hall, monkeypatch)
    at = login(USER_OF[role])
    seen = {}
    for name in PAGES[role]:
        page(at, name, **({"flag": 1} if name == "flag" else {}))
        assert not at.exception, f"{role} {name}: {at.exception}"
        seen[name] = problems_on(at)
        if name in ("satisfaction", "compliance"):  # the other groupings and the trend by group
            radio = at.radio(key="sat_by" if name == "satisfaction" else "c_by")
            for group in ("department", "staff"):
                radio.set_value(group)
                if name == "satisfaction":
                    at.toggle(key="sat_group_trend").set_value(True)
                at.run()
                seen[name] += problems_on(at)
        at.query_params.clear()
    bad = {name: sorted(set(p)) for name, p in seen.items() if p}
    assert not bad, f"{role}: {bad}"


def test_the_walk_catches_raw_names(hall, monkeypatch):
    """The checks themselves fail on what the pages used to show (raw headers, None, English codes, defaults)."""
    assert _text_problems("greeting_rate 0.81") and _text_problems("评价 None") and _text_problems("Choose options")
    assert RAW_NAME.match("staff_id") and RAW_NAME.match("key") and not RAW_NAME.match("好评率")
    set_env(hall, monkeypatch)
    at = page(login("insp"), "queue")
    table = at.dataframe[0]
    headers = [h for _f, h in _shown_columns(table)]
    assert "时间" in headers and "规则" in headers and "raised_at" not in headers
    assert "forbidden.already_told" not in headers and "rule_id" in table.value.columns  # the id stays in the data only


def test_the_circular_preview_has_chinese_headers(hall, monkeypatch):
    set_env(hall, monkeypatch)
    at = page(login("mgr"), "export")
    at.selectbox(key="x_month").set_value("2026-03")
    [b for b in at.button if b.label == "生成通报"][0].click()
    at.run()
    preview = next(el.proto.body for el in at.get("html") if "<th>" in el.proto.body)
    headers = re.findall(r"<th>(.*?)</th>", preview)
    assert "好评率" in headers and "工号" in headers
    assert not [h for h in headers if RAW_NAME.match(h)], headers
