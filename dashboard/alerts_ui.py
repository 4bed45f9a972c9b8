"""The live alerts' badge and list: Streamlit fragments that rerun by themselves every
``dashboard_alert_refresh_s`` seconds (only the fragment, not the page), reading through
:mod:`dashboard.data` (role-scoped in :mod:`scoring.access.alerts`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from dashboard import data, labels, ui


def _window() -> tuple[int, int, datetime]:
    settings = data.settings()
    hours = settings.dashboard_alert_hours
    return settings.dashboard_alert_refresh_s, hours, datetime.now() - timedelta(hours=hours)


def alert_badge(actor) -> None:
    """How many alerts the last hours hold, red when there are any; refreshes by itself."""
    seconds, _, _ = _window()

    @st.fragment(run_every=seconds)
    def badge() -> None:
        _, hours, since = _window()
        n = data.alert_count(actor, since)
        st.badge(labels.ALERTS["badge"].format(n=n, hours=hours), color="red" if n else "gray")

    badge()


def alert_list(actor, *, limit: int = 50) -> None:
    """The newest alerts (kind, rule, window, staff, what was said, when); refreshes by itself."""
    seconds, _, _ = _window()

    @st.fragment(run_every=seconds)
    def listing() -> None:
        _, hours, since = _window()
        rows = data.live_alerts(actor, since, limit)
        st.caption(labels.ALERTS["caption"].format(seconds=seconds))
        if not rows:
            st.info(labels.ALERTS["none"].format(hours=hours))
            return
        ui.table(rows, ["raised_at", "spoken_at", "kind_label", "rule_id", "window", "staff_no", "text", "flag_id"], key="alerts_table")

    listing()
