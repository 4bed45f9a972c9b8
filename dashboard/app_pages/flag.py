"""A flag opened: the audio clip around the hit, transcript with highlighted hits, rating, decision or appeal.

Every data string is shown as plain text (st.text, table cells, escaped HTML), never as Markdown.
"""

import streamlit as st

from dashboard import auth, data, labels, ui
from models.db import UserRole

actor = auth.actor()
st.title("标记详情")

raw = st.query_params.get("flag") or st.session_state.get("flag_id")
try:
    flag_id = int(raw) if raw is not None else None
except ValueError:
    flag_id = None
if flag_id is None:
    st.info("请先在队列中选择一条标记。")
    st.stop()

with ui.guarded():
    detail = data.flag_detail(actor, flag_id)
fl = detail.flag
rulebook = data.rulebook()
st.subheader(f"#{fl.id} {fl.kind_label} · {fl.status_label}")
c1, c2, c3, c4 = st.columns(4)
window_names = {w.code: w.name for w in data.window_choices(data.db_url(), actor)}
c1.metric("窗口", ui.plain(f"{fl.window} {window_names.get(fl.window, '')}".strip() if fl.window else "-"))
c2.metric("工作人员", ui.plain(f"{fl.staff_no or '-'} {fl.staff_name or ''}"))
c3.metric("规则", ui.plain(labels.rule_name(rulebook, fl.rule_id) or "-"), help=ui.plain(fl.rule_id) if fl.rule_id else None)
c4.metric("严重程度", ui.plain(labels.value("severity", fl.severity) or "-"))
if fl.summary:
    st.text(labels.summary(fl.summary, rulebook))
if fl.original_rule_id and fl.original_rule_id != fl.rule_id:
    st.caption(ui.plain(f"规则已由「{labels.rule_name(rulebook, fl.original_rule_id)}」改为「{labels.rule_name(rulebook, fl.rule_id)}」"))
if not fl.penalised:
    st.caption("此标记仅作记录，不扣工作人员分数。")

if detail.audio:
    clip = detail.audio
    st.html(ui.audio_html(clip))
    st.caption(f"录音片段：第 {clip.start_s:.1f}–{clip.end_s:.1f} 秒（命中处 {detail.audio_start_s:.1f} 秒前后），从命中处开始播放；收听已记入审计日志。")
elif detail.transcript:
    st.caption("录音：本角色不可收听（含群众个人信息），或录音文件不在档案中。")

if detail.transcript:
    st.markdown("**对话记录**")
    st.html(ui.transcript_html(detail.transcript, rulebook))  # HTML only: st.markdown would still read Markdown in the (escaped) text
for link in detail.linked:  # what the flag is recorded together with (二.7 the abuse before a retort; 八.3/八.4 both visits)
    st.text(labels.linked_evidence(link))
if detail.interaction:
    it = detail.interaction
    st.caption(f"接待 {ui.seconds(it.started_at)} – {ui.seconds(it.ended_at)}，得分 {it.score:.0f}，问候 {'✓' if it.has_greeting else '✗'}，道别 {'✓' if it.has_farewell else '✗'}")
    with st.expander("得分明细"):
        lines = ui.frame(list(it.explanation))
        lines["reason"] = lines["reason"].map(lambda text: labels.reason(text, rulebook))
        ui.table(lines, ["reason", "points", "rule_id", "severity"], key="flag_explanation", headers={"reason": "明细"})
if detail.rating:
    r = detail.rating
    st.markdown("**评价**")
    st.text(f"{r.level}（{ui.seconds(r.rated_at)}）{'｜' + r.comment if r.comment else ''}")
if detail.instead:
    st.markdown("**规范用语**")
    st.text("；".join(p.wording for p in detail.instead))
if detail.reviews:
    st.markdown("**处理记录**")
    ui.table(list(detail.reviews), ["kind", "decision", "rule_id", "comment", "ruling", "reviewer", "created_at", "decided_at", "score_adjustment"], key="flag_reviews")

if actor.role is UserRole.STAFF and st.button("标为已阅", key="flag_ack"):
    with ui.guarded():
        done = data.acknowledge_flag(actor, flag_id)
    st.success("已标为已阅。" if done else "此前已标为已阅。")
if detail.can_decide:
    st.divider()
    st.subheader("处理")
    rules = [r.id for r in rulebook.rules]
    with st.form("decide"):
        decision = st.radio("决定", ["confirm", "dismiss", "change_rule"], horizontal=True, key="decision",
                            format_func={"confirm": "确认", "dismiss": "误报排除", "change_rule": "更改规则"}.get)
        reason = st.text_input("理由（排除时必填）", key="reason")
        new_rule = st.selectbox("新规则（更改规则时）", rules, key="new_rule", placeholder=labels.PLACEHOLDER, format_func=lambda r: labels.rule_name(rulebook, r))
        submitted = st.form_submit_button("提交决定")
    if submitted:
        with ui.guarded():
            data.decide_flag(actor, flag_id, decision, reason, new_rule if decision == "change_rule" else None)
        st.success("已记录决定。")
        st.rerun()
elif detail.can_appeal:
    st.divider()
    with st.form("appeal"):
        reason = st.text_area("申诉理由", key="appeal_reason")
        submitted = st.form_submit_button("提交申诉")
    if submitted:
        with ui.guarded():
            data.file_appeal(actor, flag_id, reason)
        st.success("申诉已提交，由质检员裁定。")
        st.rerun()
