"""An interaction's effective score: the stored score after inspectors' adjustments.

The scorer stores each interaction's score; an inspector who dismisses a penalised flag (or
rules for an appeal) gives points back through a review with ``decision = adjust``. Reports,
the dashboard's charts and the monthly export all count the effective score defined here:
the stored score plus the interaction's adjustments, never below 0 (like the score itself).
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.sql import ColumnElement, Subquery

from models.db import Interaction, Review, ReviewDecision


def score_adjustments() -> Subquery:
    """Sum of score adjustments per interaction (columns ``interaction_id``, ``adjustment``).

    Outer-join it on ``interaction_id == Interaction.id`` and pass it to :func:`effective_score`.
    """
    return (
        select(Review.interaction_id.label("interaction_id"), func.sum(Review.score_adjustment).label("adjustment"))
        .where(Review.decision == ReviewDecision.ADJUST, Review.interaction_id.is_not(None))
        .group_by(Review.interaction_id)
        .subquery()
    )


def effective_score(adjustments: Subquery) -> ColumnElement[float]:
    """SQL expression of ``max(0, Interaction.score + adjustments)`` (no adjustment counts as 0).

    Example:
        >>> from sqlalchemy import select
        >>> adj = score_adjustments()
        >>> query = select(Interaction.id, effective_score(adj)).outerjoin(adj, adj.c.interaction_id == Interaction.id)
    """
    total = Interaction.score + func.coalesce(adjustments.c.adjustment, 0.0)
    return case((total < 0, 0.0), else_=total)


__all__ = ["effective_score", "score_adjustments"]
