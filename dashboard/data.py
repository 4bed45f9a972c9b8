"""The dashboard's data: cached wrappers over :mod:`scoring.access` (pages only lay out).

Every function takes the acting user; the access layer enforces what that user may see. Reads
are cached with ``st.cache_data`` (keyed by the database URL, the actor and the arguments, for
``CACHE_TTL_S``); writes clear the cache. Settings come from ``models.settings.Settings``
(``WINDOWQA_*`` environment, ``windowqa.toml``).

Attendance is read like everything else: ``windowqa attendance classify`` (the daily run, a leave
import, the demo) stores the classified month, and :mod:`scoring.access.attendance` reads it.
"""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import labels
from models.db import UserRole, open_database
from models.rulebook import Rulebook, load_rulebook
from models.settings import Settings
from scoring import access
from scoring.access import feedback, management, profile
from scoring.accounts import Actor

CACHE_TTL_S = 300


_SETTINGS: dict[tuple, Settings] = {}


def settings() -> Settings:
    """The settings (``WINDOWQA_*`` environment, ``windowqa.toml``), read again only when either has changed.

    A page asks for them a dozen times a run (every cached read names the database URL); reading the
    environment and the file each time cost about 0.1 s a page.
    """
    try:
        stamp = Path("windowqa.toml").stat().st_mtime_ns
    except OSError:
        stamp = None
    key = (os.getcwd(), stamp, tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith("WINDOWQA_"))))
    found = _SETTINGS.get(key)
    if found is None:
        _SETTINGS.clear()
        found = _SETTINGS[key] = Settings()
    return found


def db_url() -> str:
    return settings().resolved_database_url


@st.cache_resource(show_spinner=False)
def _factory(url: str):
    return open_database(url)


def session():
    """A new ORM session on the configured database (use as a context manager)."""
    return _factory(db_url())()


@st.cache_resource(show_spinner=False)
def _rulebook(path: str | None) -> Rulebook:
    return load_rulebook(path)


def rulebook() -> Rulebook:
    path = settings().rulebook_path
    return _rulebook(str(path) if path else None)


def policy() -> access.AccessPolicy:
    roles = frozenset(UserRole(r) for r in settings().dashboard_pii_roles)
    return access.AccessPolicy(pii_roles=roles, staff_hear_own_audio=settings().dashboard_staff_hear_own_audio)


def invalidate() -> None:
    """Forget cached reads after a write (a decision, an appeal, an account change)."""
    st.cache_data.clear()


# ---------------------------------------------------------------------------- live reads (never cached: they refresh by themselves)


def alert_count(actor: Actor, since) -> int:
    with session() as s:
        return access.alert_count(s, actor, since=since)


def live_alerts(actor: Actor, since, limit: int = 50) -> list[access.AlertItem]:
    with session() as s:
        return access.live_alerts(s, actor, since=since, limit=limit, policy=policy())


# ---------------------------------------------------------------------------- cached reads


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def staff_choices(url: str, actor: Actor) -> list[access.StaffChoice]:
    with session() as s:
        return access.staff_choices(s, actor)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def window_choices(url: str, actor: Actor) -> list[access.WindowChoice]:
    with session() as s:
        return access.window_choices(s, actor)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def data_range(url: str, actor: Actor) -> tuple[date, date] | None:
    with session() as s:
        return access.data_range(s, actor)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def flag_queue(url: str, actor: Actor, f: access.FlagFilter, limit: int = 200, offset: int = 0):
    with session() as s:
        return access.flag_queue(s, actor, f, limit=limit, offset=offset, policy=policy())


PII_VIEWS_KEY = "windowqa_pii_views"


def flag_detail(actor: Actor, flag_id: int) -> access.FlagDetail:
    """One flag as ``actor`` may see it; hearing its clip or reading it unmasked is audited once per login session."""
    # not cached: it must show the latest decisions
    cfg = settings()
    seen: set = st.session_state.setdefault(PII_VIEWS_KEY, set())
    with session() as s, s.begin():
        detail = access.flag_detail(s, actor, flag_id, rulebook=rulebook(), archive_dir=cfg.resolved_archive_dir, policy=policy(),
                                    clip_margin_s=cfg.dashboard_audio_margin_s)
        key = (actor.user_id, detail.flag.id)
        recorded = key not in seen and access.record_flag_view(s, actor, detail)
    if recorded:
        seen.add(key)
    return detail


def interaction_view(actor: Actor, interaction_id: int, line: int | None = None) -> access.InteractionView:
    """One whole interaction opened at a line (not cached: it shows the latest decisions)."""
    with session() as s:
        return access.interaction_view(s, actor, interaction_id, rulebook(), line=line, policy=policy())


LINE_PLAYS_KEY = "windowqa_line_plays"


