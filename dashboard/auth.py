"""Login, logout and session expiry for the dashboard (the checks themselves are in scoring.accounts)."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard import data, ui
from scoring.accounts import (
    ROLE_LABELS,
    Actor,
    LoginError,
    LoginSession,
    LoginThrottled,
    SessionOptions,
    ThrottleOptions,
    audit,
    authenticate,
    reload_actor,
    start_session,
)

STATE_KEY = "windowqa_login"


def session_options() -> SessionOptions:
    s = data.settings()
    return SessionOptions(idle_minutes=s.dashboard_session_minutes, max_hours=s.dashboard_session_max_hours)


def throttle_options() -> ThrottleOptions:
    """The login limits (the defaults; one place to read them from settings if a site needs others)."""
    return ThrottleOptions()


def client_address() -> str:
    """The client's address for the login throttle.

    Streamlit gives the WebSocket peer's address (None for localhost). A connection from
    localhost is a reverse proxy on this machine (or someone on it): then the proxy's last
    ``X-Forwarded-For`` entry, the address it saw, names the client.
    """
    ip = st.context.ip_address
    if isinstance(ip, str) and ip:  # (Streamlit's AppTest has no connection: not a str there)
        return ip
    forwarded = st.context.headers.get("X-Forwarded-For")
    forwarded = forwarded.split(",")[-1].strip() if isinstance(forwarded, str) else ""
    return forwarded or "local"


def current_actor(now: datetime | None = None) -> Actor | None:
    """The logged-in actor, or None (never logged in, expired, or the account was disabled)."""
    login: LoginSession | None = st.session_state.get(STATE_KEY)
    if login is None:
        return None
    if login.expired(now):
        del st.session_state[STATE_KEY]
        st.session_state["windowqa_expired"] = True
        return None
    try:
        with data.session() as s:
            actor = reload_actor(s, login.actor)
    except LoginError:
        del st.session_state[STATE_KEY]
        return None
    login.actor = actor
    login.touch(now)
    return actor


def actor() -> Actor:
    """The actor of a page (the entrypoint only runs pages after login)."""
    a = current_actor()
    if a is None:
        st.stop()
    return a


def login_page() -> None:
    st.title("windowqa 窗口服务质量")
    if st.session_state.pop("windowqa_expired", False):
        st.warning("登录已过期，请重新登录。")
    with st.form("login"):
        username = st.text_input("用户名", key="login_user")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录")
    if submitted:
        with data.session() as s:
            try:
                who = authenticate(s, username, password, address=client_address(), throttle=throttle_options())
            except LoginError as exc:
                s.commit()  # the failed attempt stays in the audit log and counts towards a lockout
                st.error(ui.plain(str(exc) if isinstance(exc, LoginThrottled) else f"登录失败：{exc}"))
                return
            s.commit()
        st.session_state[STATE_KEY] = start_session(who, session_options())
        st.rerun()


def sidebar(actor: Actor) -> None:
    with st.sidebar:
        st.markdown(f"**{ui.plain(actor.username)}** · {ROLE_LABELS[actor.role]}")
        if st.button("退出登录", key="logout"):
            with data.session() as s, s.begin():
                audit(s, actor.username, "logout", "user_account", actor.user_id)
            st.session_state.pop(STATE_KEY, None)
            st.rerun()
