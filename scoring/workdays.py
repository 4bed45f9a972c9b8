"""Working days for follow-up deadlines: weekends and public holidays off, 调休 make-up days on.

Uses the maintained ``chinese_calendar`` package; for years it does not cover yet, falls back
to Monday-Friday and says so in the log.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger("scoring")
_warned: set[int] = set()


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day in mainland China (holidays and 调休 included)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned:
            _warned.add(day.year)
            log.warning("chinese_calendar has no data for %d: counting Monday-Friday as working days", day.year)
        return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself does not count).

    Example:
        >>> add_working_days(date(2026, 9, 30), 5)  # National Day week is off
        datetime.date(2026, 10, 13)
    """
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day
