"""Staff: my attendance this month (late, early, missing checks, absences, leave)."""

import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("我的考勤")
sid = ui.requested_staff(actor)
month = ui.month_picker(actor, "a_month")
with ui.guarded():
    view = data.attendance_month(url, actor, month, sid)
if view is None:
    st.info(f"{month} 的考勤尚未统计。")
    st.stop()
st.caption(f"统计至 {view.through}")
if view.staff:
    line = view.staff[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("准时率", ui.pct(line.punctuality_rate))
    c2.metric("迟到/早退", f"{line.late_count} / {line.early_count}")
    c3.metric("缺卡", line.missing_checks)
    c4.metric("旷工/请假（天）", f"{line.absenteeism_days:g} / {line.leave_days:g}")
    ui.table(view.staff, key="ma_staff", headers=labels.GROUP_HEADERS["staff"])
else:
    st.info("本月没有考勤记录。")
if view.days:
    st.subheader("明细")
    ui.table(view.days, key="ma_days")
if view.presence:
    st.subheader("离岗记录")
    ui.table(view.presence, key="ma_presence")
