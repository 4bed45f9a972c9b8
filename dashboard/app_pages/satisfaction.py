"""Management: satisfaction (好评率 = the rulebook's good levels, 差评率) by window, department, staff and month; trends and rankings."""

import plotly.express as px
import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("满意度")
start, end = ui.date_range(actor, "sat_dates", default_days=31)
by = st.radio("按", ["window", "department", "staff"], horizontal=True, key="sat_by", format_func=labels.GROUPS.get)
with ui.guarded():
    rows = data.satisfaction(url, actor, by, start, end)
    months = data.satisfaction(url, actor, "month", None, None)
good_levels = "+".join(data.rulebook().ratings.good)
if rows:
    df = ui.frame(rows)
    total = int(df["ratings"].sum())
    c1, c2, c3 = st.columns(3)
    c1.metric("评价数", total)
    c2.metric("好评率", ui.pct(df["good"].sum() / total if total else None), help=f"好评 = {good_levels}")
    c3.metric("差评率", ui.pct(df["poor"].sum() / total if total else None))
    st.subheader("排名")
    ui.table(df, ["rank", "key", "name", "ratings", "good", "poor", "good_rate", "poor_rate"], key="sat_table", headers={**labels.GROUP_HEADERS[by], "poor": "差评数"})
    fig = px.bar(ui.long_chart_frame(df.head(30), "name", ["good_rate", "poor_rate"]), x="名称", y="数值", color="指标", barmode="group",
                 title="好评率与差评率", labels={"数值": "比率", "名称": labels.GROUPS[by]})
    st.plotly_chart(ui.percent_axis(fig), key="sat_bar")
else:
    st.info("所选时间内没有评价。")
st.subheader("评价器维度评分")
with ui.guarded():
    dims = data.dimension_scores(url, actor, "hall" if by == "staff" else by, start, end)
if dims:
    ddf = ui.frame(dims)
    fig = px.bar(ui.chart_frame(ddf), x="name", y="mean", color="dimension", barmode="group",
                 labels={"name": labels.GROUPS["hall" if by == "staff" else by], "mean": labels.header("mean"), "dimension": labels.header("dimension")})
    st.plotly_chart(fig, key="sat_dims")
    ui.table(ddf, ["key", "name", "dimension", "ratings", "mean"], key="sat_dims_table", headers=labels.GROUP_HEADERS["hall" if by == "staff" else by])
else:
    st.caption("所选时间内评价器未导出维度评分。")
if months:
    st.subheader("按月趋势（全厅）")
    fig = px.line(ui.long_chart_frame(ui.frame(months), "key", ["good_rate", "poor_rate"]), x="编号", y="数值", color="指标", markers=True,
                  labels={"编号": "月份", "数值": "比率"})
    fig.update_xaxes(type="category")  # months as they are written (a date axis reads "Mar 1, 2026")
    st.plotly_chart(ui.percent_axis(fig), key="sat_trend")
    if st.toggle("按分组显示趋势", key="sat_group_trend"):
        group = "department" if by == "staff" else by
        with ui.guarded():
            trend = data.satisfaction_trend(url, actor, group, None, None)
        if trend:
            fig = px.line(ui.chart_frame(ui.frame(trend)), x="month", y="good_rate", color="key", markers=True,
                          labels={"month": "月份", "good_rate": "好评率", "key": labels.GROUPS[group]})
            fig.update_xaxes(type="category")
            st.plotly_chart(ui.percent_axis(fig), key="sat_trend_group")
