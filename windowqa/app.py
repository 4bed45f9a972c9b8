"""The ``windowqa`` command tree; command modules in ``windowqa.commands`` attach to it."""

import typer

from windowqa.context import CliContext

app = typer.Typer(help="windowqa: service-quality checks for a government service hall.", no_args_is_help=True)
rules_app = typer.Typer(help="The rulebook.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluations on manifests (formats: shared spec eval-formats.md).", no_args_is_help=True)
# attendance commands live in two modules (attendance_cmds, substitute_cmds): the group is defined here
attendance_app = typer.Typer(help="Attendance (四 考勤): face check-ins, leave, substitutes, the monthly circular.",
                             no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(eval_app, name="eval")
app.add_typer(attendance_app, name="attendance")


@app.callback()
def main(ctx: typer.Context) -> None:
    """windowqa: service-quality checks for a government service hall."""
    # built lazily: settings, store and rulebook load only when a command asks for them
    ctx.obj = CliContext()
