"""Management: how compliance relates to satisfaction (ratings when greeting and farewell were said vs not)."""

import plotly.express as px
import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("规范用语与满意度")
start, end = ui.date_range(actor, "rel_dates", default_days=31)
with ui.guarded():
    result = data.compliance_vs_satisfaction(url, actor, start, end)
by_courtesy = ui.frame(result.by_courtesy)
if not by_courtesy.empty:
    fig = ui.figure(by_courtesy, "courtesy", ["good_rate", "poor_rate"], kind="bar", title="问候/道别与好评率、差评率",
                    x_title=labels.header("courtesy"), y_title="比率", percent=True)
    ui.chart(fig, key="rel_bar")
    ui.table(by_courtesy, ["courtesy", "ratings", "good_rate", "poor_rate", "mean_rank"], key="rel_table")
else:
    st.info("没有已关联到接待的评价。")
by_staff = ui.frame(result.by_staff)
if not by_staff.empty:
    fig = px.scatter(ui.chart_frame(by_staff), x="courtesy_rate", y="good_rate", size="ratings", hover_name="name", title="每位工作人员：问候+道别率与好评率",
                     labels=labels.chart_labels("courtesy_rate", "good_rate", "ratings", "name"))
    ui.chart(ui.percent_axis(ui.percent_axis(fig), "x"), key="rel_scatter")
