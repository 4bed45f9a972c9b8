"""Management: punctuality, absences, leave, uncovered windows, long absences from the post."""

import pandas as pd
import streamlit as st

from dashboard import auth, data, ui

actor = auth.actor()
url = data.db_url()
st.title("考勤")
month = ui.month_picker(actor, "att_month")
with ui.guarded():
    result = data.attendance_month(url, actor, month)
if result is None:
    st.warning("考勤未接入（windowqa dashboard 会接入考勤模块）。")
    st.stop()
staff = pd.DataFrame(result["staff"])
if not staff.empty:
    c1, c2, c3, c4 = st.columns(4)
    due = staff["checks_due"].sum()
    c1.metric("准时率", ui.pct(staff["checks_on_time"].sum() / due if due else None))
    c2.metric("迟到次数", int(staff["late_count"].sum()))
    c3.metric("旷工（天）", f"{staff['absenteeism_days'].sum():g}")
    c4.metric("请假（天）", f"{staff['leave_days'].sum():g}")
tabs = st.tabs(["按人员", "按窗口", "空岗/替岗", "离岗"])
with tabs[0]:
    st.dataframe(staff, hide_index=True, width="stretch")
with tabs[1]:
    st.dataframe(pd.DataFrame(result["windows"]), hide_index=True, width="stretch")
with tabs[2]:
    st.dataframe(pd.DataFrame(result["coverage"]), hide_index=True, width="stretch") if result["coverage"] else st.caption("无")
with tabs[3]:
    st.dataframe(pd.DataFrame(result["presence"]), hide_index=True, width="stretch") if result["presence"] else st.caption("无")
