"""Management: courtesy and forbidden-phrase rates by window and staff; the rules most broken."""

import streamlit as st

from dashboard import auth, data, labels, ui

actor = auth.actor()
url = data.db_url()
st.title("规范用语")
start, end = ui.date_range(actor, "c_dates", default_days=31)
by = st.radio("按", ["window", "department", "staff"], horizontal=True, key="c_by", format_func=labels.GROUPS.get)
with ui.guarded():
    rows = data.compliance(url, actor, by, start, end)
    broken = data.rules_most_broken(url, actor, start, end)
if rows:
    df = ui.frame(rows)
    ui.table(df, key="c_table", headers=labels.GROUP_HEADERS[by])
    rates = ["greeting_rate", "farewell_rate", "both_rate"]
    ui.chart(ui.figure(df.head(40), "name", rates, kind="bar", title="问候/道别率", x_title=labels.GROUPS[by], y_title="比率", percent=True),
             key="c_bar")
    worst = df.sort_values("forbidden_per_100", ascending=False).head(40)
    ui.chart(ui.figure(worst, "name", ["forbidden_per_100"], kind="bar", title="服务禁语（每百次接待）", x_title=labels.GROUPS[by],
                       y_title="每百次接待"), key="c_forbidden")
else:
    st.info("所选时间内没有接待记录。")
st.subheader("最常违反的规则")
if broken:
    ui.table(broken, ["rule_id", "times"], key="c_broken")
else:
    st.caption("暂无。")
