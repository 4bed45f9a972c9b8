"""Inspectors and managers: sampled review (抽检) — assigned interactions and progress, a whole interaction reviewed, field precision/recall.

The interaction under review is shown whole (every line, audio from any line, the system's hits
by rule name, the required phrases and whether said, every lost point). The inspector marks each
hit correct or wrong and records what the system missed: the rule and the line, or a time span
when no line holds it (a phrase ASR never wrote). Recording the review (audited) is
:func:`scoring.access.record_review`; this page only lays out.
"""

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import auth, data, interaction_view, labels, ui
from models.db import UserRole
from scoring import access
from scoring.access.field import circular_rows

actor = auth.actor()
st.title("抽检复核")
with ui.guarded(), data.session() as s:
    plan_rows = access.plans(s, actor)
    drawn_periods = {(d.plan_id, d.period) for d in access.draws(s, actor)}

# A new sampling plan (audited: scoring.access.create_plan); the draw below offers it at once.
with st.expander("新建抽检方案", expanded=not plan_rows):
    with st.form("sr_plan_form", clear_on_submit=True):
        plan_name = st.text_input("方案名称", key="sr_plan_name", placeholder="如：三月常规抽检")
        unit = st.radio("抽检对象", list(labels.SAMPLE_UNIT), key="sr_plan_unit", horizontal=True,
                        format_func=lambda u: "按工作人员" if u == "staff" else "按窗口")
        period_kind = st.radio("抽检周期", ["month", "week"], key="sr_plan_period", horizontal=True,
                               format_func=lambda k: f"每{labels.PERIODS.get(k, k)}")
        per_unit = st.number_input("每对象每周期抽取（通）", min_value=1, max_value=500, value=2, step=1, key="sr_plan_per_unit")
        stratify = st.toggle("按是否被系统标记分层抽取（已标记、未标记都抽）", value=True, key="sr_plan_stratify")
        flagged_pct = st.slider("其中已标记接待的占比（%）", 0, 100, 50, step=5, key="sr_plan_flagged")
        plan_seed = st.number_input("随机种子（记入审计）", value=date.today().toordinal() % 10000, step=1, key="sr_plan_seed")
        if st.form_submit_button("建立方案"):
            spec = access.PlanSpec(name=plan_name, per_unit=int(per_unit), unit=unit, period_kind=period_kind,
                                   stratify_flagged=stratify, flagged_share=flagged_pct / 100, seed=int(plan_seed))
            try:
                with data.session() as s, s.begin():
                    made = access.create_plan(s, actor, spec)
            except (ValueError, access.AccessDenied) as exc:
                st.error(ui.plain(f"建立失败：{exc}"))
            else:
                data.invalidate()
                st.success(ui.plain(f"已建立抽检方案 #{made.id} {made.name}。"))
                with data.session() as s:
                    plan_rows = access.plans(s, actor)

# Drawing a plan's sample (seeded, audited: scoring.access.draw_sample); before the lists below, so they show the new draw.
with st.expander("抽取样本", expanded=bool(plan_rows)):
    if not plan_rows:
        st.caption("暂无抽检方案（在上方“新建抽检方案”中建立，或在命令行：`windowqa sample plan-add`）。")
    else:
        plan_id = st.selectbox("抽检方案", [p.id for p in plan_rows], key="sr_draw_plan",
                               format_func=lambda k: next(f"#{p.id} {p.name}（每{labels.SAMPLE_UNIT.get(p.unit, p.unit)}每"
                                                          f"{labels.PERIODS.get(p.period_kind, p.period_kind)} {p.per_unit} 通）"
                                                          for p in plan_rows if p.id == k))
        plan = next(p for p in plan_rows if p.id == plan_id)
        hint = "年-W周，如 2026-W10" if plan.period_kind == "week" else "年-月，如 2026-03"
        period = st.text_input(f"抽检周期（{hint}）", key=f"sr_draw_period_{plan.id}").strip()
        seed = st.number_input("随机种子（记入审计，可按同一种子复核）", value=plan.seed, step=1, key=f"sr_draw_seed_{plan.id}")
        if (plan.id, period) in drawn_periods:
            st.caption(ui.plain(f"该方案已抽取过 {period}。"))
        if st.button("抽取", key="sr_draw", disabled=not period or (plan.id, period) in drawn_periods):
            try:
                with data.session() as s, s.begin():
                    draw = access.draw_sample(s, actor, plan.id, period, seed=int(seed))
            except (ValueError, access.AccessDenied, access.NotFound) as exc:
                st.error(ui.plain(f"抽取失败：{labels.draw_error(str(exc))}"))
            else:
                data.invalidate()
                st.success(ui.plain(f"已抽取（批次 {draw.id}，种子 {draw.seed}）：{draw.population} 通接待中抽中 {draw.drawn} 通。"))

everyone = actor.role is not UserRole.INSPECTOR or st.toggle("显示全部质检员的抽检", key="sr_all")
with ui.guarded(), data.session() as s:
    progress = access.review_progress(s, actor, everyone=everyone)
    items = access.assigned_reviews(s, actor, everyone=everyone)
if not progress:
    st.info("暂无抽检任务（在上方“抽取样本”中抽取，或在命令行：`windowqa sample draw`）。")
for col, p in zip(st.columns(max(1, len(progress))), progress):
    col.metric(ui.plain(f"{p.plan_name} {p.period}"), f"{p.reviewed} / {p.total}", help="已复核 / 抽中")
