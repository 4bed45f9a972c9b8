"""Management: satisfaction, compliance, attendance and 差评 follow-ups across months, with the month-on-month change."""

from datetime import date

import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("月度趋势")
c1, c2 = st.columns([2, 1])
by = c1.radio("按", ["hall", "department", "window"], horizontal=True, key="t_by", format_func=labels.GROUPS.get)
with c2:
    through = ui.month_picker(actor, "t_month")
with ui.guarded():
    rows = data.management_trend(url, actor, by, through)
months = data.rulebook().management.trend_months
st.caption(f"最近 {months} 个月（截至 {through}）；环比 = 与上月相比的变化（百分点）。")
if not rows:
    st.info("所选时间内没有数据。")
    st.stop()
df = ui.frame(rows)
with ui.guarded():  # the dimensions of the months shown
    dims = data.dimension_scores(url, actor, "month", date.fromisoformat(df["month"].min() + "-01"), None)
now = df[df["month"] == through]
st.subheader(f"{through} 指标及环比")
if now.empty:
    st.caption("本月暂无数据。")
else:
    ui.table(now, ["key", "name", "ratings", "good_rate", "good_rate_change", "interactions", "both_rate", "both_rate_change", "forbidden_per_100",
                   "punctuality_rate", "punctuality_change", "poor", "callback_rate", "rectify_rate"], key="t_now", headers=labels.GROUP_HEADERS[by])
axis = {**labels.chart_labels("month", "name"), "name": labels.GROUPS[by]}
for field, title, key in (("good_rate", "好评率", "t_good"), ("both_rate", "问候+道别率", "t_both"),
                          ("punctuality_rate", "考勤准时率", "t_punct"), ("callback_rate", "差评回访率", "t_callback")):
    shown = df[df[field].notna()]
    if shown.empty:
        continue
    fig = ui.figure(shown, "month", [field], by="name", title=title, x_title=axis["month"], y_title=labels.header(field),
                    legend_title=axis["name"], percent=True, months=True)
    ui.chart(fig, key=key)
st.subheader("评价器维度评分（全厅，按月）")
if dims:
    ddf = ui.frame(dims)
    fig = ui.figure(ddf, "key", ["mean"], by="dimension", x_title="月份", y_title=labels.header("mean"), legend_title=labels.header("dimension"),
                    months=True)
    ui.chart(fig, key="t_dims")
else:
    st.caption("评价器未导出维度评分。")
with st.expander("各月明细"):
    ui.table(df, ["month", "key", "name", "ratings", "good_rate", "poor_rate", "interactions", "greeting_rate", "farewell_rate", "both_rate",
                  "forbidden", "forbidden_per_100", "punctuality_rate", "poor", "callback_rate", "rectify_rate"], key="t_all",
             headers=labels.GROUP_HEADERS[by])
