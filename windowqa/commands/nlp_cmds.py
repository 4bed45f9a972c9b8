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
    check: Optional[Path] = typer.Option(None, "--check", help="A text manifest to evaluate the new classifier on before it is saved."),
) -> None:
    """Retrain the classifier on the shipped corpus plus the inspectors' reviewed flags.

    Confirmed flags teach the rule, dismissed ones teach "none", changed ones the new rule.
    The result goes to the data directory and is used by every later command.
    """
    from datetime import datetime, timezone

    from models.db import UserRole
    from nlp import build_matcher
    from nlp.classifier import LabelledLine, PhraseClassifier, save_classifier, training_data
    from nlp.evaluation import ManifestError, evaluate_text_manifest
    from scoring.access import labelled_examples
    from scoring.accounts import Actor
    from windowqa.engines import retrained_classifier_path

    cli = cli_context(ctx, db=db, rulebook=rulebook)
    book = cli.rulebook
    with cli.sessions() as session:
        # the CLI acts as the system's admin (no account row: this read writes nothing)
        system = Actor(user_id=0, username="cli", role=UserRole.ADMIN)
        reviewed = [LabelledLine(text, label) for text, label in labelled_examples(session, system)]
    known = {r.id for r in book.rules} | {"none"}
    unknown = sorted({line.label for line in reviewed} - known)
    if unknown:
        typer.echo(f"windowqa: ignoring reviewed lines labelled with rules this rulebook lacks: {', '.join(unknown)}", err=True)
        reviewed = [line for line in reviewed if line.label in known]
    matcher = build_matcher(book, with_classifier=False)
    texts, labels = training_data(book, matcher.normalizer, reviewed)
    classifier = PhraseClassifier().fit(texts, labels)
    if check is not None:
        matcher.classifier = classifier
        try:
            result = evaluate_text_manifest(matcher, check).as_json()
        except ManifestError as exc:
            fail(str(exc))
        for family in ("forbidden", "courtesy"):
            f = result[family]
            typer.echo(f"check {family:10s} precision {f['precision']:.3f}  recall {f['recall']:.3f}")
    path = retrained_classifier_path(cli.settings)
    save_classifier(
        classifier,
        path,
        {
            "rulebook_version": book.version,
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "training_lines": len(texts),
            "reviewed_lines": len(reviewed),
        },
    )
    typer.echo(f"retrained on {len(texts)} lines ({len(reviewed)} from reviews): {path}")
