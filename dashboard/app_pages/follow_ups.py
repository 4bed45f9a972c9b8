"""Management: 差评 follow-up cases (回访, 整改) by state and deadline; record a step."""

from datetime import date

import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("差评回访")
with ui.guarded():
    counts, rows = data.follow_up_cases(url, actor, date.today())
cols = st.columns(max(1, len(counts)))
for col, (label, n) in zip(cols, counts.items()):
    col.metric(label, n)
st.subheader("回访率与整改率")
target = data.rulebook().management.follow_up_target
c1, c2 = st.columns([2, 1])
start, end = ui.date_range(actor, "fu_dates", default_days=31)
rate_by = c2.radio("按", ["hall", "department", "window", "staff"], horizontal=True, key="fu_by", format_func=labels.GROUPS.get)
with ui.guarded():
    rates = data.follow_up_rates(url, actor, rate_by, start, end)
if rates:
    if rate_by == "hall":
        hall = rates[0]
        m1, m2, m3 = st.columns(3)
        m1.metric("差评数", hall.poor)
        m2.metric("回访率", ui.pct(hall.callback_rate), delta=f"目标 {ui.pct(target)}", delta_color="off")
        m3.metric("整改率", ui.pct(hall.rectify_rate), delta=f"目标 {ui.pct(target)}", delta_color="off")
    ui.table(rates, ["key", "name", "poor", "called_back", "callback_rate", "rectified", "rectify_rate", "target", "below_target"], key="fu_rates",
             headers=labels.GROUP_HEADERS[rate_by], highlight="below_target")
else:
    st.caption("所选时间内没有差评。")
st.subheader("未办结案件")
if not rows:
    st.success("没有未办结的回访。")
    st.stop()
ui.table(rows, ["id", "status", "opened_on", "due_on", "overdue", "level", "comment", "window", "staff_no", "staff_name"], key="fu_table", highlight="overdue")
cases = {r.id: f"#{r.id} {r.window} {r.staff_name or ''} {r.level}（{r.status}，{r.due_on} 前）" for r in rows}
with st.form("follow_up_step"):
    st.subheader("记录回访/整改")
    case = st.selectbox("案件", list(cases), key="fu_case", format_func=cases.get, placeholder=labels.PLACEHOLDER)
    step = st.radio("步骤", ["called_back", "rectified", "closed"], horizontal=True, key="fu_step", format_func=labels.FOLLOW_UP.get)
    note = st.text_area("说明", key="fu_note")
    submitted = st.form_submit_button("记录")
if submitted:
    with ui.guarded():
        data.advance_follow_up(actor, case, step, note)
    st.success("已记录。")
    st.rerun()
