"""Staff: my attendance this month (late, early, missing checks, absences, leave); appeal a half-day."""

import streamlit as st

from dashboard import auth, data, labels, ui
from models.attendance import HalfDay, HalfDayStatus
from models.db import UserRole
from scoring.access.attendance_appeals import APPEALABLE

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
if view.leave_decisions_since:
    st.info(f"统计之后有 {view.leave_decisions_since} 项请假审批，下次每日考勤统计时计入。")
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
with ui.guarded():
    appeals = data.attendance_appeals(url, actor)
appealed = {(a.day, a.half) for a in appeals}
contestable = [d for d in view.days if HalfDayStatus(d.status) in APPEALABLE and (d.day, d.half) not in appealed]
if contestable and actor.role is UserRole.STAFF:
    with st.form("att_appeal_form"):
        st.subheader("考勤申诉")
        pick = st.selectbox("申诉的时段", range(len(contestable)), key="att_appeal_pick", format_func=lambda i: (
            f"{contestable[i].day} {labels.ATTENDANCE[contestable[i].half]} {labels.ATTENDANCE[contestable[i].status]}"))
        reason = st.text_area("申诉理由", key="att_appeal_reason")
        submitted = st.form_submit_button("提交申诉")
    if submitted:
        with ui.guarded():
            data.file_attendance_appeal(actor, contestable[pick].day, HalfDay(contestable[pick].half), reason)
        st.success("申诉已提交，由管理人员裁定。")
        st.rerun()
if appeals:
    st.subheader("我的考勤申诉")
    ui.table(appeals, ["appeal_id", "day", "half", "classified_as", "reason", "filed_at", "status", "ruling", "ruled_by", "decided_at"],
             key="att_appeals", values={"status": labels.ATTENDANCE_APPEAL_STATUS})
