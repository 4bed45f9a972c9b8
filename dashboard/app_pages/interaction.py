"""One whole interaction opened at a line (``?interaction=ID&line=N``, from transcript search): every line with audio from it.

What the actor may open is decided by the access layer (staff: only their own interactions).
"""

import streamlit as st

from dashboard import auth, data, interaction_view, labels, ui

actor = auth.actor()
st.title("接待详情")


def _int(raw):
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


interaction_id = _int(st.query_params.get("interaction")) or _int(st.session_state.get("interaction_id"))
line = _int(st.query_params.get("line"))
if interaction_id is None:
    st.info("请先在转写搜索中选择一句。")
    st.stop()
with ui.guarded():
    view = data.interaction_view(actor, interaction_id, line)
rulebook = data.rulebook()
interaction_view.header(view)
if view.highlight is not None:
    st.caption(f"已定位到第 {view.highlight + 1} 句（红色标出），录音从该句开始。")
interaction_view.findings(view, rulebook)
interaction_view.transcript(actor, view, rulebook, key="iv")
if view.flags:
    st.divider()
    pick = st.selectbox("打开本接待的标记", [f.id for f in view.flags], key="iv_flag", placeholder=labels.PLACEHOLDER,
                        format_func=lambda k: next(f"#{f.id} {f.kind_label} · {f.status_label}" + (f" · {labels.rule_name(rulebook, f.rule_id)}" if f.rule_id else "")
                                                   for f in view.flags if f.id == k))
    if st.button("打开标记", key="iv_open_flag"):
        st.session_state["flag_id"] = int(pick)
        st.switch_page("app_pages/flag.py", query_params={"flag": str(pick)})
