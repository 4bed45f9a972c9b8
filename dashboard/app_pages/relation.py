"""Management: how compliance relates to satisfaction (ratings when greeting and farewell were said vs not)."""

import plotly.express as px
import streamlit as st

from dashboard import auth, data, ui

actor = auth.actor()
url = data.db_url()
st.title("规范用语与满意度")
start, end = ui.date_range(actor, "rel_dates", default_days=31)
with ui.guarded():
    result = data.compliance_vs_satisfaction(url, actor, start, end)
by_courtesy = ui.frame(result.by_courtesy)
if not by_courtesy.empty:
    st.plotly_chart(px.bar(ui.chart_frame(by_courtesy), x="courtesy", y=["good_rate", "poor_rate"], barmode="group", title="问候/道别与好评率、差评率"), key="rel_bar")
    st.dataframe(by_courtesy, hide_index=True)
else:
    st.info("没有已关联到接待的评价。")
by_staff = ui.frame(result.by_staff)
if not by_staff.empty:
    st.plotly_chart(px.scatter(ui.chart_frame(by_staff), x="courtesy_rate", y="good_rate", size="ratings", hover_name="name", title="每位工作人员：问候+道别率与好评率"), key="rel_scatter")
