"""``windowqa demo`` and ``windowqa eval demo``: the simulated hall, end to end, and its measurement."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Optional

import typer

from windowqa.app import app, eval_app
from windowqa.commands._shared import dashboard_env, streamlit_command
from windowqa.context import cli_context, fail

log = logging.getLogger("windowqa.demo")




@app.command("demo")
def demo(
    ctx: typer.Context,
    folder: Optional[Path] = typer.Option(None, "--dir", help="Demo folder (default: <data dir>/demo); replaced on every run."),
    size: str = typer.Option("small", "--size", help="tiny, small (4 windows x 12), day (6 x 16), week (6 x 12 x 5 days) or WxN[xDAYS]."),
    seed: int = typer.Option(7, "--seed", help="Everything random derives from it: the same seed gives the same hall."),
    snr_db: float = typer.Option(20.0, "--snr-db", help="Speech to hall-noise ratio of the recordings."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the dashboard after the summary."),
    port: int = typer.Option(8501, help="Dashboard port."),
    address: str = typer.Option("127.0.0.1", help="Dashboard address."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (accounts included)."),
    serve_only: bool = typer.Option(False, "--serve-only", help="Open the dashboard on the demo folder's last run; simulate nothing."),
    mono: bool = typer.Option(False, "--mono", help="Each window recorded on one microphone (staff and citizen in one channel); staff voices enrolled from enrolment recordings."),
    voice: bool = typer.Option(True, "--voice/--no-voice", help="With --mono: roles by voice (then content); --no-voice: by content alone."),
    substitute_pitch_st: Optional[float] = typer.Option(None, "--substitute-pitch-st", help="The substitute's voice, semitones above the bank's staff voice (default -10 with --mono, with --substitute-formants a voice that voiceprints tell apart; 0 otherwise)."),
    substitute_formants: Optional[float] = typer.Option(None, "--substitute-formants", min=0.7, max=1.3, help="The substitute's spectral envelope stretched by this (default 1.1 with --mono; 1 otherwise)."),
    unfiled_substitute: bool = typer.Option(False, "--unfiled-substitute", help="The substitute serves without a filing (备案) in the site file."),
    scenarios: Optional[list[str]] = typer.Option(None, "--scenario", help="A scenario the hall must hold (repeatable; NAME or NAME:VARIANT, e.g. work_call:no_call_greeting, phone_no_greeting), used in the order given before any is drawn."),
    phone_calls: int = typer.Option(1, "--phone-calls", min=0, max=30, help="Telephone calls per window per day (in the afternoon, part of the interactions)."),
    review: bool = typer.Option(False, "--review", help="Then play an inspector: draw a sample, review it with the ground truth, retrain."),
    review_only: bool = typer.Option(False, "--review-only", help="Review the demo folder's last run (as --review); simulate nothing."),
    review_share: float = typer.Option(0.2, "--review-share", min=0.01, max=1.0, help="Part of each staff member's interactions the inspector reviews."),
) -> None:
    """Simulate a service-hall day, process it end to end into an embedded SQLite store, then open the dashboard."""
    from windowqa.demo.run import DemoError, DemoOptions, database_url, format_summary, run_demo
    from windowqa.demo.simulator import HallSize, SimOptions, SimulationError
    from windowqa.demo.simulator.options import MONO_SUBSTITUTE_FORMANTS, MONO_SUBSTITUTE_PITCH_ST

    settings = cli_context(ctx).settings
    if serve_only:
        folder = (folder or settings.data_dir / "demo").expanduser().resolve()
        try:
            json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            fail(f"{folder / 'summary.json'}: no finished demo run here ({exc}); run `windowqa demo` first")
        _serve(folder, database_url(folder), address, port)
        return
    if review_only:
        out, text = _review((folder or settings.data_dir / "demo").expanduser().resolve(), settings, review_share, seed)
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1) if as_json else text)
        return
    try:
        pitch = substitute_pitch_st if substitute_pitch_st is not None else (MONO_SUBSTITUTE_PITCH_ST if mono else 0.0)
        formants = substitute_formants if substitute_formants is not None else (MONO_SUBSTITUTE_FORMANTS if mono else 1.0)
        sim = SimOptions(seed=seed, size=HallSize.parse(size), snr_db=snr_db, mono=mono, substitute_pitch_st=pitch,
                         substitute_formant_ratio=formants,
                         substitution_filed=not unfiled_substitute, scenarios=tuple(scenarios or ()), phone_calls=phone_calls)
        sim.check_scenarios()  # before the demo folder is replaced
    except SimulationError as exc:
        fail(str(exc))
    folder = (folder or settings.data_dir / "demo").expanduser()
    started = time.perf_counter()
    try:
        result = run_demo(DemoOptions(folder=folder, sim=sim, progress=not as_json, voice=voice), settings=settings)
    except (DemoError, SimulationError) as exc:
        fail(str(exc), 1)
    wall_s = round(time.perf_counter() - started, 1)
    summary = {**result.summary, "folder": str(result.folder), "database_url": result.database_url,
               "timings_s": result.timings_s, "wall_s": wall_s}
    (result.folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    review_out, review_text = _review(result.folder, settings, review_share, seed) if review else (None, "")
    if review_out is not None:
        summary["review"] = review_out
    if as_json:
        summary["accounts"] = [{"role": r, "username": u, "password": p, "staff_no": n} for r, u, p, n in result.accounts]
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        typer.echo(format_summary(result))
        typer.echo(f"wall clock {wall_s:.0f} s; data, ground truth and database in {result.folder}")
        typer.echo(f"measure it: windowqa eval demo {result.folder}")
        if result.accounts:
            typer.echo("dashboard accounts (shown once; only the hashes are stored):")
            for role, user, password, staff_no in result.accounts:
                typer.echo(f"  {role:9s} {user:16s} {password}" + (f"   (工号 {staff_no})" if staff_no else ""))
        if review_text:
            typer.echo(review_text)
    if serve:
        _serve(result.folder, result.database_url, address, port)


def _review(folder: Path, settings, share: float, seed: int) -> tuple[dict, str]:
    """``--review``: the inspector's sample, reviews and retraining on the demo store (``review.json`` in the folder).

    Returns the review as JSON and as text.
    """
    from models.db import open_database
    from models.rulebook import load_rulebook
    from nlp.evaluation import ManifestError
    from windowqa.demo.review import ReviewOptions, format_review, review_demo
    from windowqa.demo.run import database_url
    from windowqa.demo.simulator import SimulationError, load_truth

    try:
        truth = load_truth(folder)
    except SimulationError as exc:
        fail(f"{folder}: no finished demo run here ({exc}); run `windowqa demo` first")
    started = time.perf_counter()
    try:
        summary = review_demo(open_database(database_url(folder)), truth, load_rulebook(settings.rulebook_path), folder,
                              ReviewOptions(share=share, seed=seed), settings=settings)
    except (ValueError, ManifestError) as exc:
        fail(str(exc))
    out = {**summary.as_json(), "wall_s": round(time.perf_counter() - started, 1)}
    (folder / "review.json").write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    text = f"{format_review(summary)}\nreview wall clock {out['wall_s']:.0f} s; measure the field estimates: windowqa eval demo {folder}"
    return out, text


def _serve(folder: Path, url: str, address: str, port: int) -> None:
    """The dashboard on the demo store, in its own process, until Ctrl-C.

    The demo stored its attendance classified through its last simulated day, so the days after
    it do not show as absences.
    """
    env = dashboard_env(url, folder)
    typer.echo(f"dashboard on http://{address}:{port} (Ctrl-C stops it; `windowqa demo --serve-only` reopens it)")
    try:
        code = subprocess.call(streamlit_command(port, address), env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


@eval_app.command("demo")
def eval_demo(
    folder: Path = typer.Argument(..., help="A folder made by `windowqa demo` (truth.json and windowqa.db)."),
    as_json: bool = typer.Option(False, "--json", help="The whole report as one JSON object."),
    boundary_s: float = typer.Option(2.0, "--boundary-s", help="Tolerance of interaction boundaries."),
    stored_only: bool = typer.Option(False, "--stored-only", help="Measure only the recordings the store holds (a run stopped part-way)."),
    recordings: Optional[str] = typer.Option(None, "--recordings", help="Measure only these recordings of the truth, comma-separated ids (e.g. A01-20260302-am)."),
) -> None:
    """Compare what the pipeline stored with the simulator's ground truth (phrases, segmentation, attribution, ratings, attendance)."""
    from windowqa.demo.evaluate import DemoEvalError, EvalOptions, evaluate_demo, format_report

    try:
        only = frozenset(r.strip() for r in recordings.split(",") if r.strip()) if recordings else None
        report = evaluate_demo(folder, EvalOptions(boundary_s=boundary_s, stored_only=stored_only, recordings=only))
    except DemoEvalError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        typer.echo(format_report(report))
