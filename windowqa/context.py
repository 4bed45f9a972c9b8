"""What every ``windowqa`` command shares: the settings, the store, the rulebook, engines, errors.

The typer callback in :mod:`windowqa.app` puts one :class:`CliContext` on ``ctx.obj``; each
command takes it with :func:`cli_context`, giving its ``--db`` / ``--rulebook`` options. Nothing is
built before a command asks for it, so ``windowqa models install`` never opens a database. This
module is the CLI's edge: the only place the command line builds :class:`Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional

import typer

from models.rulebook import Rulebook, RulebookError, load_rulebook
from models.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# One name for the database option in every command that opens the store.
DB_OPT = typer.Option(None, "--db", help="Database URL (default: the configured one).")
RULEBOOK_OPT = typer.Option(None, "--rulebook", help="A rulebook TOML instead of the configured one.")


def fail(message: str, code: int = 2) -> NoReturn:
    """Say what went wrong (the file or value and why) on stderr and stop with ``code``.

    Code 2 is a usage or input error, 1 a failure while doing the work.
    """
    typer.echo(f"windowqa: {message}", err=True)
    raise typer.Exit(code)


@dataclass
class CliContext:
    """Settings, session factory, rulebook and engines of one command, each built on first use.

    Attributes:
        db_url: the command's ``--db``; the configured database when None.
        rulebook_path: the command's ``--rulebook``; the configured rulebook when None.
    """

    db_url: str | None = None
    rulebook_path: Path | None = None

    @cached_property
    def settings(self) -> Settings:
        from pydantic import ValidationError

        try:
            settings = Settings()
        except ValidationError as exc:
            fail(f"settings (windowqa.toml or WINDOWQA_*): {exc}")
        return settings.model_copy(update={"database_url": self.db_url}) if self.db_url else settings

    @cached_property
    def sessions(self) -> "sessionmaker[Session]":
        """The store's session factory; the schema is created or migrated on first use."""
        from sqlalchemy.exc import ArgumentError

        from models.db import DatabaseError, open_database

        try:
            return open_database(self.settings)
        except DatabaseError as exc:
            fail(str(exc))
        except ArgumentError as exc:
            fail(f"--db / database_url: not a database URL ({exc})")
        except OSError as exc:
            fail(f"cannot create the database's folder: {exc}")

    @cached_property
    def rulebook(self) -> Rulebook:
        try:
            return load_rulebook(self.rulebook_path or self.settings.rulebook_path)
        except RulebookError as exc:
            fail(str(exc))

    @cached_property
    def matcher(self) -> Any:
        """The site's phrase matcher (retrained classifier when there is one)."""
        from windowqa.engines import site_matcher

        return site_matcher(self.settings, self.rulebook)

    def transcriber(self, *, beam_size: int | None = None, rescore: bool = True) -> Any:
        """The site's Transcriber (model folder and threads from the settings)."""
        from asr.transcriber import TranscriberError
        from windowqa.engines import site_transcriber

        try:
            return site_transcriber(self.settings, beam_size=beam_size, rescore=rescore)
        except TranscriberError as exc:
            fail(str(exc))


def cli_context(ctx: typer.Context, *, db: Optional[str] = None, rulebook: Optional[Path] = None) -> CliContext:
    """The command's :class:`CliContext` with its own ``--db`` and ``--rulebook`` applied.

    A command calls this before it uses anything of the context, so the options take effect.
    """
    cli = ctx.obj if isinstance(ctx.obj, CliContext) else CliContext()
    ctx.obj = cli
    if (db is not None or rulebook is not None) and {"settings", "rulebook"} & vars(cli).keys():
        raise RuntimeError("a command's --db / --rulebook must be applied before it uses the context")
    if db is not None:
        cli.db_url = db
    if rulebook is not None:
        cli.rulebook_path = rulebook
    return cli


__all__ = ["DB_OPT", "RULEBOOK_OPT", "CliContext", "cli_context", "fail"]
