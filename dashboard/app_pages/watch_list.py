"""Management: the watch list (约谈): staff members and windows among the lowest 好评率 for months running."""

import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("约谈名单")
rules = data.rulebook().management
through = ui.month_picker(actor, "w_month")
st.caption(f"规则（规则手册）：某月好评率排名倒数前 {rules.watch_bottom_n} 名（当月评价不少于 {rules.watch_min_ratings} 条者参与排名），"
           f"连续 {rules.watch_months_running} 个月及以上，列入约谈名单。")
with ui.guarded():
    staff = data.watch_list(url, actor, "staff", through)
    windows = data.watch_list(url, actor, "window", through)
for title, rows, unit, key in (("人员", staff, "staff", "w_staff"), ("窗口", windows, "window", "w_windows")):
    st.subheader(title)
    if rows:
        ui.table(rows, ["key", "name", "months_running", "since", "through", "good_rate", "detail"], key=key, headers=labels.GROUP_HEADERS[unit])
    else:
        st.success(f"截至 {through} 没有需要约谈的{title}。")
