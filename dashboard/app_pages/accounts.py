"""Admin: accounts (create, enable/disable) and the audit log."""

import streamlit as st

from dashboard import auth, data, labels, ui
from models.db import UserRole
from scoring.accounts import MIN_PASSWORD_CHARS

actor = auth.actor()
url = data.db_url()
st.title("账户")
with ui.guarded():
    rows = data.accounts(url, actor)
ui.table(rows, key="acc_table")
with st.form("new_account"):
    st.subheader("新建账户")
    c1, c2 = st.columns(2)
    username = c1.text_input("用户名", key="acc_user")
    password = c2.text_input(f"初始密码（至少 {MIN_PASSWORD_CHARS} 位，含两类字符）", type="password", key="acc_password")
    role = c1.selectbox("角色", [r.value for r in UserRole], key="acc_role", placeholder=labels.PLACEHOLDER, format_func=labels.ROLE.get)
    staff_no = c2.text_input("工号（工作人员账户）", key="acc_staff")
    submitted = st.form_submit_button("创建")
if submitted:
    with ui.guarded():
        data.create_account(actor, username, password, role, staff_no or None)
    st.success(f"已创建 {ui.plain(username)}")
    st.rerun()
if rows:
    c1, c2 = st.columns(2)
    who = c1.selectbox("账户", [r.username for r in rows], key="acc_pick", placeholder=labels.PLACEHOLDER)
    active = c2.radio("状态", ["enable", "disable"], horizontal=True, key="acc_active", format_func={"enable": "启用", "disable": "停用"}.get)
    if st.button("应用", key="acc_apply"):
        with ui.guarded():
            data.set_active(actor, who, active == "enable")
        st.rerun()
with st.expander("审计日志"):
    with ui.guarded():
        ui.table(data.audit_trail(actor), key="acc_audit")
