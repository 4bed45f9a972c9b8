"""Live alerts on the shared :class:`models.db.Base`: one row per forbidden phrase or citizen
abuse heard on the live path (``windowqa capture --publish``).

An alert points at the flag the window-day rebuild raised (``flag.dedupe_key`` is its key, so
a redelivered task or a second rebuild never raises it twice) and copies what the dashboard's
badge and list show, so that reading them needs no join through re-scored interactions.
``webhook_state`` records the optional webhook's delivery per alert: ``none`` (no URL
configured), ``pending``, ``sent`` or ``failed`` (with the last error).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Optional

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, FlagKind, _enum


class WebhookState(str, enum.Enum):
    NONE = "none"  # no webhook configured when the alert was raised
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # every try failed; ``webhook_error`` says why


class AlertRow(Base):
    """One live alert: what was said, where, by or to whom, and when it was spoken and raised."""

    __tablename__ = "live_alert"
    __table_args__ = (Index("ix_live_alert_raised", "raised_at"), Index("ix_live_alert_staff_raised", "staff_id", "raised_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)  # the flag's
    kind: Mapped[FlagKind] = mapped_column(_enum(FlagKind, "live_alert_kind"))
    flag_id: Mapped[Optional[int]] = mapped_column(ForeignKey("flag.id", ondelete="SET NULL"))
    recording_id: Mapped[Optional[int]] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"), index=True)
    window_id: Mapped[Optional[int]] = mapped_column(ForeignKey("window.id"))
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    rule_id: Mapped[Optional[str]] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")  # the utterance as heard (redacted when read or sent)
    spoken_at: Mapped[Optional[datetime]] = mapped_column(DateTime)  # the utterance's start
    ended_at: Mapped[Optional[datetime]] = mapped_column(DateTime)  # the utterance's end: latency is measured from here
    raised_at: Mapped[datetime] = mapped_column(DateTime)  # when the worker wrote it
    webhook_state: Mapped[WebhookState] = mapped_column(_enum(WebhookState, "live_alert_webhook_state"), default=WebhookState.NONE)
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    webhook_error: Mapped[Optional[str]] = mapped_column(Text)


__all__ = ["AlertRow", "WebhookState"]
