"""Management: punctuality, absences, leave, uncovered windows, long absences from the post."""

import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("考勤")
month = ui.month_picker(actor, "att_month")
with ui.guarded():
    view = data.attendance_month(url, actor, month)
if view is None:
    st.info(f"{month} 的考勤尚未统计（由每日考勤统计生成，或运行 windowqa attendance classify --month {month}）。")
    st.stop()
st.caption(f"统计至 {view.through}（{view.classified_at:%Y-%m-%d %H:%M:%S} 生成）")
if view.leave_decisions_since:
    st.info(f"统计之后有 {view.leave_decisions_since} 项请假审批，下次每日考勤统计时计入。")
if view.staff:
    c1, c2, c3, c4 = st.columns(4)
    due = sum(s.checks_due for s in view.staff)
    c1.metric("准时率", ui.pct(sum(s.checks_on_time for s in view.staff) / due if due else None))
    c2.metric("迟到次数", sum(s.late_count for s in view.staff))
    c3.metric("旷工（天）", f"{sum(s.absenteeism_days for s in view.staff):g}")
    c4.metric("请假（天）", f"{sum(s.leave_days for s in view.staff):g}")
tabs = st.tabs(["按人员", "按窗口", "按部门", "明细", "空岗/替岗", "离岗"])
with tabs[0]:
    ui.table(view.staff, key="att_staff", headers=labels.GROUP_HEADERS["staff"])
with tabs[1]:
    ui.table(view.windows, key="att_windows")
with tabs[2], ui.guarded():
    ui.table(data.attendance_by_department(url, actor, month), key="att_departments", headers=labels.GROUP_HEADERS["department"])
for tab, rows in zip(tabs[3:], (view.days, view.coverage, view.presence)):
    with tab:
        if rows:
            ui.table(rows)
        else:
            st.caption("无")
