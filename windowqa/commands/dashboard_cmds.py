"""``windowqa dashboard`` and ``windowqa accounts add | list | passwd | disable | enable``.

The dashboard runs in its own ``streamlit`` process on the configured database. It reads
attendance as ``windowqa attendance classify`` stored it, like everything else.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from models.settings import Settings
from windowqa.app import app

accounts_app = typer.Typer(help="Dashboard accounts (roles: inspector, staff, manager, admin).", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")

ENTRYPOINT = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"
DB_OPT = typer.Option(None, "--db", help="Database URL (default: the configured one).")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"windowqa: {message}", err=True)
    raise typer.Exit(code)


def dashboard_env(settings: Settings, db_url: Optional[str] = None) -> dict[str, str]:
    """The environment the dashboard process runs with."""
    env = dict(os.environ)
    env["WINDOWQA_DATABASE_URL"] = db_url or settings.resolved_database_url
    env["WINDOWQA_ARCHIVE_DIR"] = str(settings.resolved_archive_dir)
    return env


def streamlit_command(port: int, address: str, headless: bool = True) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(ENTRYPOINT),
        "--server.port", str(port), "--server.address", address,
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]


@app.command("dashboard")
def dashboard(
    port: int = typer.Option(8501, help="HTTP port."),
    address: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for the hall's network)."),
    db_url: Optional[str] = DB_OPT,
    open_browser: bool = typer.Option(False, "--open", help="Open a browser window."),
) -> None:
    """Start the dashboard (Streamlit) on the configured database; create accounts first with `windowqa accounts add`."""
    from models.db import DatabaseError, open_database

    from scoring.accounts import list_accounts

    settings = Settings()
    try:
        factory = open_database(db_url or settings)  # create or migrate the schema before the app starts
    except DatabaseError as exc:
        _fail(str(exc))
    with factory() as s:
        if not list_accounts(s):
            typer.echo("no accounts yet: create one with  windowqa accounts add NAME --role admin", err=True)
    typer.echo(f"windowqa dashboard on http://{address}:{port} (database {db_url or settings.resolved_database_url})")
    command = streamlit_command(port, address, headless=not open_browser)
    env = dashboard_env(settings, db_url)
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


def _factory(db_url: Optional[str]):
    from models.db import DatabaseError, open_database

    try:
        return open_database(db_url or Settings())
    except DatabaseError as exc:
        _fail(str(exc))


def _password(given: Optional[str]) -> str:
    if given:
        return given
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            _fail("no password given (use --password or type it)")
        return line
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        _fail("the passwords differ")
    return first


@accounts_app.command("add")
def accounts_add(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(..., "--role", help="inspector, staff, manager or admin."),
    staff_no: Optional[str] = typer.Option(None, "--staff", help="The 工号 of a staff account."),
    password: Optional[str] = typer.Option(None, "--password", help="Initial password (prompted, or read from stdin, when omitted)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Create a dashboard account (the password is stored as a bcrypt hash)."""
    from scoring.accounts import AccountError, create_account

    factory = _factory(db_url)
    try:
        with factory() as s, s.begin():
            create_account(s, username, _password(password), role, staff_no=staff_no, by=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        _fail(str(exc))
    typer.echo(f"created {role} account {username}" + (f" for 工号 {staff_no}" if staff_no else ""))


@accounts_app.command("list")
def accounts_list(db_url: Optional[str] = DB_OPT) -> None:
    """List the accounts (never the password hashes)."""
    from scoring.accounts import list_accounts

    factory = _factory(db_url)
    with factory() as s:
        rows = list_accounts(s)
    if not rows:
        typer.echo("no accounts; create one with: windowqa accounts add NAME --role admin")
        return
    for a in rows:
        typer.echo(f"{a.username:20s} {a.role.value:10s} {a.staff_no or '-':8s} {'active' if a.active else 'disabled'}")


@accounts_app.command("passwd")
def accounts_passwd(
    username: str = typer.Argument(...),
    password: Optional[str] = typer.Option(None, "--password", help="New password (prompted, or read from stdin, when omitted)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Set an account's password."""
    from scoring.accounts import AccountError, set_password

    factory = _factory(db_url)
    try:
        with factory() as s, s.begin():
            set_password(s, username, _password(password), by=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        _fail(str(exc))
    typer.echo(f"password of {username} changed")


@accounts_app.command("disable")
def accounts_disable(username: str = typer.Argument(...), db_url: Optional[str] = DB_OPT) -> None:
    """Disable an account (its open dashboard sessions end at their next request)."""
    _set_active(username, False, db_url)


@accounts_app.command("enable")
def accounts_enable(username: str = typer.Argument(...), db_url: Optional[str] = DB_OPT) -> None:
    """Enable a disabled account."""
    _set_active(username, True, db_url)


def _set_active(username: str, active: bool, db_url: Optional[str]) -> None:
    from scoring.accounts import AccountError, set_active

    factory = _factory(db_url)
    try:
        with factory() as s, s.begin():
            set_active(s, username, active, by=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        _fail(str(exc))
    typer.echo(f"{username} {'enabled' if active else 'disabled'}")
