"""Management: export the monthly circular (按月通报) as xlsx and printable HTML (audited)."""

import streamlit as st

from dashboard import auth, data, ui

actor = auth.actor()
st.title("月度通报导出")
month = ui.month_picker(actor, "x_month")
# built only on the click (a month's circular reads every figure of the month: seconds on a large hall), then kept for the role and month
if st.button("生成通报", key="x_make"):
    with ui.guarded(), st.spinner("正在生成通报……"):
        xlsx, html = data.export_circular(actor, month)
    st.session_state["circular"] = (month, xlsx, html)
    st.success(f"{month} 通报已生成（已记入审计日志）。")
made = st.session_state.get("circular")
if made and made[0] == month:
    _, xlsx, html = made
    st.download_button("下载 Excel", xlsx, file_name=f"windowqa-circular-{month}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="x_xlsx")
    st.download_button("下载可打印 HTML", html.encode("utf-8"), file_name=f"windowqa-circular-{month}.html", mime="text/html", key="x_html")
    with st.expander("预览"):
        st.html(html)
