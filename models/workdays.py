"""Working days: weekends and Chinese public holidays off, make-up days (调休) on.

The national calendar comes from the maintained ``chinese-calendar`` package (State Council
notices, updated yearly). A site file overrides single days, for a local closure or a year the
package does not know yet::

    # calendar.toml
    [[day]]
    date = "2026-06-01"
    kind = "off"          # or "work"
    note = "大厅电力检修"
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from models.attendance import DayType

logger = logging.getLogger("models.workdays")


class CalendarFileError(ValueError):
    """A site calendar file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class SiteDay:
    day: date
    working: bool
    note: str = ""


@dataclass
class WorkCalendar:
    """Decides the :class:`DayType` of a date.

    Attributes:
        overrides: site days that win over the national calendar.
        use_national: consult ``chinese_calendar``; when False (or for a year it does not
            cover) only weekends are off, with a warning logged once per year.
    """

    overrides: dict[date, SiteDay] = field(default_factory=dict)
    use_national: bool = True
    _warned_years: set[int] = field(default_factory=set, repr=False)
    _known: dict[date, DayType] = field(default_factory=dict, repr=False)  # looked up before

    @classmethod
    def from_file(cls, path: str | Path | None, *, use_national: bool = True) -> "WorkCalendar":
        """A calendar with the site file's overrides (none when ``path`` is None)."""
        if path is None:
            return cls(use_national=use_national)
        return cls(overrides=load_site_calendar(path), use_national=use_national)

    def day_type(self, day: date) -> DayType:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._day_type(day)
        return known

    def _day_type(self, day: date) -> DayType:
        site = self.overrides.get(day)
        if site is not None:
            return DayType.SITE_WORKDAY if site.working else DayType.SITE_OFF
        weekend = day.weekday() >= 5
        if self.use_national:
            try:
                import chinese_calendar
            except ImportError:  # pragma: no cover - a dependency of the project
                chinese_calendar = None
            if chinese_calendar is not None:
                try:
                    if chinese_calendar.is_workday(day):
                        return DayType.MAKEUP_WORKDAY if weekend else DayType.WORKDAY
                    return DayType.WEEKEND if weekend and not _is_named_holiday(chinese_calendar, day) else DayType.HOLIDAY
                except NotImplementedError:
                    if day.year not in self._warned_years:
                        self._warned_years.add(day.year)
                        logger.warning(
                            "chinese_calendar does not cover %d: only weekends are off; add the year's holidays "
                            "to the site calendar file or update chinese-calendar", day.year,
                        )
        return DayType.WEEKEND if weekend else DayType.WORKDAY

    def is_working(self, day: date) -> bool:
        return self.day_type(day).is_working

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself does not count).

        Example:
            >>> WorkCalendar().add_working_days(date(2026, 9, 30), 5)  # National Day week is off
            datetime.date(2026, 10, 13)
        """
        day, left = start, days
        while left > 0:
            day += timedelta(days=1)
            if self.is_working(day):
                left -= 1
        return day

    def working_days(self, first: date, last: date) -> list[date]:
        """Working days from ``first`` to ``last`` inclusive."""
        out = []
        d = first
        while d <= last:
            if self.is_working(d):
                out.append(d)
            d += timedelta(days=1)
        return out


_NATIONAL = WorkCalendar()


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day by the national calendar (holidays and 调休 included)."""
    return _NATIONAL.is_working(day)


def add_working_days(start: date, days: int) -> date:
    """``days`` working days after ``start`` by the national calendar."""
    return _NATIONAL.add_working_days(start, days)


def _is_named_holiday(chinese_calendar, day: date) -> bool:
    is_holiday, name = chinese_calendar.get_holiday_detail(day)
    return bool(is_holiday and name)


def load_site_calendar(path: str | Path) -> dict[date, SiteDay]:
    """Read a site calendar file (``[[day]]`` tables with ``date``, ``kind`` work/off, ``note``).

    Raises:
        CalendarFileError: missing file, bad TOML, or a bad entry (named by index and date).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalendarFileError(f"{path}: site calendar file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarFileError(f"{path}: not valid TOML: {exc}") from None
    days: dict[date, SiteDay] = {}
    for i, entry in enumerate(data.get("day", [])):
        raw = entry.get("date")
        try:
            day = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        except ValueError:
            raise CalendarFileError(f"{path}: day[{i}]: expected date = \"YYYY-MM-DD\", got {raw!r}") from None
        kind = entry.get("kind")
        if kind not in ("work", "off"):
            raise CalendarFileError(f"{path}: day[{i}] ({day}): kind must be \"work\" or \"off\", got {kind!r}")
        days[day] = SiteDay(day, kind == "work", str(entry.get("note", "")))
    return days
