"""``windowqa capture --publish``: each closed segment file goes to the workers as it closes.

A segment is registered and enqueued exactly as ``windowqa ingest --queue`` does it
(:func:`windowqa.queue_ingest.enqueue`: a recording by content hash, one job, one task), with
``live`` set so that the worker raises alerts for it. Publishing runs in a thread of its own:
the capture's consumer never waits for the database or the broker. What cannot be published
now (the database or the broker away) is tried again every ``retry_s``: a segment whose
registration failed is registered again (by content hash: never twice), a job whose task could
not be sent is sent again. Whatever is left at the end is reported; the files are in the
archive, and ``windowqa ingest FOLDER --window W --queue`` picks them up.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from windowqa.ingest import FileResult

log = logging.getLogger("windowqa.live")

Register = Callable[[Path, Callable[[int, dict[str, Any]], None]], list[FileResult]]
Send = Callable[[int, dict[str, Any]], None]


@dataclass
class PublishReport:
    """What the publisher did: one result per segment, and what is still to be published."""

    results: list[FileResult] = field(default_factory=list)
    unregistered: list[Path] = field(default_factory=list)  # registration failed on an outside cause
    unsent: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # registered, the task not sent


class SegmentPublisher:
    """Registers and enqueues each segment in a background thread.

    Args:
        register: ``register(path, send)`` registers one file and calls ``send(job_id, args)``
            for its job (``enqueue`` bound to the store, the window and ``live=True``).
        send: sends one task to the broker; raises when it cannot.
        on_result: called with each file's result (the command prints it).
        retry_s: pause before what failed is tried again.
    """

    def __init__(self, register: Register, send: Send, *, on_result: Callable[[FileResult], None] | None = None,
                 retry_s: float = 5.0) -> None:
        self.register, self.send, self.on_result, self.retry_s = register, send, on_result, retry_s
        self.report = PublishReport()
        self._paths: queue.Queue[Path | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="segment-publisher", daemon=True)
        self._thread.start()

    def submit(self, path: Path) -> None:
        """Hand one closed segment over (returns at once)."""
        self._paths.put(path)

    def close(self, timeout_s: float = 60.0) -> PublishReport:
        """Publish what was submitted (one more try of what failed), stop the thread, report."""
        self._paths.put(None)
        self._thread.join(timeout_s)
        return self.report

    def _run(self) -> None:
        while True:
            try:
                path = self._paths.get(timeout=self.retry_s)
            except queue.Empty:
                self._retry()
                continue
            if path is None:
                self._retry()
                return
            self._publish(path)

    def _sender(self, job_id: int, args: dict[str, Any]) -> None:
        try:
            self.send(job_id, args)
        except Exception as exc:  # noqa: BLE001 - the broker away: the job stays registered, sent again later
            log.warning("job %d: not sent (%s); sent again in %s s", job_id, exc, self.retry_s)
            self.report.unsent.append((job_id, args))

    def _publish(self, path: Path) -> None:
        try:
            results = self.register(path, self._sender)
        except Exception as exc:  # noqa: BLE001 - e.g. the database away: registered again later (by content hash)
            log.warning("%s: not registered (%s); tried again in %s s", path, exc, self.retry_s)
            self.report.unregistered.append(path)
            return
        for result in results:
            if result.status == "failed" and result.failure_kind == "outside":
                log.warning("%s: %s; tried again in %s s", path, result.reason, self.retry_s)
                self.report.unregistered.append(path)
                continue
            self.report.results.append(result)
            if self.on_result is not None:
                self.on_result(result)

    def _retry(self) -> None:
        paths, self.report.unregistered = self.report.unregistered, []
        jobs, self.report.unsent = self.report.unsent, []
        for job_id, args in jobs:
            self._sender(job_id, args)
        for path in paths:
            self._publish(path)


def queue_register(cli: Any, window: str, *, live: bool = True) -> Register:
    """``register(path, send)`` for :class:`SegmentPublisher`: :func:`enqueue` of one file of
    ``window`` with the command's store, rulebook and archive (the capture's segments lie in it)."""
    from windowqa.queue_ingest import QueueOptions, enqueue

    options = QueueOptions(window=window, archive=True, live=live)

    def register(path: Path, send: Send) -> list[FileResult]:
        return enqueue([path], options, session_factory=cli.sessions, rulebook=cli.rulebook,
                       archive_dir=cli.settings.resolved_archive_dir, send=send, clean_partial=False)

    return register


__all__ = ["PublishReport", "SegmentPublisher", "queue_register"]
