"""Inspector: the queue of flags, filterable by window, staff, rule, date, severity and status."""

import streamlit as st

from dashboard import alerts_ui, auth, data, labels, ui
from models.db import FlagKind, FlagStatus
from models.domain import RuleFamily
from scoring.access import COUNT_CAP, FLAG_KIND_LABELS, FlagFilter, severity_choices

actor = auth.actor()
url = data.db_url()
st.title("标记队列")
alerts_ui.alert_badge(actor)  # live alerts, refreshing by themselves (the list: 实时提醒)

windows = data.window_choices(url, actor)
staff = data.staff_choices(url, actor)
rulebook = data.rulebook()
rules = [r.id for r in rulebook.family(RuleFamily.FORBIDDEN)]
window_names = {w.code: f"{w.code} {w.name}" for w in windows}
pick = labels.PLACEHOLDER
with st.expander("筛选", expanded=True):
    c1, c2, c3 = st.columns(3)
    sel_windows = c1.multiselect("窗口", [w.code for w in windows], key="q_windows", format_func=window_names.get, placeholder=pick)
    sel_staff = c2.multiselect("工作人员", [f"{s.staff_no} {s.name}" for s in staff], key="q_staff", placeholder=pick)
    sel_rules = c3.multiselect("规则", rules, key="q_rules", format_func=lambda r: labels.rule_name(rulebook, r), placeholder=pick)
    c4, c5, c6 = st.columns(3)
    sel_kinds = c4.multiselect("类型", [k.value for k in FlagKind], format_func=lambda k: FLAG_KIND_LABELS[FlagKind(k)], key="q_kinds", placeholder=pick)
    sel_sev = c5.multiselect("严重程度", severity_choices(rulebook), format_func=lambda v: labels.SEVERITY.get(v, v), key="q_sev",
                             placeholder=pick)
    sel_status = c6.multiselect("状态", [s.value for s in FlagStatus], default=[FlagStatus.OPEN.value], key="q_status",
                                format_func=labels.FLAG_STATUS.get, placeholder=pick)
    start, end = ui.date_range(actor, "q_dates", default_days=366)

f = FlagFilter(
    window_ids=tuple(w.id for w in windows if w.code in sel_windows),
    staff_ids=tuple(s.id for s in staff if f"{s.staff_no} {s.name}" in sel_staff),
    rule_ids=tuple(sel_rules),
    kinds=tuple(FlagKind(k) for k in sel_kinds),
    severities=tuple(sel_sev),
    statuses=tuple(FlagStatus(s) for s in sel_status),
    start=start,
    end=end,
)
page_size = 100
with ui.guarded():
    total, rows = data.flag_queue(url, actor, f, page_size, 0)
shown_total = f"{COUNT_CAP}+" if total > COUNT_CAP else str(total)
pages = max(1, (min(total, COUNT_CAP) + page_size - 1) // page_size)
page = st.number_input(f"页（共 {pages} 页，{shown_total} 条）", min_value=1, max_value=pages, value=1, key="q_page") if pages > 1 else 1
if page > 1:
    with ui.guarded():
        total, rows = data.flag_queue(url, actor, f, page_size, (page - 1) * page_size)
st.caption(f"{shown_total} 条标记")
if rows:
    ui.table(rows, ["id", "raised_at", "kind_label", "rule_id", "severity", "status_label", "window", "staff_no", "staff_name", "summary", "appeal_pending"],
             key="q_table")
    choice = st.selectbox("打开标记", [r.id for r in rows], format_func=lambda i: f"#{i}", key="q_open", placeholder=labels.PLACEHOLDER)
    if st.button("打开", key="q_open_button"):
        st.session_state["flag_id"] = int(choice)
        st.switch_page("app_pages/flag.py", query_params={"flag": str(choice)})
else:
    st.info("没有符合条件的标记。")
