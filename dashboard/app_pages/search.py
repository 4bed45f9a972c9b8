"""Inspectors, managers, admins: search every transcript by words, with window, staff, rule and date filters.

A complaint names a window, a day and what was said; the found line opens its whole interaction
(接待详情) at that line, highlighted, with the audio from that line. Every data string is shown as plain text (table cells, st.text); numbers are masked by the
access layer for roles that may not see them.
"""

from datetime import date

import streamlit as st

from dashboard import auth, data, ui
from scoring.access.search import SearchFilters, search_transcripts

ANY = "（全部）"

actor = auth.actor()
url = data.db_url()
st.title("转写搜索")
st.caption("按原话搜索全部转写：多个词语用空格分开，须全部出现；标点与空格不影响匹配，近义说法不会匹配。")
windows = {f"{w.code} {w.name}": w.code for w in data.window_choices(url, actor)}
staff = {f"{p.staff_no} {p.name}": p.staff_no for p in data.staff_choices(url, actor)}
with st.form("search_form"):
    words = st.text_input("词语", key="s_words", max_chars=200)
    c1, c2, c3 = st.columns(3)
    window = c1.selectbox("窗口", [ANY, *windows], key="s_window")
    person = c2.selectbox("工作人员", [ANY, *staff], key="s_staff")
    rule = c3.text_input("规则（规则编号或类别，如 forbidden）", key="s_rule", max_chars=100)
    d1, d2, d3 = st.columns(3)
    # the data's first and last day stand in the pickers (an empty picker shows yyyy/mm/dd): the same results as no bound
    span = data.data_range(url, actor)
    date_from = d1.date_input("起始日期", value=span[0] if span else None, key="s_from", max_value=date.today())
    date_to = d2.date_input("截止日期", value=span[1] if span else None, key="s_to", max_value=date.today())
    limit = d3.number_input("最多显示条数", min_value=10, max_value=1000, value=200, step=10, key="s_limit")
    submitted = st.form_submit_button("搜索")

if submitted:
    filters = SearchFilters(
        window=windows.get(window), staff_no=staff.get(person), rule=rule.strip() or None,
        date_from=date_from, date_to=date_to, limit=int(limit),
    )
    with ui.guarded(), data.session() as s:
        st.session_state["s_hits"] = search_transcripts(s, actor, words, filters, data.policy())
hits = st.session_state.get("s_hits")
if hits is None:
    st.stop()
if not hits:
    st.info("没有找到包含这些词语的语句。")
    st.stop()
st.caption(ui.plain(f"找到 {len(hits)} 句（最新的在前）"))
df = ui.frame(hits)
df["speaker"] = df["role"].map(lambda r: ui.ROLE_NAMES.get(r, r))
df["where"] = [f"互动 #{h.interaction_id} 第 {h.line + 1} 句" for h in hits]
df["flag"] = [f"#{h.flag_id}" if h.flag_id else "" for h in hits]
df = df[["started_at", "window_code", "staff_no", "staff_name", "speaker", "text", "where", "flag"]]
df.columns = ["时间", "窗口", "工号", "工作人员", "说话人", "原话", "位置", "标记"]
st.dataframe(df, hide_index=True, width="stretch")
pick = st.selectbox(
    "打开所在接待（定位到该句，从该句播放）", range(len(hits)), key="s_open",
    format_func=lambda i: f"接待 #{hits[i].interaction_id} 第 {hits[i].line + 1} 句 · {hits[i].window_code or '-'} · {ui.seconds(hits[i].started_at)}",
)
if st.button("打开接待", key="s_open_button"):
    hit = hits[int(pick)]
    st.session_state["interaction_id"] = int(hit.interaction_id)
    st.switch_page("app_pages/interaction.py", query_params={"interaction": str(hit.interaction_id), "line": str(hit.line)})
