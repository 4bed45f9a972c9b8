"""Management: 差评 follow-up cases (回访, 整改) by state and deadline."""

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import auth, data, ui

actor = auth.actor()
url = data.db_url()
st.title("差评回访")
with ui.guarded():
    counts, rows = data.follow_up_cases(url, actor, date.today())
cols = st.columns(max(1, len(counts)))
for col, (label, n) in zip(cols, counts.items()):
    col.metric(label, n)
if rows:
    df = pd.DataFrame(rows)
    st.dataframe(df.style.apply(lambda r: ["background-color:#fde2e2" if r["overdue"] else "" for _ in r], axis=1), hide_index=True, width="stretch")
else:
    st.success("没有未办结的回访。")
