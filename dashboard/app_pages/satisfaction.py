"""Management: satisfaction (好评率 = the rulebook's good levels, 差评率) by window, department, staff and month; trends and rankings."""

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
    fig = ui.figure(df.head(30), "name", ["good_rate", "poor_rate"], kind="bar", title="好评率与差评率", x_title=labels.GROUPS[by],
                    y_title="比率", percent=True)
    ui.chart(fig, key="sat_bar")
else:
    st.info("所选时间内没有评价。")
st.subheader("评价器维度评分")
with ui.guarded():
    dims = data.dimension_scores(url, actor, "hall" if by == "staff" else by, start, end)
if dims:
    ddf = ui.frame(dims)
    fig = ui.figure(ddf, "name", ["mean"], kind="bar", by="dimension", x_title=labels.GROUPS["hall" if by == "staff" else by],
                    y_title=labels.header("mean"), legend_title=labels.header("dimension"))
    ui.chart(fig, key="sat_dims")
    ui.table(ddf, ["key", "name", "dimension", "ratings", "mean"], key="sat_dims_table", headers=labels.GROUP_HEADERS["hall" if by == "staff" else by])
else:
    st.caption("所选时间内评价器未导出维度评分。")
if months:
    st.subheader("按月趋势（全厅）")
    fig = ui.figure(ui.frame(months), "key", ["good_rate", "poor_rate"], x_title="月份", y_title="比率", percent=True, months=True)
    ui.chart(fig, key="sat_trend")
    if st.toggle("按分组显示趋势", key="sat_group_trend"):
        group = "department" if by == "staff" else by
        with ui.guarded():
            trend = data.satisfaction_trend(url, actor, group, None, None)
        if trend:
            fig = ui.figure(ui.frame(trend), "month", ["good_rate"], by="key", x_title="月份", y_title="好评率",
                            legend_title=labels.GROUPS[group], percent=True, months=True)
            ui.chart(fig, key="sat_trend_group")
