"""Inspector: staff appeals (申诉) and the final ruling."""

import streamlit as st

from dashboard import auth, data, labels, ui
from models.db import UserRole

actor = auth.actor()
url = data.db_url()
st.title("申诉")
with ui.guarded():
    rows = data.appeals(url, actor)
pending = [r for r in rows if r.decision == "pending"]
st.metric("待裁定", len(pending))
if rows:
    ui.table(rows, ["appeal_id", "flag_id", "kind_label", "rule_id", "staff_no", "staff_name", "reason", "filed_at", "decision", "ruling", "ruled_by", "decided_at", "flag_status"], key="ap_table",
             values={"decision": labels.APPEAL_DECISION})
else:
    st.info("暂无申诉。")
if pending and actor.role is UserRole.INSPECTOR:
    with st.form("ruling"):
        appeal_id = st.selectbox("申诉", [r.appeal_id for r in pending],
                                 format_func=lambda i: next(f"#{r.appeal_id} 标记#{r.flag_id} {r.staff_name}：{r.reason}" for r in pending if r.appeal_id == i),
                                 key="appeal_pick", placeholder=labels.PLACEHOLDER)
        outcome = st.radio("裁定", ["uphold", "accept"], horizontal=True, key="appeal_outcome",
                           format_func={"uphold": "维持标记（驳回申诉）", "accept": "撤销标记（申诉成立）"}.get)
        ruling = st.text_area("裁定理由（最终）", key="appeal_ruling")
        submitted = st.form_submit_button("提交裁定")
    if submitted:
        with ui.guarded():
            data.rule_on_appeal(actor, appeal_id, outcome == "uphold", ruling)
        st.success("裁定已记录（最终）。")
        st.rerun()