def line_clip(actor: Actor, interaction_id: int, line: int) -> access.AudioClip | None:
    """The audio of an interaction from a line, for roles that may hear it; hearing it is audited once per line and login session."""
    cfg = settings()
    seen: set = st.session_state.setdefault(LINE_PLAYS_KEY, set())
    key = (actor.user_id, int(interaction_id), int(line))
    with session() as s, s.begin():
        clip = access.line_clip(s, actor, interaction_id, line, archive_dir=cfg.resolved_archive_dir, policy=policy(),
                                margin_s=cfg.dashboard_audio_margin_s)
        recorded = clip is not None and key not in seen
        if recorded:
            access.record_line_play(s, actor, interaction_id, line, clip)
    if recorded:
        seen.add(key)
    return clip


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def appeals(url: str, actor: Actor, pending_only: bool = False):
    with session() as s:
        return access.appeals(s, actor, pending_only=pending_only, policy=policy())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def score_series(url: str, actor: Actor, staff_id: int | None, start: date | None, end: date | None, period: str = "day"):
    with session() as s:
        return access.score_series(s, actor, staff_id=staff_id, start=start, end=end, period=period)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def staff_flagged(url: str, actor: Actor, staff_id: int | None, start: date | None, end: date | None):
    with session() as s:
        return access.staff_flagged_utterances(s, actor, staff_id=staff_id, start=start, end=end, rulebook=rulebook(), policy=policy())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def courtesy_used(url: str, actor: Actor, staff_id: int | None, start: date | None, end: date | None) -> list[dict[str, Any]]:
    """The phrases used, each with the rulebook's wording (a table's rows)."""
    with session() as s:
        rows = access.courtesy_used(s, actor, staff_id=staff_id, start=start, end=end)
    rb = rulebook()
    return [
        {"rule_id": r.rule_id, "times": r.times, "wording": rb.by_id[r.rule_id].canonical if r.rule_id in rb.by_id else r.rule_id}
        for r in rows
    ]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def staff_ratings(url: str, actor: Actor, staff_id: int | None, start: date | None, end: date | None):
    with session() as s:
        return access.staff_ratings(s, actor, staff_id=staff_id, start=start, end=end, policy=policy())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def satisfaction(url: str, actor: Actor, by: str, start: date | None, end: date | None):
    with session() as s:
        return access.satisfaction(s, actor, rulebook(), by=by, start=start, end=end)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def satisfaction_trend(url: str, actor: Actor, by: str, start: date | None, end: date | None):
    with session() as s:
        return access.satisfaction_trend(s, actor, rulebook(), by=by, start=start, end=end)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def follow_up_cases(url: str, actor: Actor, today: date):
    with session() as s:
        return access.follow_up_cases(s, actor, today=today, policy=policy())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def compliance(url: str, actor: Actor, by: str, start: date | None, end: date | None):
    with session() as s:
        return access.compliance(s, actor, by=by, start=start, end=end)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def rules_most_broken(url: str, actor: Actor, start: date | None, end: date | None):
    with session() as s:
        return access.rules_most_broken(s, actor, rulebook(), start=start, end=end)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def compliance_vs_satisfaction(url: str, actor: Actor, start: date | None, end: date | None):
    with session() as s:
        return access.compliance_vs_satisfaction(s, actor, rulebook(), start=start, end=end)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def attendance_month(url: str, actor: Actor, month: str, staff_id: int | None = None) -> access.AttendanceMonthView | None:
    with session() as s:
        return access.attendance_month(s, actor, month, staff_id=staff_id)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def management_trend(url: str, actor: Actor, by: str, through: str | None = None, staff_id: int | None = None):
    with session() as s:
        return management.management_trend(s, actor, rulebook(), by=by, through=through, staff_id=staff_id)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def latest_month(url: str, actor: Actor) -> str:
    with session() as s:
        return management.latest_month(s, actor)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def follow_up_rates(url: str, actor: Actor, by: str, start: date | None, end: date | None, staff_id: int | None = None):
    with session() as s:
        return management.follow_up_rates(s, actor, rulebook(), by=by, start=start, end=end, staff_id=staff_id)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def dimension_scores(url: str, actor: Actor, by: str, start: date | None, end: date | None, staff_id: int | None = None):
    with session() as s:
        return management.dimension_scores(s, actor, by=by, start=start, end=end, staff_id=staff_id, rulebook=rulebook())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def watch_list(url: str, actor: Actor, unit: str, through: str | None = None):
    with session() as s:
        return management.watch_list(s, actor, rulebook(), unit=unit, through=through)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def attendance_by_department(url: str, actor: Actor, month: str):
    with session() as s:
        return management.attendance_by_department(s, actor, month)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def staff_profile(url: str, actor: Actor, staff_id: int | None, through: str | None = None):
    with session() as s:
        return profile.staff_profile(s, actor, rulebook(), staff_id=staff_id, through=through, policy=policy())


def unacknowledged_count(actor: Actor) -> int:
    """The staff member's new flags (not cached: an acknowledgement must show at once)."""
    with session() as s:
        return feedback.unacknowledged_count(s, actor)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def accounts(url: str, actor: Actor):
    with session() as s:
        return access.accounts(s, actor)


def audit_trail(actor: Actor, limit: int = 200):
    with session() as s:
        return access.audit_trail(s, actor, limit=limit)


