"""Inspectors and managers: sampled review (抽检) — assigned interactions, progress, a review form, field precision/recall."""

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import auth, data, ui
from models.db import UserRole
from scoring import access
from scoring.access.field import circular_rows

actor = auth.actor()
st.title("抽检复核")
everyone = actor.role is not UserRole.INSPECTOR or st.toggle("显示全部质检员的抽检", key="sr_all")
with ui.guarded(), data.session() as s:
    progress = access.review_progress(s, actor, everyone=everyone)
    items = access.assigned_reviews(s, actor, everyone=everyone)
if not progress:
    st.info("暂无抽检任务（由管理人员或质检员在命令行抽取：`windowqa sample draw`）。")
for col, p in zip(st.columns(max(1, len(progress))), progress):
    col.metric(ui.plain(f"{p.plan_name} {p.period}"), f"{p.reviewed} / {p.total}", help="已复核 / 抽中")
if items:
    st.dataframe(ui.frame(items), hide_index=True, width="stretch")

todo = [i for i in items if not i.reviewed and i.interaction_id is not None]
if todo and actor.role is UserRole.INSPECTOR:
    st.subheader("复核一通接待")
    pick = st.selectbox("抽中的接待", [i.sampled_id for i in todo], key="sr_item",
                        format_func=lambda k: next(f"#{i.sampled_id} {i.started_at} {i.window or '-'} {i.staff_no or '-'}" for i in todo if i.sampled_id == k))
    with ui.guarded(), data.session() as s:
        view = access.sampled_interaction(s, actor, pick, policy=data.policy())
    st.dataframe(ui.frame(view.lines), hide_index=True, width="stretch")
    rules = sorted(data.rulebook().by_id)
    with st.form("sample_review"):
        wrong = [h.hit_id for h in view.hits
                 if st.checkbox(f"误报：{h.rule_id}（第 {h.utterance_seq} 句）", key=f"sr_wrong_{h.hit_id}")]
        miss_rule = st.selectbox("漏检规则（可不填）", ["", *rules], key="sr_miss_rule")
        miss_kind = st.radio("漏检类型", ["said", "missing"], horizontal=True, key="sr_miss_kind",
                             format_func={"said": "说了但未识别", "missing": "规范用语确实未说"}.get)
        miss_line = st.selectbox("所在句", [line.seq for line in view.lines], key="sr_miss_line") if view.lines else None
        comment = st.text_area("备注", key="sr_comment")
        submitted = st.form_submit_button("提交复核")
    if submitted:
        misses = []
        if miss_rule:
            misses.append(access.MissSpec(miss_rule, miss_kind, utterance_seq=miss_line if miss_kind == "said" else None))
        with ui.guarded(), data.session() as s, s.begin():
            result = access.record_review(s, actor, pick, {h.hit_id: h.hit_id not in wrong for h in view.hits}, misses,
                                          data.rulebook(), comment=comment)
        data.invalidate()
        st.success(f"已记录：正确 {result.correct}，误报 {result.wrong}，漏检 {result.misses}，新增确认标记 {len(result.flag_ids)}。")

st.subheader("现场查准率与查全率")
month = st.text_input("月份（年-月，如 2026-03）", value=date.today().strftime("%Y-%m"), key="sr_month")
with ui.guarded(), data.session() as s:
    report = access.field_estimates(s, actor, month)
st.caption(ui.plain(f"{report.month}：已复核 {report.reviewed} / 抽中 {report.drawn}"))
if report.reviewed:
    st.dataframe(ui.safe(pd.DataFrame(circular_rows(report))), hide_index=True, width="stretch")
