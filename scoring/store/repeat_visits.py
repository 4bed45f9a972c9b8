"""Repeat visits (八.3 一次性告知, 八.4 不得两头跑): the same citizen back for the same matter.

The queue system's export may carry who took a ticket; :func:`citizen_ref` turns that ID into a
salted hash at import (the ID itself is never stored). A citizen whose ticket names the same
matter again within ``[repeat_visit].working_days`` working days (``models.workdays``) was not
told everything the first time: the flag goes to the staff member who served the first visit,
with both interactions linked, and the first visit's score loses ``[repeat_visit].weight`` x the
severity's multiplier, a line of its explanation (:func:`returns_by_first_call` gives the scorer
the returns; a first visit scored before its return was known is scored again). Another matter
never counts.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from typing import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, Interaction, QueueCall, Window
from models.rulebook import Rulebook
from models.workdays import WorkCalendar
from scoring.conduct import RepeatReturn, repeat_visit_reason
from scoring.store.flags import raise_flag


def citizen_ref(raw_id: str, salt: str) -> str:
    """The stored reference of a citizen's ID: HMAC-SHA256 under the site's secret salt (hex).

    Spaces and case do not matter (an ID typed as ``37083019...x`` or ``37083019...X``).

    Example:
        >>> citizen_ref("370830 19900101 123x", "s") == citizen_ref("37083019900101123X", "s")
        True
    """
    if not salt:
        raise ValueError("no salt for the citizen reference")
    key = "".join(ch for ch in unicodedata.normalize("NFKC", raw_id) if not ch.isspace()).upper()
    return hmac.new(salt.encode("utf-8"), key.encode("utf-8"), hashlib.sha256).hexdigest()


def _matter_key(matter: str | None) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", matter or "") if not ch.isspace()).casefold()


@dataclass(frozen=True)
class RepeatVisit:
    """A return of one citizen for one matter: the earlier call and the return's call."""

    first_call_id: int
    return_call_id: int
    working_days: int


def find_repeat_visits(session: Session, rulebook: Rulebook, calendar: WorkCalendar, *,
                       since: datetime | None = None) -> list[RepeatVisit]:
    """Pairs of calls (previous visit, return) of one citizen and one matter within the window of days.

    Args:
        since: only returns called at or after this time (earlier calls still count as first visits).
    """
    limit = rulebook.repeat_visit.working_days
    rows = session.execute(
        select(QueueCall.id, QueueCall.citizen_ref, QueueCall.matter, QueueCall.called_at)
        .where(QueueCall.citizen_ref.is_not(None), QueueCall.matter.is_not(None))
        .order_by(QueueCall.citizen_ref, QueueCall.called_at, QueueCall.id)
    ).all()
    last: dict[tuple[str, str], tuple[int, datetime]] = {}
    out: list[RepeatVisit] = []
    for call_id, ref, matter, called_at in rows:
        key = (ref, _matter_key(matter))
        if not key[1]:
            continue
        previous = last.get(key)
        last[key] = (call_id, called_at)
        if previous is None or (since is not None and called_at < since):
            continue
        first_day, return_day = previous[1].date(), called_at.date()
        # working days after the first visit up to the return (0: back the same day)
        days = len(calendar.working_days(first_day, return_day)) - (1 if calendar.is_working(first_day) else 0)
        if days <= limit:
            out.append(RepeatVisit(previous[0], call_id, max(days, 0)))
    return out


def flag_repeat_visits(session: Session, rulebook: Rulebook, calendar: WorkCalendar | None = None, *,
                       since: datetime | None = None) -> int:
    """Raise (or refresh the links of) a flag per repeat visit; returns how many were new.

    Run after a queue import and again after recordings are ingested: the interactions a flag
    links (and the staff member it is against) are those served under the two tickets.
    """
    calendar = calendar or WorkCalendar()
    severity = rulebook.repeat_visit.severity.value
    new = 0
    for visit in find_repeat_visits(session, rulebook, calendar, since=since):
        first, back = session.get(QueueCall, visit.first_call_id), session.get(QueueCall, visit.return_call_id)
        key = f"repeat_visit:q{first.id}:q{back.id}"
        flag, created = raise_flag(
            session, key, FlagKind.REPEAT_VISIT, raised_at=back.called_at,
            summary=repeat_visit_reason(first.matter, visit.working_days),
            evidence={"matter": first.matter, "working_days": visit.working_days}, severity=severity, penalised=True,
            window_id=first.window_id,
        )
        session.flush()
        first_i = _interaction_of(session, first.id)
        if first_i is not None and not any(line.get("ref") == key for line in first_i.explanation or []):
            # the first visit was scored before its return was known: score it again, with the return's line
            from scoring.store.recordings import rescore_recording

            rescore_recording(session, first_i.recording, rulebook)
            first_i = _interaction_of(session, first.id)
        back_i = _interaction_of(session, back.id)
        windows = {w.id: w.code for w in session.scalars(select(Window).where(Window.id.in_([first.window_id, back.window_id])))}
        flag.evidence = {
            "matter": first.matter, "working_days": visit.working_days, "limit_working_days": rulebook.repeat_visit.working_days,
            "first": {"called_at": first.called_at.isoformat(), "window": windows.get(first.window_id), "ticket_no": first.ticket_no,
                      "queue_call_id": first.id, "interaction_id": first_i.id if first_i else None},
            "return": {"called_at": back.called_at.isoformat(), "window": windows.get(back.window_id), "ticket_no": back.ticket_no,
                       "queue_call_id": back.id, "interaction_id": back_i.id if back_i else None},
        }
        flag.staff_id = first_i.staff_id if first_i else None
        flag.interaction_id = first_i.id if first_i else None
        flag.linked_interaction_id = back_i.id if back_i else None
        new += created
    session.flush()
    return new


def returns_by_first_call(session: Session, call_ids: Sequence[int]) -> dict[int, list[RepeatReturn]]:
    """The stored repeat-visit flags whose first visit is one of ``call_ids``, as the scorer takes them."""
    ids = sorted(set(call_ids))
    if not ids:
        return {}
    out: dict[int, list[RepeatReturn]] = {}
    flags = session.execute(
        select(Flag.dedupe_key, Flag.evidence).where(Flag.kind == FlagKind.REPEAT_VISIT,
                                                      or_(*(Flag.dedupe_key.like(f"repeat_visit:q{i}:q%") for i in ids)))
        .order_by(Flag.raised_at, Flag.id)
    ).all()
    for key, evidence in flags:
        first_id = int(key.split(":")[1][1:])
        ev = evidence or {}
        out.setdefault(first_id, []).append(RepeatReturn(key, str(ev.get("matter") or ""), int(ev.get("working_days") or 0)))
    return out


def _interaction_of(session: Session, queue_call_id: int) -> Interaction | None:
    return session.scalar(select(Interaction).where(Interaction.queue_call_id == queue_call_id).order_by(Interaction.id).limit(1))
