"""Staff: the ratings (好差评) of the citizens I served."""

import streamlit as st

from dashboard import auth, data, ui

actor = auth.actor()
url = data.db_url()
st.title("我的评价")
sid = ui.requested_staff(actor)
start, end = ui.date_range(actor, "r_dates", default_days=92)
with ui.guarded():
    rows = data.staff_ratings(url, actor, sid, start, end)
if rows:
    df = ui.frame(rows)
    good = set(data.rulebook().ratings.good)
    c1, c2, c3 = st.columns(3)
    c1.metric("评价数", len(df))
    c2.metric("好评率", ui.pct(df["level"].isin(good).mean()), help="好评 = " + "+".join(data.rulebook().ratings.good))
    c3.metric("差评", int(df["poor"].sum()))
    ui.table(df, key="r_table")
else:
    st.info("所选时间内没有评价。")
