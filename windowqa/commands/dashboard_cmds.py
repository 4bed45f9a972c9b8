"""``windowqa dashboard`` and ``windowqa accounts add | list | passwd | disable | enable``.

The dashboard runs in its own ``streamlit`` process on the configured database. It reads
attendance as ``windowqa attendance classify`` stored it, like everything else.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from typing import Optional

import typer

from windowqa.app import app
from windowqa.commands._shared import dashboard_env, streamlit_command
from windowqa.context import DB_OPT, cli_context, fail

accounts_app = typer.Typer(help="Dashboard accounts (roles: inspector, staff, manager, admin).", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")



@app.command("dashboard")
def dashboard(
    ctx: typer.Context,
    port: int = typer.Option(8501, help="HTTP port."),
    address: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for the hall's network)."),
    db_url: Optional[str] = DB_OPT,
    open_browser: bool = typer.Option(False, "--open", help="Open a browser window."),
) -> None:
    """Start the dashboard (Streamlit) on the configured database; create accounts first with `windowqa accounts add`."""
    from scoring.accounts import list_accounts

    cli = cli_context(ctx, db=db_url)
    settings = cli.settings
    factory = cli.sessions  # create or migrate the schema before the app starts
    with factory() as s:
        if not list_accounts(s):
            typer.echo("no accounts yet: create one with  windowqa accounts add NAME --role admin", err=True)
    typer.echo(f"windowqa dashboard on http://{address}:{port} (database {settings.resolved_database_url})")
    command = streamlit_command(port, address, headless=not open_browser)
    env = dashboard_env(settings.resolved_database_url, settings.resolved_archive_dir)
    sys.stdout.flush()
    if hasattr(os, "execve"):
        # become the Streamlit server: signals (Ctrl-C, SIGTERM from a service manager) reach it
        # directly and no orphaned server is left behind
        os.execve(command[0], command, env)
    try:  # pragma: no cover - platforms without exec
        code = subprocess.call(command, env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


def _password(given: Optional[str]) -> str:
    if given:
        return given
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            fail("no password given (use --password or type it)")
        return line
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        fail("the passwords differ")
    return first


@accounts_app.command("add")
def accounts_add(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(..., "--role", help="inspector, staff, manager or admin."),
    staff_no: Optional[str] = typer.Option(None, "--staff", help="The 工号 of a staff account."),
    password: Optional[str] = typer.Option(None, "--password", help="Initial password (prompted, or read from stdin, when omitted)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Create a dashboard account (the password is stored as a bcrypt hash)."""
    from scoring.accounts import AccountError, create_account

    factory = cli_context(ctx, db=db_url).sessions
    try:
        with factory() as s, s.begin():
            create_account(s, username, _password(password), role, staff_no=staff_no, by=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        fail(str(exc))
    typer.echo(f"created {role} account {username}" + (f" for 工号 {staff_no}" if staff_no else ""))


@accounts_app.command("list")
def accounts_list(ctx: typer.Context, db_url: Optional[str] = DB_OPT) -> None:
    """List the accounts (never the password hashes)."""
    from scoring.accounts import list_accounts

    factory = cli_context(ctx, db=db_url).sessions
    with factory() as s:
        rows = list_accounts(s)
    if not rows:
        typer.echo("no accounts; create one with: windowqa accounts add NAME --role admin")
        return
    for a in rows:
        typer.echo(f"{a.username:20s} {a.role.value:10s} {a.staff_no or '-':8s} {'active' if a.active else 'disabled'}")


@accounts_app.command("passwd")
def accounts_passwd(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    password: Optional[str] = typer.Option(None, "--password", help="New password (prompted, or read from stdin, when omitted)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Set an account's password."""
    from scoring.accounts import AccountError, set_password

    factory = cli_context(ctx, db=db_url).sessions
    try:
        with factory() as s, s.begin():
            set_password(s, username, _password(password), by=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        fail(str(exc))
    typer.echo(f"password of {username} changed")


@accounts_app.command("disable")
def accounts_disable(ctx: typer.Context, username: str = typer.Argument(...), db_url: Optional[str] = DB_OPT) -> None:
    """Disable an account (its open dashboard sessions end at their next request)."""
    _set_active(cli_context(ctx, db=db_url).sessions, username, False)


@accounts_app.command("enable")
def accounts_enable(ctx: typer.Context, username: str = typer.Argument(...), db_url: Optional[str] = DB_OPT) -> None:
    """Enable a disabled account."""
    _set_active(cli_context(ctx, db=db_url).sessions, username, True)


def _set_active(factory, username: str, active: bool) -> None:
    from scoring.accounts import AccountError, set_active

    try:
        with factory() as s, s.begin():
            set_active(s, username, active, by=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        fail(str(exc))
    typer.echo(f"{username} {'enabled' if active else 'disabled'}")
