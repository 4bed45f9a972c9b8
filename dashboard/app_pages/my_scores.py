"""Staff: my scores over time and the courtesy phrases I use well."""

import pandas as pd
import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("我的得分")
new_flags = data.unacknowledged_count(actor)
if new_flags:
    st.warning(f"有 {new_flags} 条新的问题标记待阅。")
    st.page_link("app_pages/my_flags.py", label="查看我的问题并标为已阅", icon=":material/report:")
sid = ui.requested_staff(actor)
start, end = ui.date_range(actor, "s_dates", default_days=92)
period = st.radio("按", ["day", "month"], horizontal=True, format_func=labels.PERIODS.get, key="s_period")
with ui.guarded():
    series = data.score_series(url, actor, sid, start, end, period)
    phrases = data.courtesy_used(url, actor, sid, start, end)
if series:
    df = ui.frame(series)
    c1, c2, c3 = st.columns(3)
    n = int(df["interactions"].sum())
    c1.metric("接待次数", n)
    c2.metric("平均得分", f"{(df['avg_score'] * df['interactions']).sum() / n:.1f}")
    c3.metric("问候+道别", f"{ui.pct((df['greeting_rate'] * df['interactions']).sum() / n)} / {ui.pct((df['farewell_rate'] * df['interactions']).sum() / n)}")
    fig = ui.figure(df, "period", ["avg_score"], title="平均得分", x_title=labels.header("period"), y_title=labels.header("avg_score"))
    fig.update_xaxes(type="category")  # days and months as written (a date axis reads "Mar 1, 2026")
    ui.chart(fig, key="s_chart")
    ui.table(df, key="s_table")
else:
    st.info("所选时间内没有接待记录。")
st.subheader("做得好的规范用语")
if phrases:
    ui.table(pd.DataFrame(phrases), ["rule_id", "times"], key="s_phrases")
else:
    st.caption("暂无。")
