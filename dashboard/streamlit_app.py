"""The windowqa dashboard: ``streamlit run dashboard/streamlit_app.py`` (or ``windowqa dashboard``).

One page set per role (``st.navigation``); pages live in ``app_pages/`` and only lay out.
What a role may see is enforced in ``scoring.access`` whatever page or URL is asked for.
"""

from __future__ import annotations

import streamlit as st

from dashboard import auth, ui
from models.db import UserRole

st.set_page_config(page_title="windowqa 窗口服务质量", layout="wide")
ui.chrome()

FLAG = st.Page("app_pages/flag.py", title="标记详情", icon=":material/search:", url_path="flag")
QUEUE = st.Page("app_pages/queue.py", title="标记队列", icon=":material/flag:", url_path="queue")
APPEALS = st.Page("app_pages/appeals.py", title="申诉", icon=":material/gavel:", url_path="appeals")
MY_SCORES = st.Page("app_pages/my_scores.py", title="我的得分", icon=":material/trending_up:", url_path="my_scores")
MY_FLAGS = st.Page("app_pages/my_flags.py", title="我的问题与申诉", icon=":material/report:", url_path="my_flags")
MY_RATINGS = st.Page("app_pages/my_ratings.py", title="我的评价", icon=":material/reviews:", url_path="my_ratings")
MY_ATTENDANCE = st.Page("app_pages/my_attendance.py", title="我的考勤", icon=":material/event_available:", url_path="my_attendance")
SATISFACTION = st.Page("app_pages/satisfaction.py", title="满意度", icon=":material/star:", url_path="satisfaction")
FOLLOW_UPS = st.Page("app_pages/follow_ups.py", title="差评回访", icon=":material/phone_callback:", url_path="follow_ups")
COMPLIANCE = st.Page("app_pages/compliance.py", title="规范用语", icon=":material/record_voice_over:", url_path="compliance")
ATTENDANCE = st.Page("app_pages/attendance.py", title="考勤", icon=":material/schedule:", url_path="attendance")
RELATION = st.Page("app_pages/relation.py", title="用语与满意度", icon=":material/bar_chart:", url_path="relation")
EXPORT = st.Page("app_pages/export.py", title="月度通报导出", icon=":material/description:", url_path="export")
ACCOUNTS = st.Page("app_pages/accounts.py", title="账户", icon=":material/manage_accounts:", url_path="accounts")
SAMPLE_REVIEW = st.Page("app_pages/sample_review.py", title="抽检复核", icon=":material/fact_check:", url_path="sample_review")
MY_LEAVE = st.Page("app_pages/my_leave.py", title="我的请假", icon=":material/event_busy:", url_path="my_leave")
LEAVE_APPROVAL = st.Page("app_pages/leave_approval.py", title="请假审批", icon=":material/approval:", url_path="leave_approval")
ATTENDANCE_APPEALS = st.Page("app_pages/attendance_appeals.py", title="考勤申诉", icon=":material/balance:", url_path="attendance_appeals")
SUBSTITUTES = st.Page("app_pages/substitutes.py", title="替岗备案", icon=":material/swap_horiz:", url_path="substitutes")
TRENDS = st.Page("app_pages/trends.py", title="月度趋势", icon=":material/timeline:", url_path="trends")
WATCH_LIST = st.Page("app_pages/watch_list.py", title="约谈名单", icon=":material/priority_high:", url_path="watch_list")
PROFILE = st.Page("app_pages/profile.py", title="人员档案", icon=":material/badge:", url_path="profile")
SEARCH = st.Page("app_pages/search.py", title="转写搜索", icon=":material/manage_search:", url_path="search")
ALERTS = st.Page("app_pages/alerts.py", title="实时提醒", icon=":material/notifications_active:", url_path="alerts")
INTERACTION = st.Page("app_pages/interaction.py", title="接待详情", icon=":material/forum:", url_path="interaction")

MANAGEMENT = [SATISFACTION, FOLLOW_UPS, COMPLIANCE, ATTENDANCE, LEAVE_APPROVAL, ATTENDANCE_APPEALS, SUBSTITUTES, RELATION, EXPORT,
              TRENDS, WATCH_LIST, PROFILE]
ALL_PAGES = [QUEUE, ALERTS, FLAG, APPEALS, MY_SCORES, MY_FLAGS, MY_RATINGS, MY_ATTENDANCE, MY_LEAVE, *MANAGEMENT, ACCOUNTS, SAMPLE_REVIEW,
             SEARCH, INTERACTION]


def pages_for(role: UserRole) -> dict[str, list]:
    """The navigation of a role (what it may do is still checked by the access layer)."""
    if role is UserRole.INSPECTOR:
        return {"质检": [QUEUE, ALERTS, FLAG, APPEALS, SAMPLE_REVIEW, SEARCH, INTERACTION]}
    if role is UserRole.STAFF:
        return {"我的": [MY_SCORES, MY_FLAGS, MY_RATINGS, MY_ATTENDANCE, MY_LEAVE, PROFILE, FLAG]}
    if role is UserRole.MANAGER:
        return {"管理": MANAGEMENT, "质检": [QUEUE, ALERTS, FLAG, APPEALS, SAMPLE_REVIEW, SEARCH, INTERACTION]}
    return {"管理员": [ACCOUNTS], "管理": MANAGEMENT, "质检": [QUEUE, ALERTS, FLAG, APPEALS, SEARCH, INTERACTION]}


actor = auth.current_actor()
if actor is None:
    # Every page's address shows the login form, so that a deep link (e.g. /flag?flag=12) opens
    # that page after login instead of "page not found".
    deep_links = [st.Page(auth.login_page, title="登录", url_path=p.url_path, visibility="hidden") for p in ALL_PAGES]
    nav = st.navigation([st.Page(auth.login_page, title="登录", icon=":material/login:", url_path="login", default=True), *deep_links], position="hidden")
else:
    auth.sidebar(actor)
    nav = st.navigation(pages_for(actor.role), expanded=True)  # every page listed: no "View N more" (English) under a long list
nav.run()
