"""Staff feedback tables on the shared :class:`models.db.Base`: a staff member's 已阅 of a flag.

A :class:`FlagAcknowledgementRow` says that the account acknowledged (已阅) the flag at ``acked_at``;
one per flag and account (acknowledging again changes nothing). The act is also in the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base


class FlagAcknowledgementRow(Base):
    """A staff member has read (已阅) one of their flags."""

    __tablename__ = "flag_acknowledgement"
    __table_args__ = (UniqueConstraint("flag_id", "account_id", name="uq_flag_acknowledgement_flag_account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flag.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    acked_at: Mapped[datetime] = mapped_column(DateTime)


__all__ = ["FlagAcknowledgementRow"]
