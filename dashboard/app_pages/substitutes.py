"""Management: file a substitute (替岗备案, 四.(三).2) now, and the hall's substitutions with their filing times."""

from datetime import datetime, time

import streamlit as st

from dashboard import auth, data, labels, ui
from models.db import UserRole

actor = auth.actor()
url = data.db_url()
st.title("替岗备案")
st.caption("备案时间为提交时刻；替岗开始后才备案的，考勤统计中记为「替岗未备案」。")
with ui.guarded():
    rows = data.substitutions(url, actor)
    windows = data.window_choices(url, actor)
    staff = data.staff_choices(url, actor)
if actor.role is UserRole.MANAGER:
    names = {s.staff_no: s.name for s in staff}
    with st.form("substitute_form"):
        c1, c2, c3 = st.columns(3)
        window = c1.selectbox("窗口", [w.code for w in windows], key="sb_window", placeholder=labels.PLACEHOLDER,
                              format_func=lambda c: next(f"{w.code} {w.name}" for w in windows if w.code == c))
        substitute = c2.selectbox("替岗人员", list(names), key="sb_staff", placeholder=labels.PLACEHOLDER,
                                  format_func=lambda no: f"{no} {names[no]}")
        replaces = c3.selectbox("被替岗人员（可不选）", [None, *names], key="sb_for",
                                format_func=lambda no: "无" if no is None else f"{no} {names[no]}")
        d1, t1, d2, t2 = st.columns(4)
        start_day = d1.date_input("开始日期", key="sb_start_day")
        start_time = t1.time_input("开始时间", time(8, 30), key="sb_start_time")
        end_day = d2.date_input("结束日期", key="sb_end_day")
        end_time = t2.time_input("结束时间", time(17, 30), key="sb_end_time")
        reason = st.text_input("事由", key="sb_reason")
        submitted = st.form_submit_button("备案")
    if submitted:
        with ui.guarded():
            data.file_substitute(actor, window=window, substitute_no=substitute, replaces_no=replaces, reason=reason,
                                 starts_at=datetime.combine(start_day, start_time), ends_at=datetime.combine(end_day, end_time))
        st.success("替岗已备案。")
        st.rerun()
if rows:
    ui.table(rows, key="sb_table", headers={"filed_at": "备案时间"})
else:
    st.info("暂无替岗记录。")
