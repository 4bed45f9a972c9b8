"""One staff member on one page: phrasing, ratings and their dimensions, attendance and presence, follow-ups, across months.

Managers pick anyone; a staff member sees their own (the access layer refuses anyone else).
"""

import pandas as pd
import streamlit as st

from dashboard import auth, data, labels, ui
from models.db import UserRole

actor = auth.actor()
url = data.db_url()
own = actor.role is UserRole.STAFF
st.title("我的档案" if own else "人员档案")
if own:
    sid = actor.staff_id
else:
    choices = {s.id: s for s in data.staff_choices(url, actor)}
    asked = ui.requested_staff(actor)
    ids = list(choices)
    sid = st.selectbox("工作人员", ids, index=ids.index(asked) if asked in ids else 0, key="p_staff", placeholder=labels.PLACEHOLDER,
                       format_func=lambda i: f"{choices[i].staff_no} {choices[i].name}") if ids else None
    if sid is None:
        st.info("没有工作人员。")
        st.stop()
through = ui.month_picker(actor, "p_month")
with ui.guarded():
    p = data.staff_profile(url, actor, sid, through)
st.subheader(ui.plain(f"{p.staff_no} {p.name}"))
st.caption(ui.plain(f"部门：{p.department or '未分部门'}；窗口：{p.windows or '无'}；最近 {len(p.months_shown)} 个月（{p.months_shown[0]} 至 {p.months_shown[-1]}）"))
if own and p.new_flags:
    st.warning(f"有 {p.new_flags} 条新的问题标记待阅。")
    st.page_link("app_pages/my_flags.py", label="查看并标为已阅", icon=":material/report:")
months = ui.frame(p.months) if p.months else pd.DataFrame()
last = months.iloc[-1] if not months.empty else None
c = st.columns(5)
c[0].metric("接待次数（本月）", int(last["interactions"]) if last is not None else 0)
c[1].metric("问候+道别率", ui.pct(last["both_rate"]) if last is not None and pd.notna(last["both_rate"]) else "-")
c[2].metric("好评率", ui.pct(last["good_rate"]) if last is not None and pd.notna(last["good_rate"]) else "-")
c[3].metric("差评回访率", ui.pct(last["callback_rate"]) if last is not None and pd.notna(last["callback_rate"]) else "-")
c[4].metric("考勤准时率", ui.pct(last["punctuality_rate"]) if last is not None and pd.notna(last["punctuality_rate"]) else "-")
tabs = st.tabs(["用语", "评价", "考勤与在岗", "差评回访", "各月明细"])


def _month_chart(fields: list[str], title: str, key: str) -> None:
    shown = months.dropna(subset=fields, how="all") if not months.empty else months
    if shown.empty:
        st.caption("暂无。")
        return
    fig = ui.figure(shown, "month", fields, title=title, x_title=labels.header("month"), y_title="比率", percent=True, months=True)
    ui.chart(fig, key=key)


with tabs[0]:
    _month_chart(["greeting_rate", "farewell_rate", "both_rate"], "问候率与道别率", "p_courtesy")
    st.markdown("**服务禁语**")
    if p.forbidden:
        ui.table(p.forbidden, ["rule_id", "times"], key="p_forbidden")
    else:
        st.caption("无。")
    st.markdown("**做得好的规范用语**")
    if p.phrases_used:
        ui.table(p.phrases_used, ["rule_id", "times"], key="p_phrases")
    else:
        st.caption("暂无。")
with tabs[1]:
    _month_chart(["good_rate", "poor_rate"], "好评率与差评率", "p_ratings")
    st.markdown("**评价器维度评分**")
    if p.dimensions:
        dims = ui.frame(p.dimensions)
        fig = ui.figure(dims, "key", ["mean"], kind="bar", by="dimension", x_title="月份", y_title=labels.header("mean"),
                        legend_title=labels.header("dimension"), months=True)
        ui.chart(fig, key="p_dims")
        ui.table(dims, ["key", "dimension", "ratings", "mean"], key="p_dims_table", headers={"key": "月份"})
    else:
        st.caption("评价器未导出维度评分。")
with tabs[2]:
    _month_chart(["punctuality_rate"], "考勤准时率", "p_punct")
    if p.attendance:
        ui.table(p.attendance, key="p_attendance")
    else:
        st.caption("暂无已统计的考勤月份。")
with tabs[3]:
    _month_chart(["callback_rate", "rectify_rate"], "差评回访率与整改率", "p_followups_chart")
    if p.follow_ups:
        ui.table(p.follow_ups, ["id", "rated_at", "level", "status", "opened_on", "due_on", "overdue"], key="p_followups", highlight="overdue")
    else:
        st.caption("没有差评回访案件。")
with tabs[4]:
    if not months.empty:
        ui.table(months, ["month", "interactions", "greeting_rate", "farewell_rate", "both_rate", "both_rate_change", "forbidden", "ratings", "good_rate",
                          "good_rate_change", "poor", "callback_rate", "rectify_rate", "punctuality_rate", "punctuality_change"], key="p_months")
    else:
        st.caption("暂无。")
