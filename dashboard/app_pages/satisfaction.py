"""Management: satisfaction (好评率 = 非常满意+满意, 差评率) by window, department, staff and month; trends and rankings."""

import plotly.express as px
import streamlit as st

from dashboard import auth, data, ui

actor = auth.actor()
url = data.db_url()
st.title("满意度")
start, end = ui.date_range(actor, "sat_dates", default_days=31)
by = st.radio("按", ["window", "department", "staff"], horizontal=True, key="sat_by",
              format_func={"window": "窗口", "department": "部门", "staff": "人员"}.get)
with ui.guarded():
    rows = data.satisfaction(url, actor, by, start, end)
    months = data.satisfaction(url, actor, "month", None, None)
if rows:
    df = ui.frame(rows)
    total = int(df["ratings"].sum())
    c1, c2, c3 = st.columns(3)
    c1.metric("评价数", total)
    c2.metric("好评率", ui.pct(df["good"].sum() / total if total else None))
    c3.metric("差评率", ui.pct(df["poor"].sum() / total if total else None))
    st.subheader("排名")
    st.dataframe(df[["rank", "key", "name", "ratings", "good_rate", "poor_rate"]], hide_index=True, width="stretch")
    st.plotly_chart(px.bar(ui.chart_frame(df.head(30)), x="key", y=["good_rate", "poor_rate"], barmode="group", title="好评率与差评率"), key="sat_bar")
else:
    st.info("所选时间内没有评价。")
if months:
    st.subheader("按月趋势（全厅）")
    st.plotly_chart(px.line(ui.chart_frame(ui.frame(months)), x="key", y=["good_rate", "poor_rate"], markers=True), key="sat_trend")
    if st.toggle("按分组显示趋势", key="sat_group_trend"):
        with ui.guarded():
            trend = data.satisfaction_trend(url, actor, "department" if by == "staff" else by, None, None)
        if trend:
            st.plotly_chart(px.line(ui.chart_frame(ui.frame(trend)), x="month", y="good_rate", color="key", markers=True), key="sat_trend_group")