# ---------------------------------------------------------------------------- writes


def decide_flag(actor: Actor, flag_id: int, decision: str, reason: str, rule_id: str | None) -> None:
    with session() as s, s.begin():
        access.decide_flag(s, actor, flag_id, decision, reason=reason, rule_id=rule_id, rulebook=rulebook())
    invalidate()


def file_appeal(actor: Actor, flag_id: int, reason: str) -> None:
    with session() as s, s.begin():
        access.file_appeal(s, actor, flag_id, reason)
    invalidate()


def rule_on_appeal(actor: Actor, appeal_id: int, uphold_flag: bool, ruling: str) -> None:
    with session() as s, s.begin():
        access.rule_on_appeal(s, actor, appeal_id, uphold_flag=uphold_flag, ruling=ruling)
    invalidate()


def acknowledge_flag(actor: Actor, flag_id: int) -> bool:
    with session() as s, s.begin():
        done = feedback.acknowledge_flag(s, actor, flag_id)
    invalidate()
    return done


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=12)
def _circular_files(url: str, role: UserRole, pol: access.AccessPolicy, month: str, _actor: Actor) -> tuple[bytes, str]:
    """The month's circular as xlsx bytes and printable HTML, built once per month and role (what a role sees
    depends on the role and the site's policy, not on the user) until the cache's time runs out or a write clears it."""
    with session() as s:
        circular = access.monthly_circular(s, _actor, month, rulebook(), policy=pol)
    buf = io.BytesIO()
    access.write_circular_xlsx(circular, buf, headers=labels.HEADERS)
    return buf.getvalue(), access.render_circular_html(circular, headers=labels.HEADERS)


def export_circular(actor: Actor, month: str) -> tuple[bytes, str]:
    """The month's circular as xlsx bytes and printable HTML, built only when asked; every export is audited."""
    pol = policy()
    files = _circular_files(db_url(), actor.role, pol, month, actor)
    with session() as s, s.begin():
        access.record_export(s, actor, "monthly_circular", month, "xlsx+html")
    return files


def create_account(actor: Actor, username: str, password: str, role: str, staff_no: str | None) -> None:
    with session() as s, s.begin():
        access.admin_create_account(s, actor, username, password, role, staff_no)
    invalidate()


def set_active(actor: Actor, username: str, active: bool) -> None:
    with session() as s, s.begin():
        access.admin_set_active(s, actor, username, active)
    invalidate()


def advance_follow_up(actor: Actor, case_id: int, step: str, note: str) -> None:
    from models.db import FollowUpStatus

    with session() as s, s.begin():
        access.advance_follow_up(s, actor, case_id, FollowUpStatus(step), note)
    invalidate()


# ---------------------------------------------------------------------------- leave, substitutes, attendance appeals


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def leave_items(url: str, actor: Actor, awaiting_me: bool = False):
    with session() as s:
        return access.leave_items(s, actor, rulebook(), awaiting_me=awaiting_me, policy=policy())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def leave_decisions(url: str, actor: Actor, leave_id: int):
    with session() as s:
        return access.leave_decisions(s, actor, rulebook(), leave_id, policy=policy())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def approver_level(url: str, actor: Actor):
    with session() as s:
        return access.approver_level(s, actor)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def leave_choices(url: str, actor: Actor) -> tuple[list[access.SubstituteCandidate], list[str]]:
    """Whom a staff member may propose as substitute, and at which of their windows."""
    with session() as s:
        return access.substitute_candidates(s, actor), access.own_windows(s, actor)


def request_leave(actor: Actor, **fields) -> None:
    with session() as s, s.begin():
        access.request_leave(s, actor, rulebook(), **fields)
    invalidate()


def request_extension(actor: Actor, leave_id: int, **fields) -> None:
    with session() as s, s.begin():
        access.request_extension(s, actor, leave_id, **fields)
    invalidate()


def decide_leave(actor: Actor, leave_id: int, extension_id: int | None, approve: bool, reason: str) -> None:
    with session() as s, s.begin():
        access.decide_leave(s, actor, rulebook(), leave_id, extension_id=extension_id, approve=approve, reason=reason)
    invalidate()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def substitutions(url: str, actor: Actor):
    with session() as s:
        return access.substitutions(s, actor, policy=policy())


def file_substitute(actor: Actor, **fields) -> None:
    with session() as s, s.begin():
        access.file_substitute_now(s, actor, **fields)
    invalidate()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def attendance_appeals(url: str, actor: Actor, pending_only: bool = False):
    with session() as s:
        return access.attendance_appeals(s, actor, pending_only=pending_only, policy=policy())


def file_attendance_appeal(actor: Actor, day: date, half, reason: str) -> None:
    with session() as s, s.begin():
        access.file_attendance_appeal(s, actor, day, half, reason)
    invalidate()


def decide_attendance_appeal(actor: Actor, appeal_id: int, grant: bool, ruling: str) -> None:
    with session() as s, s.begin():
        access.decide_attendance_appeal(s, actor, appeal_id, grant=grant, ruling=ruling)
    invalidate()
