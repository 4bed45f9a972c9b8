"""``windowqa attendance approver-set``: designate who decides a level of the leave approval chain.

四.(二).1 makes leave climb from the department head (本部门负责人员) to 督查考核科; the rulebook's
``[leave] approval_steps`` says which steps a leave passes. Each step is decided on the dashboard
by a manager account designated here (a department head for one department's staff).
"""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from windowqa.app import attendance_app
from windowqa.context import DB_OPT, cli_context, fail


class LevelChoice(str, Enum):
    department_head = "department_head"
    centre = "centre"
    none = "none"


@attendance_app.command("approver-set")
def approver_set(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="A manager account."),
    level: LevelChoice = typer.Option(..., "--level", help="department_head (部门负责人), centre (督查考核科), or none."),
    department: Optional[str] = typer.Option(None, "--department", help="Department code (for a department head)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Make a manager account decide one level of leave requests (or, with --level none, no longer)."""
    from models.attendance import ApprovalLevel
    from models.db import UserRole
    from scoring.access import set_leave_approver
    from scoring.accounts import Actor

    cli = cli_context(ctx, db=db_url)
    # whoever runs the CLI on the server administers it (as for ``accounts add``)
    console = Actor(0, "cli", UserRole.ADMIN)
    with cli.sessions() as session, session.begin():
        try:
            set_leave_approver(session, console, username, None if level is LevelChoice.none else ApprovalLevel(level.value), department)
        except ValueError as exc:
            fail(str(exc))
    typer.echo(f"{username}: " + ("no longer a leave approver" if level is LevelChoice.none
                                  else f"decides {level.value}" + (f" of {department}" if department else "")))
