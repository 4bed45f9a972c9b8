"""Department heads and 督查考核科: decide the leave and 续假 requests waiting for their step."""

import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("请假审批")
rb = data.rulebook()
with ui.guarded():
    level = data.approver_level(url, actor)
    items = data.leave_items(url, actor)
    waiting = data.leave_items(url, actor, awaiting_me=True) if level is not None else []
st.caption("逐级审批：" + " → ".join(s.label for s in rb.leave.approval_steps))
if level is None:
    st.info("您不是请假审批人（由管理员指定部门负责人或督查考核科）；以下仅供查看。")
else:
    st.metric(f"待我审批（{rb.leave.label(level)}）", len(waiting))
COLUMNS = ["leave_id", "extension_id", "staff_no", "staff_name", "department", "leave_type", "start", "start_half", "end", "end_half",
           "days", "status", "awaiting", "substitute_no", "substitute_window", "note", "source", "filed_at"]
if waiting:
    ui.table(waiting, COLUMNS, key="la_waiting")
    names = {(i.leave_id, i.extension_id): f"#{i.leave_id}{'（续假）' if i.extension_id else ''} {i.staff_name} {i.leave_type} "
                                            f"{i.start}～{i.end}" for i in waiting}
    with st.form("decide_form"):
        key = st.selectbox("申请", list(names), key="la_pick", format_func=lambda k: names.get(k, f"#{k[0]}"))
        approve = st.radio("审批", [True, False], format_func={True: "批准", False: "驳回"}.get, key="la_outcome", horizontal=True)
        reason = st.text_area("意见（驳回须说明理由）", key="la_reason")
        submitted = st.form_submit_button("提交审批")
    if submitted:
        with ui.guarded():
            data.decide_leave(actor, key[0], key[1], approve, reason)
        st.success("审批已记录。")
        st.rerun()
elif level is not None:
    st.success("没有待您审批的请假。")
st.subheader("全部请假")
if not items:
    st.info("暂无请假记录。")
    st.stop()
ui.table(items, COLUMNS, key="la_all")
pick = st.selectbox("查看审批记录", sorted({i.leave_id for i in items}, reverse=True), format_func=lambda i: f"请假 #{i}", key="la_history")
with ui.guarded():
    decisions = data.leave_decisions(url, actor, pick)
if decisions:
    ui.table(decisions, key="la_decisions", values={"decision": labels.LEAVE_DECISION}, headers={"decided_at": "审批时间"})
else:
    st.caption("尚无审批记录。")
