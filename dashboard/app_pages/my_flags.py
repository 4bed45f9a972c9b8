"""Staff: every flag that counts against me (each lost point, 差评, 工号 mismatch) with the phrase I should have used; appeal a flag."""

import streamlit as st

from dashboard import auth, data, labels, ui
from models.db import UserRole

actor = auth.actor()
url = data.db_url()
st.title("我的问题与申诉")
sid = ui.requested_staff(actor)
start, end = ui.date_range(actor, "f_dates", default_days=92)
with ui.guarded():
    rows = data.staff_flagged(url, actor, sid, start, end)
    mine = data.appeals(url, actor)
if st.session_state.pop("f_appealed", None) is not None:
    st.success("申诉已提交，由质检员裁定。")
if rows:
    new = [r.id for r in rows if r.acked_at is None and r.status != "dismissed"]
    if new:
        st.warning(f"有 {len(new)} 条新的问题标记，请阅后标为已阅。")
    ui.table(rows, ["id", "raised_at", "kind_label", "rule_id", "status_label", "summary", "text", "instead", "appeal", "acked_at"], key="f_table")
    if new and actor.role is UserRole.STAFF:
        c1, c2 = st.columns(2)
        pick_new = c1.selectbox("标为已阅的标记", new, format_func=lambda i: f"#{i}", key="ack_flag", placeholder=labels.PLACEHOLDER)
        if c1.button("标为已阅", key="ack_one"):
            with ui.guarded():
                data.acknowledge_flag(actor, pick_new)
            st.rerun()
        if c2.button(f"全部标为已阅（{len(new)} 条）", key="ack_all"):
            with ui.guarded():
                for fid in new:
                    data.acknowledge_flag(actor, fid)
            st.rerun()
    appealable = [r.id for r in rows if r.appeal is None and r.status != "dismissed"]
    if appealable:
        with st.form("appeal_form"):
            fid = st.selectbox("申诉的标记", appealable, format_func=lambda i: f"#{i}", key="ap_flag", placeholder=labels.PLACEHOLDER)
            reason = st.text_area("申诉理由", key="ap_reason")
            submitted = st.form_submit_button("提交申诉")
        if submitted:
            with ui.guarded():
                data.file_appeal(actor, fid, reason)
            st.session_state["f_appealed"] = fid  # shown after the rerun that lists the appeal
            st.rerun()
    pick = st.selectbox("查看标记详情", [r.id for r in rows], format_func=lambda i: f"#{i}", key="f_open", placeholder=labels.PLACEHOLDER)
    if st.button("打开", key="f_open_button"):
        st.session_state["flag_id"] = int(pick)
        st.switch_page("app_pages/flag.py", query_params={"flag": str(pick)})
else:
    st.success("所选时间内没有问题标记。")
if mine:
    st.subheader("我的申诉")
    ui.table(mine, ["appeal_id", "flag_id", "reason", "decision", "ruling", "decided_at"], key="f_appeals", values={"decision": labels.APPEAL_DECISION})
