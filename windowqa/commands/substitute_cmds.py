"""``windowqa attendance substitute-add``: file (备案) a substitute at a window, now.

四.(三).2: a substitute arranged by the window's unit is reported to 督查考核科 beforehand. The
filing time is the moment of the command; one filed after the substitution began is flagged
"not filed" (替岗人员未事前报督查考核科备案) in the attendance classification.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Optional

import typer

from windowqa.app import attendance_app
from windowqa.commands._shared import store_attendance_months
from windowqa.context import DB_OPT, RULEBOOK_OPT, cli_context, fail


def _time_option(name: str, value: str) -> datetime:
    from scoring.store.tabular import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        fail(f"{name}: {exc}")


def _months(first: date, last: date) -> list[str]:
    """The months from ``first`` to ``last`` as YYYY-MM."""
    months: list[str] = []
    day = first.replace(day=1)
    while day <= last:
        months.append(f"{day:%Y-%m}")
        day = (day + timedelta(days=32)).replace(day=1)
    return months


@attendance_app.command("substitute-add")
def substitute_add(
    ctx: typer.Context,
    window: str = typer.Option(..., "--window", help="Window code the substitute covers."),
    staff: str = typer.Option(..., "--staff", help="工号 of the substitute."),
    start: str = typer.Option(..., "--start", help="Start of the substitution, YYYY-MM-DDTHH:MM."),
    end: str = typer.Option(..., "--end", help="End of the substitution, YYYY-MM-DDTHH:MM."),
    replaces: Optional[str] = typer.Option(None, "--for", help="工号 of the staff member replaced."),
    reason: str = typer.Option("", "--reason", help="事由, e.g. the leave it covers."),
    rulebook: Optional[Path] = RULEBOOK_OPT,
    db_url: Optional[str] = DB_OPT,
) -> None:
    """File an approved substitute (替岗备案) now; filing it again keeps the first filing time."""
    from scoring.store.site import SiteFileError, file_substitute

    starts_at, ends_at = _time_option("--start", start), _time_option("--end", end)
    cli = cli_context(ctx, db=db_url, rulebook=rulebook)
    filed_at = datetime.now().replace(microsecond=0)
    with cli.sessions() as session, session.begin():
        try:
            row, created = file_substitute(session, window, staff, starts_at, ends_at, filed_at=filed_at,
                                           replaces_no=replaces, reason=reason)
        except SiteFileError as exc:
            fail(str(exc))
        sub_id, first_filed = row.id, row.filed_at
    late = first_filed > starts_at
    typer.echo(f"substitute {sub_id} {'filed' if created else 'updated'}: {staff} at {window} "
               f"{starts_at:%Y-%m-%d %H:%M}..{ends_at:%Y-%m-%d %H:%M}"
               + (f" for {replaces}" if replaces else "") + f", filed {first_filed:%Y-%m-%d %H:%M:%S}"
               + (" (after it began: not filed beforehand)" if late else ""))
    today = date.today()
    if starts_at.date() <= today:
        # a substitution already under way changes the stored classification of its months
        store_attendance_months(cli, cli.rulebook, _months(starts_at.date(), min(ends_at.date(), today)), today)
