"""Management: staff appeals against a classified half-day (考勤申诉); a manager's decision is final."""

import streamlit as st

from dashboard import auth, data, labels, ui
from models.db import UserRole

actor = auth.actor()
url = data.db_url()
st.title("考勤申诉")
with ui.guarded():
    rows = data.attendance_appeals(url, actor)
pending = [r for r in rows if r.status == "pending"]
st.metric("待裁定", len(pending))
VALUES = {"status": labels.ATTENDANCE_APPEAL_STATUS}
if rows:
    ui.table(rows, key="aa_table", values=VALUES)
else:
    st.info("暂无考勤申诉。")
if pending and actor.role is UserRole.MANAGER:
    with st.form("aa_form"):
        names = {r.appeal_id: f"#{r.appeal_id} {r.staff_name} {r.day} {labels.ATTENDANCE[r.half]} "
                              f"{labels.ATTENDANCE[r.classified_as]}：{r.reason}" for r in pending}
        appeal_id = st.selectbox("申诉", list(names), key="aa_pick", format_func=lambda i: names.get(i, f"#{i}"))
        grant = st.radio("裁定", [True, False], key="aa_outcome", horizontal=True,
                         format_func={True: "申诉成立（改为准时）", False: "驳回（维持原考勤结果）"}.get)
        ruling = st.text_area("裁定理由（最终）", key="aa_ruling")
        submitted = st.form_submit_button("提交裁定")
    if submitted:
        with ui.guarded():
            data.decide_attendance_appeal(actor, appeal_id, grant, ruling)
        st.success("裁定已记录（最终），考勤统计已更正。" if grant else "裁定已记录（最终）。")
        st.rerun()