if items:
    ui.table(items, ["sampled_id", "period", "started_at", "window", "staff_no", "flagged", "assigned_to", "reviewed"], key="sr_items")

rulebook = data.rulebook()
deciding = actor.role is UserRole.INSPECTOR
openable = [i for i in items if i.interaction_id is not None and (not deciding or not i.reviewed)]
if openable:
    st.subheader("复核一通接待" if deciding else "查看抽中的接待")
    pick = st.selectbox("抽中的接待", [i.sampled_id for i in openable], key="sr_item", placeholder=labels.PLACEHOLDER,
                        format_func=lambda k: next(f"#{i.sampled_id} {ui.seconds(i.started_at)} {i.window or '-'} {i.staff_no or '-'}"
                                                   + ("（已复核）" if i.reviewed else "") for i in openable if i.sampled_id == k))
    item = next(i for i in openable if i.sampled_id == pick)
    with ui.guarded():
        view = data.interaction_view(actor, item.interaction_id)
    interaction_view.header(view)
    interaction_view.findings(view, rulebook)
    interaction_view.transcript(actor, view, rulebook, key="sr")

    if deciding and not item.reviewed:
        st.subheader("漏检")
        pending_key = f"sr_misses_{pick}"
        pending: list[dict] = st.session_state.setdefault(pending_key, [])
        line_names = [f"第 {n + 1} 句 · {labels.SPEAKER.get(line.role, line.role)}：{line.text[:24]}" for n, line in enumerate(view.lines)]
        with st.form("sr_miss_form", clear_on_submit=True):
            rule = st.selectbox("漏检的规则", [r.id for r in rulebook.rules], key="sr_miss_rule", placeholder=labels.PLACEHOLDER,
                                format_func=lambda r: labels.rule_name(rulebook, r))
            kind = st.radio("漏检类型", list(labels.MISS_KIND), horizontal=True, key="sr_miss_kind", format_func=labels.MISS_KIND.get)
            where = st.radio("位置（说了但未识别时）", list(labels.MISS_WHERE), horizontal=True, key="sr_miss_where", format_func=labels.MISS_WHERE.get)
            line = st.selectbox("所在句", range(len(view.lines)), key="sr_miss_line", format_func=lambda n: line_names[n]) if view.lines else None
            c1, c2 = st.columns(2)
            start_s = c1.number_input("开始（秒，录音内）", value=float(view.start_s), step=0.5, key="sr_miss_start")
            end_s = c2.number_input("结束（秒，录音内）", value=float(view.start_s), step=0.5, key="sr_miss_end")
            note = st.text_input("说明（如实际所说）", key="sr_miss_note", max_chars=500)
            added = st.form_submit_button("添加漏检")
        if added and rule:
            spot = {"line": line} if kind == "said" and where == "line" else ({"start_s": start_s, "end_s": end_s} if kind == "said" else {})
            pending.append({"rule_id": rule, "kind": kind, "note": note, **spot})
        if pending:
            shown = pd.DataFrame([{"rule_id": m["rule_id"], "kind": labels.MISS_KIND[m["kind"]], "note": m["note"],
                                   "where": f"第 {m['line'] + 1} 句" if "line" in m else (f"{m['start_s']:.1f}–{m['end_s']:.1f} 秒" if "start_s" in m else "")}
                                  for m in pending])
            ui.table(shown, ["rule_id", "kind", "where", "note"], key="sr_pending", headers={"kind": "漏检类型"})
            if st.button("清空漏检", key="sr_miss_clear"):
                pending.clear()
                st.rerun()

        st.subheader("逐条判定系统命中")
        with st.form("sample_review"):
            marks = {h.hit_id: st.radio(f"第 {h.line + 1} 句「{labels.rule_name(rulebook, h.rule_id)}」", list(labels.MARK), horizontal=True,
                                        key=f"sr_mark_{h.hit_id}", format_func=labels.MARK.get) == "correct" for h in view.hits}
            if not view.hits:
                st.caption("系统未命中任何用语；如有漏检，请在上方添加。")
            comment = st.text_area("备注", key="sr_comment")
            submitted = st.form_submit_button("提交复核")
        if submitted:
            misses = [access.MissSpec(m["rule_id"], m["kind"], utterance_seq=view.lines[m["line"]].seq if "line" in m else None,
                                      start_s=m.get("start_s"), end_s=m.get("end_s"), note=m["note"]) for m in pending]
            with ui.guarded(), data.session() as s, s.begin():
                result = access.record_review(s, actor, pick, marks, misses, rulebook, comment=comment)
            pending.clear()
            data.invalidate()
            st.success(f"已记录：正确 {result.correct}，误报 {result.wrong}，漏检 {result.misses}，新增确认标记 {len(result.flag_ids)}。")

st.subheader("现场查准率与查全率")
month = st.text_input("月份（年-月，如 2026-03）", value=date.today().strftime("%Y-%m"), key="sr_month")
with ui.guarded(), data.session() as s:
    report = access.field_estimates(s, actor, month)
st.caption(ui.plain(f"{report.month}：已复核 {report.reviewed} / 抽中 {report.drawn}"))
if report.reviewed:
    rows = pd.DataFrame(circular_rows(report))
    if "规则" in rows.columns:  # a rule's wording, not its id
        rows["规则"] = rows["规则"].map(lambda r: labels.rule_name(rulebook, r) if r in rulebook.by_id else r)
    st.dataframe(ui.safe(rows), hide_index=True, width="stretch")
