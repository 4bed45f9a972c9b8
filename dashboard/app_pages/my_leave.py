"""Staff: ask for leave (with a substitute) and 续假; see where each request stands and who decided."""

import streamlit as st

from dashboard import auth, data, labels, ui
from models.attendance import HalfDay

actor = auth.actor()
url = data.db_url()
st.title("我的请假")
HALVES = [HalfDay.MORNING, HalfDay.AFTERNOON]
with ui.guarded():
    items = data.leave_items(url, actor)
    candidates, windows = data.leave_choices(url, actor)
steps = " → ".join(s.label for s in data.rulebook().leave.approval_steps)
st.caption(f"请假逐级审批：{steps}；批准前请假不计入考勤（未获批准不上班按旷工处理）。")

with st.form("leave_form"):
    st.subheader("请假申请")
    leave_type = st.selectbox("假别", list(data.rulebook().attendance.leave_types), key="lv_type")
    c1, c2, c3, c4 = st.columns(4)
    start = c1.date_input("开始日期", key="lv_start")
    start_half = c2.radio("开始时段", HALVES, format_func=lambda h: labels.ATTENDANCE[h.value], key="lv_start_half", horizontal=True)
    end = c3.date_input("结束日期", key="lv_end")
    end_half = c4.radio("结束时段", HALVES, index=1, format_func=lambda h: labels.ATTENDANCE[h.value], key="lv_end_half", horizontal=True)
    note = st.text_area("请假事由", key="lv_note")
    names = {c.staff_no: c.name for c in candidates}
    substitute = st.selectbox("替岗人员（可不选）", [None, *names], format_func=lambda no: "不安排" if no is None else f"{no} {names[no]}",
                              key="lv_sub")
    window = st.selectbox("替岗窗口", windows, key="lv_window", placeholder=labels.PLACEHOLDER) if windows else None
    submitted = st.form_submit_button("提交请假申请")
if submitted:
    with ui.guarded():
        data.request_leave(actor, leave_type=leave_type, start=start, end=end, start_half=start_half, end_half=end_half,
                           note=note, substitute_no=substitute, substitute_window=window if substitute else None)
    st.success("请假申请已提交，等待审批。")
    st.rerun()

if not items:
    st.info("暂无请假记录。")
    st.stop()
st.subheader("我的请假记录")
ui.table(items, ["leave_id", "extension_id", "leave_type", "start", "start_half", "end", "end_half", "days", "status", "awaiting",
                 "substitute_no", "substitute_window", "note", "source", "filed_at"], key="lv_table")
pick = st.selectbox("查看审批记录", sorted({i.leave_id for i in items}, reverse=True), format_func=lambda i: f"请假 #{i}", key="lv_pick")
with ui.guarded():
    decisions = data.leave_decisions(url, actor, pick)
if decisions:
    ui.table(decisions, key="lv_decisions", values={"decision": labels.LEAVE_DECISION}, headers={"decided_at": "审批时间"})
else:
    st.caption("尚无审批记录。")

extendable = [i for i in items if i.extension_id is None and i.status == "approved" and i.source == "dashboard"]
if extendable:
    with st.form("extend_form"):
        st.subheader("续假申请")
        names = {x.leave_id: f"#{x.leave_id} {x.leave_type} {x.start}～{x.end}" for x in extendable}
        leave_id = st.selectbox("续假的请假", list(names), key="ext_leave", format_func=lambda i: names.get(i, f"#{i}"))
        c1, c2 = st.columns(2)
        new_end = c1.date_input("续假至", key="ext_end")
        new_end_half = c2.radio("结束时段", HALVES, index=1, format_func=lambda h: labels.ATTENDANCE[h.value], key="ext_half", horizontal=True)
        ext_note = st.text_area("续假事由", key="ext_note")
        extend = st.form_submit_button("提交续假申请")
    if extend:
        with ui.guarded():
            data.request_extension(actor, leave_id, new_end=new_end, new_end_half=new_end_half, note=ext_note)
        st.success("续假申请已提交，按原审批环节逐级审批。")
        st.rerun()
