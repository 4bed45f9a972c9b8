"""Ingest: audio files → transcription → roles → phrase matching and audio verification → segmentation, scoring, store.

The composition of the stages for recorded files. Transcription is passed in (a callable
yielding :class:`~windowqa.utterance_stream.HeardUtterance` items), and so is the matcher, so
the same ingest runs with the real speech pipeline (:func:`speech_transcriber`), or with
recorded transcripts in tests and benchmarks. Each recording flows through one typed stream
(:func:`windowqa.utterance_stream.utterance_stream`): roles first, then the matcher, then the
near misses of staff utterances verified against the audio, then the store.

Guarantees:
    * Idempotent by content hash: a file whose recording is ``done`` is skipped.
    * Resumable: each file is stored in one transaction; a crash leaves at most a ``pending``
      recording without rows, which the next run redoes from the start.
    * A bad file is recorded as ``failed`` with its reason and its kind, and the batch goes
      on. A failure from outside the file's content (no start time, the archive disk, the
      database, speech on channels the map leaves out) is retried on the next ingest; a
      failure of the content itself (corrupt, undecodable) only with ``retry_failed``.
    * Multichannel files follow the window's channel map (or ``channels``); speech on the
      channels it leaves out is reported, never dropped without a word.
    * Files of other types in a folder are listed as skipped, with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from audio_capture.channels import ChannelMap
from models.db import FailureKind, Recording, RecordingStatus
from models.domain import RuleHit, Utterance
from models.rulebook import Rulebook
from scoring.store.ratings import link_ratings
from scoring.segment import MatchedUtterance
from scoring.store import StoreError, store_recording, window_by_code
from windowqa.ingest_files import (
    AUDIO_SUFFIXES,
    archive_copy,
    collect_files,
    content_hash,
    expand_paths,
    failure_kind,
    remove_partial_copies,
    start_from_metadata,
    start_from_name,
    unmapped_speech,
)
from windowqa.utterance_stream import HeardUtterance, Matcher, utterance_stream

log = logging.getLogger("windowqa")


class IngestError(ValueError):
    """An ingest that cannot start (unknown window, bad options); names what is wrong."""


class Transcribe(Protocol):
    """Turns one recording file into heard utterances (offsets from the file's start).

    Items carry their audio only when the transcription can also verify near misses against
    it (:class:`VerifyingTranscribe`); recorded transcripts carry none.
    """

    def __call__(self, path: Path, *, started_at: datetime | None, channel_map: dict[str, str] | None) -> Iterable[HeardUtterance]: ...


@runtime_checkable
class VerifyingTranscribe(Transcribe, Protocol):
    """A transcription that confirms near misses against the audio it heard (``SpeechSource``).

    Verification needs the audio and the model that transcribed it, so it belongs to the
    transcription; ingest calls it only for staff (and unknown-role) utterances.
    """

    def verify_near_misses(self, utterance: Utterance, audio: Any, matcher: Any) -> list[RuleHit]: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IngestOptions:
    """Options of one ingest run.

    Attributes:
        window: the window code the recordings come from.
        start: wall-clock start of the recording (only with one file); otherwise taken from the
            file name (``20260302-090000``, ``2026-03-02T09-00-00``) or the file's metadata.
        archive_dir: where audio is kept; files outside it are copied in (None: leave in place).
        progress: show a progress bar.
        retry_failed: analyse again recordings that failed on their content (corrupt,
            undecodable audio); those that failed on an outside cause are always retried.
        channels: the channel map of these recordings (``"staff,citizen,ignore,..."``), in
            place of the window's stored one.
    """

    window: str
    start: datetime | None = None
    archive_dir: Path | None = None
    progress: bool = True
    retry_failed: bool = False
    channels: str | None = None


@dataclass
class FileResult:
    """What became of one file; ``failure_kind`` (a ``FailureKind`` value) says when a
    failure is retried: ``outside`` on the next ingest, ``content`` with ``--retry-failed``."""

    path: str
    status: str  # "done", "skipped", "failed"
    reason: str = ""
    failure_kind: str | None = None
    warnings: list[str] = field(default_factory=list)
    recording_id: int | None = None
    utterances: int = 0
    interactions: int = 0
    flags: int = 0


@dataclass
class IngestReport:
    options: IngestOptions
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def utterances(self) -> int:
        return sum(f.utterances for f in self.files)


def matched_utterances(items: Iterable[HeardUtterance]) -> list[MatchedUtterance]:
    """The stream's items in time order (``seq``), as the scorer and the store take them."""
    ordered = sorted(items, key=lambda item: (item.utterance.start_s, item.utterance.channel or 0))
    return [MatchedUtterance(seq, item.utterance, item.hits, item.abuse, item.cues) for seq, item in enumerate(ordered)]


def ingest(
    paths: Iterable[str | Path],
    options: IngestOptions,
    *,
    session_factory: sessionmaker[Session],
    transcribe: Transcribe,
    matcher: Matcher,
    rulebook: Rulebook,
    role_classifier: Any | None = None,
    asr_options: dict[str, Any] | None = None,
) -> IngestReport:
    """Ingest recordings of one window.

    Args:
        paths: audio files or folders.
        options: window, start time, archive folder.
        session_factory: the store; each file is written in its own transaction.
        transcribe: audio → heard utterances (e.g. :func:`speech_transcriber`); one that is a
            :class:`VerifyingTranscribe` also confirms near misses in staff utterances against
            the audio, and its options are stored with each recording.
        matcher: the phrase matcher (``nlp.build_matcher(rulebook)``).
        rulebook: scoring rules.
        role_classifier: decides staff/citizen for mono utterances (``nlp.role``); None keeps
            role ``unknown``, which the matcher treats as staff.
        asr_options: model and options of the transcriber, stored with each recording.

    Returns:
        One result per file.

    Raises:
        IngestError: the window is unknown, or ``start`` was given with several files.
    """
    files, others = collect_files(paths)
    if options.start is not None and len(files) > 1:
        raise IngestError(f"--start applies to one recording, but {len(files)} files were given; put each start time in its file name")
    run = open_run(options, session_factory=session_factory, transcribe=transcribe, matcher=matcher, rulebook=rulebook,
                   role_classifier=role_classifier, asr_options=asr_options)
    report = IngestReport(options=options)
    for other in others:
        report.files.append(FileResult(path=str(other), status="skipped", reason=f"not an audio file ({other.suffix or 'no suffix'})"))
    bar = tqdm(files, desc=f"ingest {options.window}", unit="file", disable=not options.progress)
    for path in bar:
        result = run.ingest_one(path)
        report.files.append(result)
        bar.set_postfix(done=report.count("done"), skipped=report.count("skipped"), failed=report.count("failed"))
        if result.status == "failed":
            log.warning("%s: %s", path, result.reason)
        for warning in result.warnings:
            log.warning("%s: %s", path, warning)
    return report


def open_run(
    options: IngestOptions,
    *,
    session_factory: sessionmaker[Session],
    transcribe: Transcribe | None,
    matcher: Matcher | None,
    rulebook: Rulebook,
    role_classifier: Any | None = None,
    asr_options: dict[str, Any] | None = None,
    clean_partial: bool = True,
) -> "_Run":
    """What the files of one ingest share, checked (window, channel map): :meth:`_Run.ingest_one`
    ingests one file; :meth:`_Run.register` only opens its recording (the queued ingest, whose
    workers pass their own engines). ``transcribe`` and ``matcher`` may be None for ``register``.
    ``clean_partial``: remove the window's partial archive copies first (not in a worker: the
    command that queues files may be copying them).

    Raises:
        IngestError: the window is unknown, or its channel map is not valid.
    """
    override = _parse_channels(options.channels)
    with session_factory() as s:
        try:
            window = window_by_code(s, options.window)
        except StoreError as exc:
            raise IngestError(str(exc)) from None
        window_id, channel_map = window.id, override or window.channel_map
    if override is None and channel_map:
        try:
            spec = ",".join(channel_map[k] for k in sorted(channel_map, key=int))
        except ValueError:
            raise IngestError(f"window {options.window}'s channel_map: keys must be channel numbers, got {sorted(channel_map)}") from None
        _parse_channels(spec, f"window {options.window}'s channel_map: ")
    if clean_partial:
        remove_partial_copies(options.archive_dir, options.window)
    return _Run(options, window_id, channel_map, session_factory, transcribe, matcher, rulebook, role_classifier, asr_options)


def _parse_channels(spec: str | None, where: str = "--channels: ") -> dict[str, str] | None:
    """A channel map spec as a stored channel map; IngestError names a bad role (a
    configuration error stops the run before any file fails on it)."""
    if spec is None:
        return None
    try:
        return ChannelMap.parse(spec).as_dict()
    except ValueError as exc:
        raise IngestError(f"{where}{exc}") from None


def _database_reason(exc: SQLAlchemyError) -> str:
    detail = getattr(exc, "orig", None) or exc
    return f"database unavailable ({type(detail).__name__}: {detail}); retried on the next ingest"


@dataclass(frozen=True)
class _Run:
    """What every file of one ingest run shares."""

    options: IngestOptions
    window_id: int
    channel_map: dict[str, str] | None
    session_factory: sessionmaker[Session]
    transcribe: Transcribe
    matcher: Matcher
    rulebook: Rulebook
    role_classifier: Any | None
    asr_options: dict[str, Any] | None

    @property
    def pipeline_options(self) -> dict[str, Any] | None:
        return self.transcribe.describe() if isinstance(self.transcribe, VerifyingTranscribe) else None

    def ingest_one(self, path: Path) -> FileResult:
        """Open (or redo) the file's recording, run the stream over it, store the result.

        Every error ends as this file's reason (with its kind); the batch goes on.
        """
        result = FileResult(path=str(path), status="failed")
        if not path.is_file():
            result.reason, result.failure_kind = "file not found", FailureKind.OUTSIDE.value
            return result  # nothing to hash: not recorded
        try:
            started_at = self._open_recording(path, result)
            if result.status == "skipped" or result.reason:
                return result  # already done, or failed before analysis (no start time, archive)
            lost = self._check_channels(path, result)
            if lost:
                return self._fail(result, lost, FailureKind.OUTSIDE)
            heard = list(self.stream(path, started_at))
            items = matched_utterances(heard)
            voices = [(h.utterance, h.voice) for h in heard if h.voice is not None]
        except SQLAlchemyError as exc:
            return self._fail(result, _database_reason(exc), FailureKind.OUTSIDE)
        except Exception as exc:  # noqa: BLE001 - any failure of one file is recorded and the batch goes on
            return self._fail(result, f"{type(exc).__name__}: {exc}", failure_kind(exc))
        try:
            self._store(result, items, voices)
        except SQLAlchemyError as exc:
            return self._fail(result, _database_reason(exc), FailureKind.OUTSIDE)
        except OSError as exc:
            return self._fail(result, f"{type(exc).__name__}: {exc}", FailureKind.OUTSIDE)
        return result

    def register(self, path: Path) -> FileResult:
        """Open (or redo) the file's recording by content hash without analysing it: ``pending``
        with its start time and archived path; skipped or failed as ``ingest_one`` would be."""
        result = FileResult(path=str(path), status="failed")
        if not path.is_file():
            result.reason, result.failure_kind = "file not found", FailureKind.OUTSIDE.value
            return result
        try:
            self._open_recording(path, result)
        except SQLAlchemyError as exc:
            return self._fail(result, _database_reason(exc), FailureKind.OUTSIDE)
        if result.status != "skipped" and not result.reason:
            result.status = "queued"
        return result

    def _fail(self, result: FileResult, reason: str, kind: FailureKind) -> FileResult:
        """Record the file's failure (when the database takes it) and return its result."""
        result.status, result.reason, result.failure_kind = "failed", reason, kind.value
        if result.recording_id is None:
            return result
        try:
            with self.session_factory() as s, s.begin():
                recording = s.get(Recording, result.recording_id)
                recording.status, recording.failure_reason, recording.failure_kind = RecordingStatus.FAILED, reason[:2000], kind
        except SQLAlchemyError as exc:  # the recording stays pending: redone on the next ingest anyway
            log.warning("%s: failure not recorded: %s", result.path, _database_reason(exc))
        return result

    def _check_channels(self, path: Path, result: FileResult) -> str | None:
        """Speech on channels the map leaves out: the failure reason (none given to them),
        and a warning on ``result`` for each channel the map ignores on purpose."""
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            return None  # not audio (a recorded transcript): no channels
        from windowqa.speech.source import window_channel_map

        reason, result.warnings = unmapped_speech(path, window_channel_map(self.channel_map) or ChannelMap())
        return reason

    def stream(self, path: Path, started_at: datetime | None) -> Iterator[HeardUtterance]:
        """The recording's utterances through roles, matching and audio verification."""
        heard = self.transcribe(path, started_at=started_at, channel_map=self.channel_map)
        check = self.transcribe.verify_near_misses if isinstance(self.transcribe, VerifyingTranscribe) else None
        # the voice split's join gap (``SpeechSource.join_gap_s``); None: the default
        join_gap_s = getattr(self.transcribe, "join_gap_s", None)
        return utterance_stream(heard, self.matcher, role_classifier=self.role_classifier, check=check,
                                join_gap_s=join_gap_s)

    def _open_recording(self, path: Path, result: FileResult) -> datetime | None:
        """The file's recording row, new or redone; sets ``result`` to skipped or failed when
        the file is not to be analysed. Returns the recording's start."""
        digest = content_hash(path)
        with self.session_factory() as s, s.begin():
            recording = s.scalar(select(Recording).where(Recording.content_hash == digest))
            if recording is not None and recording.status is RecordingStatus.DONE:
                result.status, result.reason, result.recording_id = "skipped", "already ingested", recording.id
                return None
            if recording is not None and self._keeps_failure(recording, result):
                return None
            started_at = self.options.start or start_from_name(path) or start_from_metadata(path)
            if recording is None:
                recording = Recording(content_hash=digest, path=str(path), window_id=self.window_id)
                s.add(recording)
            recording.status, recording.failure_reason, recording.failure_kind = RecordingStatus.PENDING, None, None
            recording.started_at = started_at
            recording.window_id = self.window_id
            recording.asr_options = self.asr_options
            recording.pipeline_options = self.pipeline_options
            if started_at is None:
                recording.status, recording.failure_kind = RecordingStatus.FAILED, FailureKind.OUTSIDE
                recording.failure_reason = "no start time: give --start or put it in the file name (e.g. A03_20260302-090000.wav)"
            else:
                try:
                    recording.path = archive_copy(path, self.options.archive_dir, self.options.window, started_at, digest)
                except OSError as exc:
                    recording.status, recording.failure_kind = RecordingStatus.FAILED, FailureKind.OUTSIDE
                    recording.failure_reason = f"cannot copy into the archive: {exc}; retried on the next ingest"
            s.flush()
            result.recording_id = recording.id
            if recording.status is RecordingStatus.FAILED:
                result.reason, result.failure_kind = recording.failure_reason or "", recording.failure_kind.value
            return started_at

    def _keeps_failure(self, recording: Recording, result: FileResult) -> bool:
        """A recording that failed on its content stays failed unless ``retry_failed``
        (its earlier reason reported); any other failure is retried."""
        if recording.status is not RecordingStatus.FAILED or recording.failure_kind is not FailureKind.CONTENT:
            return False
        if self.options.retry_failed:
            return False
        result.recording_id, result.failure_kind = recording.id, FailureKind.CONTENT.value
        result.reason = f"failed before on its content: {recording.failure_reason}; give --retry-failed to try again"
        return True

    def _store(self, result: FileResult, items: list[MatchedUtterance], voices: list | None = None) -> None:
        """Segment, score and store the recording's utterances; link the ratings given then;
        flag another staff member's voice serving (when the transcription tells voices apart)."""
        with self.session_factory() as s, s.begin():
            # Locked (PostgreSQL) and checked: a second delivery of a queued recording that
            # finished meanwhile stores nothing twice.
            recording = s.get(Recording, result.recording_id, with_for_update=True, populate_existing=True)
            if recording.status is RecordingStatus.DONE:
                result.status, result.reason = "skipped", "already ingested"
                return
            stored = store_recording(s, recording, items, self.rulebook)
            serving_flags = getattr(self.transcribe, "serving_flags", None)
            if voices and serving_flags is not None:
                stored.flags += serving_flags(s, recording, voices)
            if recording.started_at is not None and items:
                end = recording.started_at + timedelta(seconds=max(i.utterance.end_s for i in items))
                link = timedelta(minutes=self.rulebook.ratings.link_window_minutes)
                link_ratings(s, self.rulebook, window_id=self.window_id, start=recording.started_at, end=end + link)
        result.status = "done"
        result.utterances, result.interactions, result.flags = stored.utterances, stored.interactions, stored.flags


def speech_transcriber(
    transcriber: Any, *, matcher: Any | None = None, pipeline_options: Any | None = None, verify_options: Any | None = None,
    voice: Any | None = None, enhancer: Any | None = None,
) -> Transcribe:
    """The real transcription through the speech pipeline (``windowqa.speech``) with the window's channel map.

    Args:
        transcriber: an ``asr.Transcriber`` (built explicitly by the caller).
        matcher: when given (or with ``verify_options``), ingest verifies its matcher's near
            misses in staff utterances against the audio: ASR slips such as 请慢走 → 请问走 are
            recovered only this way. Pass the matcher that ingest is given.
        pipeline_options: ``PipelineOptions`` (VAD, gate, block size).
        verify_options: ``VerifyOptions`` of the phrase verification.
        voice: a ``windowqa.speech.voices.VoiceSplitter``: mono recordings split by voice,
            and who is serving checked by voice; None: neither.
        enhancer: an ``audio_capture.enhance.Enhancer`` for the staff channel (with ``voice``).
    """
    from windowqa.speech import PipelineOptions, VerifyOptions
    from windowqa.speech.source import SpeechSource

    verify = (verify_options or VerifyOptions()) if matcher is not None or verify_options is not None else None
    return SpeechSource(transcriber, pipeline_options or PipelineOptions(), verify, voice, enhancer)


__all__ = [
    "AUDIO_SUFFIXES",
    "FileResult",
    "IngestError",
    "IngestOptions",
    "IngestReport",
    "Matcher",
    "Transcribe",
    "VerifyingTranscribe",
    "content_hash",
    "expand_paths",
    "ingest",
    "matched_utterances",
    "open_run",
    "speech_transcriber",
    "start_from_metadata",
    "start_from_name",
]
