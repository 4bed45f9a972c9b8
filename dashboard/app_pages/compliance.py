"""Management: courtesy and forbidden-phrase rates by window and staff; the rules most broken."""

import plotly.express as px
import streamlit as st

from dashboard import auth, data, ui

actor = auth.actor()
url = data.db_url()
st.title("规范用语")
start, end = ui.date_range(actor, "c_dates", default_days=31)
by = st.radio("按", ["window", "staff"], horizontal=True, key="c_by", format_func={"window": "窗口", "staff": "人员"}.get)
with ui.guarded():
    rows = data.compliance(url, actor, by, start, end)
    broken = data.rules_most_broken(url, actor, start, end)
if rows:
    df = ui.frame(rows)
    st.dataframe(df, hide_index=True, width="stretch")
    st.plotly_chart(px.bar(ui.chart_frame(df.head(40)), x="key", y=["greeting_rate", "farewell_rate", "both_rate"], barmode="group", title="问候/道别率"), key="c_bar")
    st.plotly_chart(px.bar(ui.chart_frame(df.sort_values("forbidden_per_100", ascending=False).head(40)), x="key", y="forbidden_per_100", title="服务禁语（每百次接待）"), key="c_forbidden")
else:
    st.info("所选时间内没有接待记录。")
st.subheader("最常违反的规则")
if broken:
    st.dataframe(ui.frame(broken), hide_index=True)
else:
    st.caption("暂无。")
