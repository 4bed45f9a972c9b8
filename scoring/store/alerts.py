"""Live alerts (:class:`models.alert_db.AlertRow`): raised from a recording's flags after its
window-day rebuild, and the webhook's delivery recorded per alert.

Idempotent: an alert's key is its flag's ``dedupe_key`` (a forbidden phrase by utterance and
rule, citizen abuse by utterance), so a second delivery of the task or a second rebuild of the
window-day raises nothing twice. Only forbidden phrases and citizen abuse become alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.alert_db import AlertRow, WebhookState
from models.db import Flag, FlagKind, Utterance

ALERT_KINDS = (FlagKind.FORBIDDEN, FlagKind.CITIZEN_ABUSE)


def raise_alerts(session: Session, recording_id: int, *, now: datetime, webhook: bool) -> list[int]:
    """An alert for each forbidden-phrase or citizen-abuse flag of the recording that has none.

    Args:
        now: the time the alert is raised (local, naive).
        webhook: a webhook is configured: the new alerts are ``pending`` delivery.

    Returns:
        The ids of the alerts raised now (none for a second call).
    """
    flags = session.execute(
        select(Flag, Utterance)
        .join(Utterance, Utterance.id == Flag.utterance_id, isouter=True)
        .where(Flag.recording_id == recording_id, Flag.kind.in_(ALERT_KINDS))
        .order_by(Flag.raised_at, Flag.id)
    ).all()
    keys = [flag.dedupe_key for flag, _ in flags]
    existing = set(session.scalars(select(AlertRow.dedupe_key).where(AlertRow.dedupe_key.in_(keys)))) if keys else set()
    new: list[AlertRow] = []
    for flag, utterance in flags:
        if flag.dedupe_key in existing:
            continue
        spoken_at = utterance.started_at if utterance is not None else flag.raised_at
        ended_at = spoken_at + timedelta(seconds=utterance.end_s - utterance.start_s) if utterance and spoken_at else None
        alert = AlertRow(
            dedupe_key=flag.dedupe_key, kind=flag.kind, flag_id=flag.id, recording_id=recording_id,
            window_id=flag.window_id, staff_id=flag.staff_id, rule_id=(flag.evidence or {}).get("rule_id"),
            text=utterance.text if utterance is not None else flag.summary, spoken_at=spoken_at, ended_at=ended_at,
            raised_at=now, webhook_state=WebhookState.PENDING if webhook else WebhookState.NONE, webhook_attempts=0,
        )
        session.add(alert)
        new.append(alert)
    session.flush()
    return [a.id for a in new]


def record_delivery(session: Session, alert_id: int, *, sent: bool, attempts: int, error: str | None = None) -> None:
    """The webhook's outcome for one alert: sent, or failed with the last error."""
    alert = session.get(AlertRow, alert_id)
    if alert is None:
        return  # its recording was deleted meanwhile
    alert.webhook_state = WebhookState.SENT if sent else WebhookState.FAILED
    alert.webhook_attempts = attempts
    alert.webhook_error = None if sent else (error or "")[:2000]


__all__ = ["ALERT_KINDS", "raise_alerts", "record_delivery"]
