"""The optional webhook of live alerts: one 企业微信/钉钉-style text message per alert.

``{"msgtype": "text", "text": {"content": ...}}`` is POSTed as JSON to the settings'
``alert_webhook_url``; the content names the kind, window, staff and time and quotes the heard
text with citizens' ID, mobile and bank card numbers masked (:func:`models.privacy.redact_pii`).
Each POST waits at most ``timeout_s`` and is tried ``retries`` times (a growing pause between
tries); a reply that is not 2xx, or a robot's ``{"errcode": n}`` with n ≠ 0, is a failure. The
outcome is recorded per alert (``live_alert.webhook_state``) and a failure is logged with the
alert's id. Delivery runs after the recording is stored and its job done, in a thread of its
own, so a slow or dead webhook never holds up or loses an ingest.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.alert_db import AlertRow
from models.db import Staff, Window
from models.privacy import redact_pii
from scoring.access.policy import FLAG_KIND_LABELS
from scoring.store.alerts import record_delivery

log = logging.getLogger("windowqa.alerts")


@dataclass(frozen=True)
class WebhookOptions:
    """Where and how patiently alerts are posted.

    Attributes:
        url: the robot's URL (企业微信 ``.../cgi-bin/webhook/send?key=...``, 钉钉 ``.../robot/send?access_token=...``).
        timeout_s: the longest one POST may take.
        retries: tries per alert before it is recorded as failed.
        pause_s: pause after the first failed try, doubled after each further one.
    """

    url: str
    timeout_s: float = 5.0
    retries: int = 3
    pause_s: float = 1.0


def alert_text(alert: AlertRow, window: str | None, staff_no: str | None, staff_name: str | None) -> str:
    """The message of one alert (Chinese; the heard text redacted)."""
    label = FLAG_KIND_LABELS.get(alert.kind, alert.kind.value)
    when = f"{alert.spoken_at:%Y-%m-%d %H:%M:%S}" if alert.spoken_at else "时间未知"
    who = f"工号 {staff_no} {staff_name or ''}".strip() if staff_no else "当班人员未知"
    rule = f"（{alert.rule_id}）" if alert.rule_id else ""
    return f"【窗口服务实时提醒】{label}{rule}\n窗口：{window or '未知'}；{who}\n时间：{when}\n原话：{redact_pii(alert.text or '').text}"


def post_json(url: str, payload: dict, timeout_s: float) -> None:
    """POST ``payload`` as JSON.

    Raises:
        OSError: no connection, a timeout, a reply that is not 2xx, or a robot's error code.
    """
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=timeout_s) as reply:  # noqa: S310 - the site's own configured URL
        text = reply.read(65536).decode("utf-8", "replace")
    try:
        answer = json.loads(text) if text.strip() else {}
    except ValueError:
        return  # a plain 2xx reply: taken as delivered
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        raise OSError(f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")


def _messages(session: Session, alert_ids: list[int]) -> list[tuple[int, str]]:
    rows = session.execute(
        select(AlertRow, Window.code, Staff.staff_no, Staff.name)
        .outerjoin(Window, Window.id == AlertRow.window_id)
        .outerjoin(Staff, Staff.id == AlertRow.staff_id)
        .where(AlertRow.id.in_(alert_ids))
        .order_by(AlertRow.id)
    ).all()
    return [(a.id, alert_text(a, code, sno, sname)) for a, code, sno, sname in rows]


def deliver(sessions: sessionmaker[Session], alert_ids: list[int], options: WebhookOptions, *,
            sleep: Callable[[float], None] = time.sleep) -> dict[int, bool]:
    """Post each alert, record each outcome; {alert id: sent}. Never raises on a failed POST."""
    with sessions() as s:
        messages = _messages(s, alert_ids)
    outcome: dict[int, bool] = {}
    for alert_id, text in messages:
        error, attempts = None, 0
        for attempts in range(1, options.retries + 1):
            try:
                post_json(options.url, {"msgtype": "text", "text": {"content": text}}, options.timeout_s)
                error = None
                break
            except (OSError, urllib.error.URLError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                if attempts < options.retries:
                    sleep(options.pause_s * 2 ** (attempts - 1))
        outcome[alert_id] = error is None
        if error is not None:
            log.warning("alert %d: webhook failed after %d tries: %s", alert_id, attempts, error)
        with sessions() as s, s.begin():
            record_delivery(s, alert_id, sent=error is None, attempts=attempts, error=error)
    return outcome


def deliver_in_background(sessions: sessionmaker[Session], alert_ids: list[int], options: WebhookOptions) -> threading.Thread:
    """:func:`deliver` in a thread of its own (the caller goes on with the next task)."""

    def run() -> None:
        try:
            deliver(sessions, alert_ids, options)
        except Exception:  # noqa: BLE001 - the database went away: the alerts stay pending, the worker goes on
            log.exception("alerts %s: webhook delivery not recorded", alert_ids)

    thread = threading.Thread(target=run, name="alert-webhook", daemon=True)
    thread.start()
    return thread


__all__ = ["WebhookOptions", "alert_text", "deliver", "deliver_in_background", "post_json"]
