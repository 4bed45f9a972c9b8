"""Ingest: audio files → transcription → roles → phrase matching → segmentation, scoring, store.

The composition of the stages for recorded files. Transcription and matching are passed in
(a callable and a matcher object), so the same ingest runs with the real speech pipeline, or
with recorded transcripts in tests and benchmarks.

Guarantees:
    * Idempotent by content hash: a file whose recording is ``done`` is skipped.
    * Resumable: each file is stored in one transaction; a crash leaves at most a ``pending``
      recording without rows, which the next run redoes from the start.
    * A bad file is recorded as ``failed`` with its reason, and the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from models.db import Recording, RecordingStatus
from models.domain import Role, RuleHit, Utterance
from models.rulebook import Rulebook
from scoring.store.ratings import link_ratings
from scoring.segment import MatchedUtterance
from scoring.store import StoreError, store_recording, window_by_code

log = logging.getLogger("windowqa")

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".wma", ".amr")
_NAME_TIME = re.compile(r"(20\d{2})-?([01]\d)-?([0-3]\d)[T_ -]?([0-2]\d)[-:.]?([0-5]\d)[-:.]?([0-5]\d)")


class IngestError(ValueError):
    """An ingest that cannot start (unknown window, bad options); names what is wrong."""


class Transcribe(Protocol):
    """Turns one audio file into utterances (offsets from the file's start).

    It may also return ``(utterance, hits)`` pairs (or objects with ``.utterance`` and
    ``.hits``, as ``speech_pipeline.transcribe_and_match`` yields) when it matched already,
    e.g. with phrase verification against the audio; ingest then does not match again.
    """

    def __call__(self, path: Path, *, started_at: datetime | None, channel_map: dict[str, str] | None) -> list[Any]: ...


class Matcher(Protocol):
    """The phrase matcher's surface that ingest uses (``nlp.PhraseMatcher``)."""

    def match_many(self, utterances: Sequence[Utterance]) -> list[list[RuleHit]]: ...

    def citizen_abuse(self, utterance: Utterance) -> list[RuleHit]: ...


@dataclass(frozen=True)
class IngestOptions:
    """Options of one ingest run.

    Attributes:
        window: the window code the recordings come from.
        start: wall-clock start of the recording (only with one file); otherwise taken from the
            file name (``20260302-090000``, ``2026-03-02T09-00-00``) or the file's metadata.
        archive_dir: where audio is kept; files outside it are copied in (None: leave in place).
        progress: show a progress bar.
    """

    window: str
    start: datetime | None = None
    archive_dir: Path | None = None
    progress: bool = True


@dataclass
class FileResult:
    path: str
    status: str  # "done", "skipped", "failed"
    reason: str = ""
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


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their audio files (sorted, recursive)."""
    out: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES))
        else:
            out.append(p)
    return out


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def start_from_name(path: Path) -> datetime | None:
    """A recording start written in the file name, e.g. ``A03_20260302-090000.wav``."""
    m = _NAME_TIME.search(path.stem)
    if not m:
        return None
    try:
        return datetime(*(int(g) for g in m.groups()))
    except ValueError:
        return None


def start_from_metadata(path: Path) -> datetime | None:
    """The container's ``creation_time``/``date`` tag, converted to local (UTC+8) time."""
    try:
        import av

        with av.open(str(path)) as container:
            tags = {k.lower(): v for k, v in (container.metadata or {}).items()}
    except Exception:  # noqa: BLE001 - metadata is optional; decoding errors surface in transcription
        return None
    value = tags.get("creation_time") or tags.get("date")
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        from datetime import timezone

        parsed = parsed.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    return parsed


def _archive(path: Path, archive_dir: Path | None, window: str, started_at: datetime, digest: str) -> str:
    if archive_dir is None:
        return str(path.resolve())
    archive_dir = archive_dir.resolve()
    source = path.resolve()
    if source.is_relative_to(archive_dir):
        return str(source.relative_to(archive_dir))
    target = archive_dir / window / started_at.strftime("%Y-%m-%d") / path.name
    if target.exists() and content_hash(target) != digest:
        target = target.with_name(f"{digest[:10]}_{path.name}")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(source, tmp)
        tmp.replace(target)  # atomic: a crash never leaves a half-copied archive file
    return str(target.relative_to(archive_dir))


def _split(results: Sequence[Any]) -> tuple[list[Utterance], list[Sequence[RuleHit] | None]]:
    utterances, hits = [], []
    for item in results:
        if isinstance(item, Utterance):
            utterances.append(item)
            hits.append(None)
        elif isinstance(item, tuple):
            utterances.append(item[0])
            hits.append(tuple(item[1]))
        else:
            utterances.append(item.utterance)
            hits.append(tuple(item.hits))
    return utterances, hits


def match_utterances(
    utterances: Sequence[Utterance], matcher: Matcher, known_hits: Sequence[Sequence[RuleHit] | None] | None = None
) -> list[MatchedUtterance]:
    """Rule hits for staff (and unknown-role) utterances, abuse findings for citizens.

    Args:
        utterances: one recording's utterances with their final roles.
        matcher: the phrase matcher.
        known_hits: hits found earlier per utterance (None where not matched yet).
    """
    known = list(known_hits) if known_hits is not None else [None] * len(utterances)
    todo = [i for i, h in enumerate(known) if h is None]
    if todo:
        for i, found in zip(todo, matcher.match_many([utterances[i] for i in todo])):
            known[i] = found
    out = []
    for seq, (u, found) in enumerate(zip(utterances, known)):
        if u.role is Role.CITIZEN:
            # what a citizen says never counts for or against staff; abuse is recorded
            out.append(MatchedUtterance(seq, u, (), tuple(matcher.citizen_abuse(u))))
        else:
            out.append(MatchedUtterance(seq, u, tuple(found or ()), ()))
    return out


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
        transcribe: audio → utterances (e.g. :func:`speech_transcriber`).
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
    files = expand_paths(paths)
    if options.start is not None and len(files) > 1:
        raise IngestError(f"--start applies to one recording, but {len(files)} files were given; put each start time in its file name")
    with session_factory() as s:
        try:
            window = window_by_code(s, options.window)
        except StoreError as exc:
            raise IngestError(str(exc)) from None
        window_id, channel_map = window.id, window.channel_map
    report = IngestReport(options=options)
    bar = tqdm(files, desc=f"ingest {options.window}", unit="file", disable=not options.progress)
    for path in bar:
        result = _ingest_one(
            path, options, window_id, channel_map, session_factory, transcribe, matcher, rulebook, role_classifier, asr_options
        )
        report.files.append(result)
        bar.set_postfix(done=report.count("done"), skipped=report.count("skipped"), failed=report.count("failed"))
        if result.status == "failed":
            log.warning("%s: %s", path, result.reason)
    return report


def _ingest_one(
    path: Path,
    options: IngestOptions,
    window_id: int,
    channel_map: dict[str, str] | None,
    session_factory: sessionmaker[Session],
    transcribe: Transcribe,
    matcher: Matcher,
    rulebook: Rulebook,
    role_classifier: Any | None,
    asr_options: dict[str, Any] | None,
) -> FileResult:
    result = FileResult(path=str(path), status="failed")
    if not path.is_file():
        result.reason = "file not found"
        return result  # nothing to hash: not recorded
    digest = content_hash(path)
    with session_factory() as s, s.begin():
        recording = s.scalar(select(Recording).where(Recording.content_hash == digest))
        if recording is not None and recording.status is RecordingStatus.DONE:
            result.status, result.reason, result.recording_id = "skipped", "already ingested", recording.id
            return result
        started_at = options.start or start_from_name(path) or start_from_metadata(path)
        if recording is None:
            recording = Recording(content_hash=digest, path=str(path), window_id=window_id, status=RecordingStatus.PENDING)
            s.add(recording)
        recording.started_at = started_at
        recording.window_id = window_id
        recording.asr_options = asr_options
        if started_at is None:
            recording.status = RecordingStatus.FAILED
            recording.failure_reason = "no start time: give --start or put it in the file name (e.g. A03_20260302-090000.wav)"
        else:
            try:
                recording.path = _archive(path, options.archive_dir, options.window, started_at, digest)
            except OSError as exc:
                recording.status, recording.failure_reason = RecordingStatus.FAILED, f"cannot copy into the archive: {exc}"
        s.flush()
        result.recording_id = recording.id
        if recording.status is RecordingStatus.FAILED:
            result.reason = recording.failure_reason or ""
            return result
    try:
        utterances, known_hits = _split(transcribe(path, started_at=started_at, channel_map=channel_map))
        if role_classifier is not None:
            from nlp.role import assign_roles

            utterances = assign_roles(utterances, role_classifier)
        items = match_utterances(utterances, matcher, known_hits)
    except Exception as exc:  # noqa: BLE001 - any failure of one file is recorded and the batch goes on
        reason = f"{type(exc).__name__}: {exc}"
        with session_factory() as s, s.begin():
            recording = s.get(Recording, result.recording_id)
            recording.status, recording.failure_reason = RecordingStatus.FAILED, reason[:2000]
        result.reason = reason
        return result
    with session_factory() as s, s.begin():
        recording = s.get(Recording, result.recording_id)
        stored = store_recording(s, recording, items, rulebook)
        if recording.started_at is not None and items:
            end = recording.started_at + timedelta(seconds=max(i.utterance.end_s for i in items))
            link_ratings(s, rulebook, window_id=window_id, start=recording.started_at, end=end + timedelta(minutes=rulebook.ratings.link_window_minutes))
    result.status = "done"
    result.utterances, result.interactions, result.flags = stored.utterances, stored.interactions, stored.flags
    return result


def speech_transcriber(
    transcriber: Any, *, matcher: Any | None = None, pipeline_options: Any | None = None, verify_options: Any | None = None
) -> Transcribe:
    """The real transcription through ``windowqa.speech_pipeline`` with the window's channel map.

    Args:
        transcriber: an ``asr.Transcriber`` (built explicitly by the caller).
        matcher: when given, utterances are matched as they are transcribed and the matcher's
            near misses are verified against the audio (``transcribe_and_match``): ASR slips
            such as 请慢走 → 请问走 are recovered only this way.
        pipeline_options: ``PipelineOptions`` (VAD, gate, block size).
        verify_options: ``VerifyOptions`` of the phrase verification.
    """
    from audio_capture.channels import ChannelMap
    from windowqa.speech_pipeline import PipelineOptions, for_recording, recording_blocks, transcribe_and_match, transcribe_file

    def run(path: Path, *, started_at: datetime | None, channel_map: dict[str, str] | None) -> list[Any]:
        cmap = None
        if channel_map:
            roles = [channel_map[k] for k in sorted(channel_map, key=int)]
            cmap = ChannelMap.parse(",".join(roles))
        if matcher is None:
            return transcribe_file(path, transcriber, options=pipeline_options, channel_map=cmap, recording_started_at=started_at)
        options = for_recording(path, pipeline_options or PipelineOptions())
        blocks, n_channels = recording_blocks(path, options)
        matched = transcribe_and_match(
            blocks, transcriber, matcher, options=options, verify=verify_options,
            channel_map=cmap, n_channels=n_channels, recording_started_at=started_at, source=str(path),
        )
        return sorted(matched, key=lambda m: (m.utterance.start_s, m.utterance.channel or 0))

    return run


__all__ = [
    "FileResult",
    "IngestError",
    "IngestOptions",
    "IngestReport",
    "Matcher",
    "Transcribe",
    "content_hash",
    "expand_paths",
    "ingest",
    "match_utterances",
    "speech_transcriber",
    "start_from_metadata",
    "start_from_name",
]
