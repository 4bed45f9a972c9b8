"""The files side of ingest: which paths are recordings, their content hash and start time,
the copy into the archive (never leaving a partial file), and the failure kind of an error.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from models.db import FailureKind

if TYPE_CHECKING:
    from audio_capture.channels import ChannelMap

log = logging.getLogger("windowqa")

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".wma", ".amr")
PART_SUFFIX = ".part"
_NAME_TIME = re.compile(r"(20\d{2})-?([01]\d)-?([0-3]\d)[T_ -]?([0-2]\d)[-:.]?([0-5]\d)[-:.]?([0-5]\d)")


def collect_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """Files as given, folders expanded (sorted, recursive).

    Returns:
        (recordings, others): the folders' audio files and every file given by name; the
        folders' files of other types, which ingest lists as skipped.
    """
    files: list[Path] = []
    others: list[Path] = []
    for item in paths:
        p = Path(item)
        if not p.is_dir():
            files.append(p)
            continue
        for f in sorted(f for f in p.rglob("*") if f.is_file()):
            (files if f.suffix.lower() in AUDIO_SUFFIXES else others).append(f)
    return files, others


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their audio files (sorted, recursive)."""
    return collect_files(paths)[0]


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
        parsed = parsed.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    return parsed


def archive_copy(path: Path, archive_dir: Path | None, window: str, started_at: datetime, digest: str) -> str:
    """Copy ``path`` into the archive (unless it is there already); its stored path.

    Raises:
        OSError: the copy failed (a full disk); no partial file is left behind.
    """
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
        tmp = target.with_name(target.name + PART_SUFFIX)
        try:
            shutil.copyfile(source, tmp)
            tmp.replace(target)  # atomic: a crash never leaves a half-copied archive file
        except BaseException:
            tmp.unlink(missing_ok=True)  # a partial copy on a full disk keeps it full
            raise
    return str(target.relative_to(archive_dir))


def remove_partial_copies(archive_dir: Path | None, window: str) -> int:
    """Remove ``.part`` files a killed earlier ingest of ``window`` left in the archive.

    Only the window's own folder: another window's ingest may be copying at the same time.
    Returns how many were removed.
    """
    if archive_dir is None or not (archive_dir / window).is_dir():
        return 0
    removed = 0
    for part in (archive_dir / window).rglob(f"*{PART_SUFFIX}"):
        try:
            part.unlink()
            removed += 1
        except OSError as exc:
            log.warning("cannot remove the partial copy %s: %s", part, exc)
    if removed:
        log.info("%s: removed %d partial copies left by an earlier ingest", archive_dir / window, removed)
    return removed


MIN_REPORTED_SPEECH_S = 0.5  # less voiced audio than this on a channel is a cough or a door, not speech


def unmapped_speech(path: Path, channel_map: "ChannelMap") -> tuple[str | None, list[str]]:
    """What the channel map leaves out of a recording file that holds speech.

    Channels the map names ``ignore`` are left out on purpose: their speech is a warning.
    Channels beyond the map's end are left out by no one's decision: their speech fails the
    file (an outside cause, retried on the next ingest, e.g. with ``--channels``).

    Returns:
        (failure reason or None, warnings).

    Raises:
        audio_capture.AudioDecodeError: the file cannot be decoded.
    """
    from audio_capture.decode import probe_audio, stream_audio
    from audio_capture.vad import channel_speech_s

    unassigned = channel_map.unassigned(probe_audio(path).channels)
    if not unassigned:
        return None, []
    speech = {c: s for c, s in channel_speech_s(stream_audio(path), unassigned).items() if s >= MIN_REPORTED_SPEECH_S}
    ignored = [f"channel {c}: {s:.1f} s of speech ignored by the channel map" for c, s in speech.items() if channel_map.ignores(c)]
    unmapped = [f"channel {c} ({s:.1f} s of speech)" for c, s in speech.items() if not channel_map.ignores(c)]
    if not unmapped:
        return None, ignored
    spec = ",".join(channel_map.as_dict().values())
    reason = (
        f"speech on {', '.join(unmapped)} that the channel map ({spec}) gives to no window side: "
        "give --channels (e.g. staff,citizen,ignore,...) or set the window's channel_map"
    )
    return reason, ignored


def failure_kind(exc: BaseException) -> FailureKind:
    """Whether an error of one file's analysis lies in its content or outside it.

    Decoding and parsing errors (``AudioDecodeError`` and other ``ValueError``s) are the
    content's: the same bytes fail the same way. Anything else (a full disk, the database,
    memory, the model) is an outside cause, retried on the next ingest.
    """
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, ValueError) and not isinstance(exc, SQLAlchemyError):
        return FailureKind.CONTENT
    return FailureKind.OUTSIDE


__all__ = [
    "AUDIO_SUFFIXES",
    "archive_copy",
    "collect_files",
    "content_hash",
    "expand_paths",
    "failure_kind",
    "remove_partial_copies",
    "start_from_metadata",
    "start_from_name",
    "unmapped_speech",
]
