"""``windowqa match``, ``windowqa rules show``, ``windowqa eval phrases``."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from windowqa.app import app, eval_app, rules_app
from windowqa.commands._shared import print_phrase_evaluation
from windowqa.context import DB_OPT, RULEBOOK_OPT, cli_context, fail

nlp_app = typer.Typer(help="The phrase matcher's classifier.", no_args_is_help=True)
app.add_typer(nlp_app, name="nlp")


class RoleChoice(str, Enum):
    staff = "staff"
    citizen = "citizen"


@app.command()
def match(
    ctx: typer.Context,
    texts: List[str] = typer.Argument(None, help="Utterances to check."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="A UTF-8 file, one utterance per line."),
    role: RoleChoice = typer.Option(RoleChoice.staff, help="Who spoke: only staff speech produces hits."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per input line, in input order."),
    rulebook: Optional[Path] = RULEBOOK_OPT,
) -> None:
    """Find courtesy and forbidden phrases in utterances."""
    lines: list[str] = list(texts or [])
    if file is not None:
        try:
            content = file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{file}: cannot read: {exc.strerror}")
        except UnicodeDecodeError:
            fail(f"{file}: not UTF-8 text")
        lines.extend(content.splitlines())
    if not lines:
        fail("nothing to match: give TEXT arguments or --file")
    matcher = cli_context(ctx, rulebook=rulebook).matcher
    results = matcher.match_many(lines, role=role.value)
    if as_json:
        out = sys.stdout
        for text, hits in zip(lines, results):
            out.write(json.dumps({"text": text, "hits": [h.as_json() for h in hits]}, ensure_ascii=False) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("#", "text", "rule", "kind", "score", "span", "method", show_lines=False)
    for n, (text, hits) in enumerate(zip(lines, results), start=1):
        if not hits:
            table.add_row(str(n), text, "—", "", "", "", "")
        for k, h in enumerate(hits):
            marked = f"{text[:h.start]}[bold]{text[h.start:h.end]}[/bold]{text[h.end:]}"
            table.add_row(str(n) if k == 0 else "", marked if k == 0 else "", h.rule_id, h.kind, f"{h.score:.2f}", f"{h.start}-{h.end}", h.method.value)
    Console().print(table)


@rules_app.command("show")
def rules_show(
    ctx: typer.Context,
    rulebook: Optional[Path] = RULEBOOK_OPT,
    as_json: bool = typer.Option(False, "--json", help="The rules as JSON."),
) -> None:
    """The rulebook as a readable table."""
    book = cli_context(ctx, rulebook=rulebook).rulebook
    if as_json:
        typer.echo(book.model_dump_json(indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "section", "wording", "required", "severity", "weight", "variants", title=f"{book.title} ({book.version})")
    for r in book.rules:
        table.add_row(r.id, r.section, r.canonical, r.required or "", r.severity.value if r.severity else "", f"{r.weight:g}", str(len(r.variants)))
    console = Console()
    console.print(table)
    a = book.attendance
    console.print(
        f"Attendance: {a.checks_per_day} checks a day; summer {a.summer_start}–{a.summer_end} "
        f"{a.summer.morning_arrive_by:%H:%M}/{a.summer.morning_leave_from:%H:%M}/{a.summer.afternoon_arrive_by:%H:%M}/{a.summer.afternoon_leave_from:%H:%M}, "
        f"winter {a.winter.morning_arrive_by:%H:%M}/{a.winter.morning_leave_from:%H:%M}/{a.winter.afternoon_arrive_by:%H:%M}/{a.winter.afternoon_leave_from:%H:%M}"
    )
    console.print(
        f"Post: away at most {book.post.max_absence_minutes} min; all staff of a window away together: "
        f"{'forbidden' if book.post.forbid_all_staff_absent else 'allowed'}. "
        f"Poor ratings ({', '.join(book.ratings.poor)}): follow-up within {book.ratings.follow_up_working_days} working days."
    )


@eval_app.command("phrases")
def eval_phrases(
    ctx: typer.Context,
    manifest: Path = typer.Argument(..., help="TSV: text<TAB>expected (shared spec eval-formats.md)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object with precision/recall per family and errors."),
    rulebook: Optional[Path] = RULEBOOK_OPT,
) -> None:
    """Precision and recall of phrase detection on a text manifest."""
    from nlp.evaluation import ManifestError, evaluate_text_manifest

    matcher = cli_context(ctx, rulebook=rulebook).matcher
    try:
        evaluation = evaluate_text_manifest(matcher, manifest)
    except ManifestError as exc:
        fail(str(exc))
    print_phrase_evaluation(evaluation.as_json(), as_json)


@nlp_app.command("retrain")
def nlp_retrain(
    ctx: typer.Context,
    db: Optional[str] = DB_OPT,
    rulebook: Optional[Path] = RULEBOOK_OPT,
    eval_sets: List[Path] = typer.Option([], "--eval-set", help="A text manifest the candidate must not do worse on (repeatable; default: the bundled sets)."),
    check: Optional[Path] = typer.Option(None, "--check", help="One more text manifest to judge the candidate on."),
    holdout_share: float = typer.Option(0.2, "--holdout-share", min=0.0, max=0.9, help="Part of the reviews held back to judge the candidate."),
    seed: int = typer.Option(0, "--seed", help="The hold-out draw's seed."),
    force: bool = typer.Option(False, "--force", help="Save the candidate even when it is worse on a family."),
    as_json: bool = typer.Option(False, "--json", help="The comparison and verdict as JSON."),
) -> None:
    """Retrain the classifier on the shipped corpus plus the inspectors' reviews, and keep it only if it is no worse.

    Sampled reviews teach confirmed hits, false alarms and missed hits; decided flags teach
    confirmed and dismissed ones (texts redacted). A seeded part of the reviews is held back; the
    candidate and the current classifier are scored on it and on the evaluation sets, precision
    and recall per family. A candidate worse on any of them is refused (exit 1) unless --force.
    An accepted one becomes a new version, used by every later command; `windowqa nlp restore`
    brings back the previous one.
    """
    from nlp.evaluation import ManifestError
    from nlp.retrain import RetrainOptions
    from windowqa.engines import classifier_store
    from windowqa.retraining import bundled_eval_sets, format_result, retrain_from_reviews

    cli = cli_context(ctx, db=db, rulebook=rulebook)
    sets = tuple(eval_sets) or bundled_eval_sets()
    if check is not None:
        sets = (*sets, check)
    options = RetrainOptions(holdout_share=holdout_share, seed=seed, eval_sets=sets)
    try:
        result = retrain_from_reviews(cli.sessions, cli.rulebook, classifier_store(cli.settings), options,
                                      force=force, cache_dir=cli.settings.data_dir / "cache")
    except ManifestError as exc:
        fail(str(exc))
    typer.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=1) if as_json else format_result(result))
    if result.version is None:
        raise typer.Exit(1)


@nlp_app.command("restore")
def nlp_restore(
    ctx: typer.Context,
    version: Optional[str] = typer.Argument(None, help="The version to bring back (default: the one before the current; 'shipped': the shipped corpus's)."),
) -> None:
    """Make an earlier classifier version current again (nothing is deleted; a restore can be undone)."""
    from nlp.model_store import ModelStoreError
    from windowqa.engines import classifier_store

    store = classifier_store(cli_context(ctx).settings)
    current = store.current_version()
    try:
        restored = store.restore(version)
    except ModelStoreError as exc:
        fail(str(exc))
    typer.echo(f"restored classifier {restored} (was {current})")


@nlp_app.command("versions")
def nlp_versions(ctx: typer.Context) -> None:
    """The saved classifier versions, the current one marked."""
    from windowqa.engines import classifier_store

    store = classifier_store(cli_context(ctx).settings)
    typer.echo(f"current: {store.current_version()}")
    for v in store.versions():
        typer.echo(f"{'*' if v.current else ' '} {v.version}  trained {v.trained_at}  lines {v.metadata.get('training_lines')}"
                   f"  reviewed {v.metadata.get('reviewed_lines')}{'  FORCED' if v.metadata.get('forced') else ''}")
