"""Layout of one whole interaction (接待详情 and 抽检复核): the lines with audio from any line, hits, required phrases, lost points.

Only lays out what :func:`scoring.access.interaction_view` returns; the audio comes from
:func:`dashboard.data.line_clip` (cut on the server, inline, audited). Data strings are plain
text (escaped HTML, table cells).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, labels, ui
from scoring.access import InteractionView


def _select(state_key: str, line: int) -> None:
    st.session_state[state_key] = line


def header(view: InteractionView) -> None:
    """Window, staff, time and the score (stored, and after inspectors' adjustments)."""
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("窗口", ui.plain(view.window or "-"))
    c2.metric("工作人员", ui.plain(f"{view.staff_no or '-'} {view.staff_name or ''}".strip()))
    c3.metric("接待时间", ui.seconds(view.started_at) or "-")
    c4.metric("得分（复核后）", f"{view.effective_score:.0f}", help=f"评分 {view.score:.0f}，加上质检员的分数调整")


def findings(view: InteractionView, rulebook) -> None:
    """The system's hits (rule names, not ids), the required phrases and whether said, every lost point."""
    st.markdown("**系统命中**")
    if view.hits:
        hits = pd.DataFrame([{"line": h.line + 1, "rule_id": h.rule_id, "family": h.family, "flag_id": f"#{h.flag_id}" if h.flag_id else "",
                              "flag_status": h.flag_status or ""} for h in view.hits])
        ui.table(hits, ["line", "rule_id", "family", "flag_id", "flag_status"], key="iv_hits")
    else:
        st.caption("系统未命中任何用语。")
    st.markdown("**规范用语（必说）**")
    said = {True: "已说", False: "未说", None: "无需（无群众办事）"}
    st.text("；".join(f"{labels.rule_name(rulebook, r.rule_id)}：{said[r.said]}" + (f"（第 {r.line + 1} 句）" if r.line is not None else "")
                     for r in view.required) or "-")
    if view.lost:
        st.markdown("**扣分**")
        lost = pd.DataFrame([{"points": -x.points, "reason": labels.reason(x.reason, rulebook), "line": "" if x.line is None else str(x.line + 1),
                              "flag_id": f"#{x.flag_id}" if x.flag_id else ""} for x in view.lost])
        ui.table(lost, ["points", "reason", "line", "flag_id"], key="iv_lost", headers={"reason": "明细"})


def transcript(actor, view: InteractionView, rulebook, *, key: str) -> None:
    """Every line; ▶ plays the interaction from that line (the line it was opened at is highlighted and ready to play)."""
    state_key = f"{key}_play_{view.interaction_id}"
    if state_key not in st.session_state and view.highlight is not None:
        st.session_state[state_key] = view.highlight
    playing = st.session_state.get(state_key) if view.can_hear else None
    st.markdown("**对话记录**")
    if not view.can_hear:
        st.caption("录音：本角色不可收听（含群众个人信息）。")
    for i, line in enumerate(view.lines):
        if view.can_hear:
            play, text = st.columns([1, 24], vertical_alignment="center")
            play.button("▶", key=f"{key}_line_{view.interaction_id}_{i}", help=f"从第 {i + 1} 句播放", on_click=_select, args=(state_key, i))
            text.html(ui.line_html(line, rulebook, i + 1))
        else:
            st.html(ui.line_html(line, rulebook, i + 1))
        if playing == i:
            clip = data.line_clip(actor, view.interaction_id, i)
            if clip is None:
                st.caption("录音文件不在档案中。")
            else:
                st.html(ui.audio_html(clip))
                st.caption(f"从第 {i + 1} 句（{line.start_s:.1f} 秒）播放到接待结束；收听已记入审计日志。")
