"""Transcriber: Whisper (faster-whisper / CTranslate2) on speech segments, in Simplified Chinese.

The engine is built explicitly from a local model folder (never downloaded, never at import)
and passed to whoever needs it. It is a façade over three rooms:

- :mod:`asr.decoder`: features, encoder, beam search with temperature fallback, filters,
  word times, for a batch of segments;
- :mod:`asr.windows`: close segments of one channel joined into one window and split back by
  word times, and stretches the decoder skipped decoded again (no model needed);
- :mod:`asr.forced`: teacher-forced token log-probabilities of given wordings.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from asr.decoder import WhisperDecoder
from asr.forced import ForcedScorer
from asr.options import DecodeOptions
from asr.rescoring import WordFrequencyLM
from asr.results import SAMPLE_RATE, SegmentResult, TranscriberStats
from asr.windows import decode_groups, recover_skipped, uncovered_stretches
from models.domain import Role, Utterance

logger = logging.getLogger("asr")

__all__ = [
    "SAMPLE_RATE",
    "DecodeOptions",
    "SegmentResult",
    "Transcriber",
    "TranscriberError",
    "TranscriberStats",
    "uncovered_stretches",
]


class TranscriberError(RuntimeError):
    """The model cannot be loaded or used; the message names the folder or input."""


class Transcriber:
    """Whisper on speech segments.

    Args:
        model_dir: a CTranslate2 Whisper folder (``windowqa models install`` builds the default).
        options: decoding options; recorded in every result's ``options``.
        device: ``cpu`` or ``cuda``.
        compute_type: CTranslate2 compute type (``int8`` on CPU).
        cpu_threads: threads for the CPU (2 on the shared machines).
        rescorer: a word language model that re-ranks the beam's hypotheses
            (``options.lm_weight``); plain beam search when None.

    Raises:
        TranscriberError: the folder is missing or is not a CTranslate2 Whisper model.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        options: DecodeOptions | None = None,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 2,
        rescorer: WordFrequencyLM | None = None,
    ) -> None:
        model_dir = Path(model_dir).expanduser()
        if not (model_dir / "model.bin").is_file():
            raise TranscriberError(
                f"{model_dir}: no CTranslate2 Whisper model here (model.bin missing); run `windowqa models install`"
            )
        from faster_whisper import WhisperModel  # heavy: loaded only when a Transcriber is built

        try:
            self._model = WhisperModel(
                str(model_dir),
                device=device,
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                num_workers=1,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise TranscriberError(f"{model_dir}: cannot load the Whisper model ({exc})") from None
        self.model_dir = model_dir
        self.options = options or DecodeOptions()
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.stats = TranscriberStats()
        self.rescorer = rescorer
        self._decoder = WhisperDecoder(self._model, self.options, rescorer)
        self._scorer = ForcedScorer(self._decoder)

    @property
    def whisper_model(self):
        """The underlying ``faster_whisper.WhisperModel`` (shared, not a copy)."""
        return self._model

    @property
    def model_id(self) -> str:
        return self.model_dir.name

    def describe(self) -> dict:
        """Model and options, for storing next to transcripts."""
        return {
            "model": self.model_id,
            "model_dir": str(self.model_dir),
            "compute_type": self.compute_type,
            "device": self.device,
            "options": asdict(self.options),
            "rescorer": getattr(self.rescorer, "dictionary", None),
        }

    # --- free decoding ------------------------------------------------------------------------

    def transcribe_segment(self, samples: np.ndarray, *, offset_s: float = 0.0) -> SegmentResult:
        """Decode one speech segment (at most 30 s of 16 kHz mono float32).

        Args:
            samples: the segment's audio.
            offset_s: where the segment starts in its recording; added to all times.

        Returns:
            The result, with ``dropped`` set (and empty text) when a filter rejected it.
        """
        return self.transcribe_segments([samples], [offset_s])[0]

    def transcribe_segments(self, pieces: list[np.ndarray], offsets_s: list[float] | None = None) -> list[SegmentResult]:
        """Decode several speech segments in one batch, one result per segment.

        The segments share one encoder call and one beam search (padded with silence to the
        longest): on a CPU the decoder's matrix products are far cheaper per row for a batch
        than for one beam, so four windows decode in about the time of two. Each segment is
        still decoded on its own audio only; nothing passes from one to another. Audio the
        decoder skipped is then decoded again and put in place (``options.continue_after_s``).

        Args:
            pieces: 16 kHz mono float32 audio of each segment, at most 30 s each.
            offsets_s: where each segment starts in its recording (0 when None).

        Returns:
            One result per segment, with ``dropped`` set (and empty text) when a filter rejected it.
        """
        pieces = [np.asarray(p, dtype=np.float32).ravel() for p in pieces]
        offsets_s = list(offsets_s) if offsets_s is not None else [0.0] * len(pieces)
        if len(offsets_s) != len(pieces):
            raise ValueError("one offset per segment")
        for piece in pieces:
            if piece.size / SAMPLE_RATE > 30.0:
                raise ValueError(
                    f"segment of {piece.size / SAMPLE_RATE:.1f} s is longer than Whisper's 30 s window; cut it first"
                )
        if not pieces:
            return []
        started = time.perf_counter()
        results = self._decode_continued(pieces, offsets_s)
        self.stats.compute_s += time.perf_counter() - started
        for piece, offset_s, result in zip(pieces, offsets_s, results):
            self.stats.audio_s += piece.size / SAMPLE_RATE
            self.stats.segments += 1
            if result.dropped:
                key = result.dropped.split(":")[0]
                self.stats.dropped[key] = self.stats.dropped.get(key, 0) + 1
                logger.debug("dropped segment at %.2f s (%s)", offset_s, result.dropped)
        return results

    def _decode_batch(self, pieces: list[np.ndarray], offsets_s: list[float]) -> list[SegmentResult]:
        return self._decoder.decode_batch(pieces, offsets_s, self.stats)

    def _decode_continued(self, pieces: list[np.ndarray], offsets_s: list[float]) -> list[SegmentResult]:
        """One batch, then the audio the decoder skipped decoded and put in place."""
        results = self._decode_batch(pieces, offsets_s)
        opts = self.options
        if not opts.word_timestamps or opts.continue_after_s <= 0:
            return results
        results, n_stretches = recover_skipped(
            pieces, offsets_s, results, self._decode_batch, min_s=opts.continue_after_s, rounds=opts.max_continuations
        )
        self.stats.skipped_stretches += n_stretches
        return results

    def transcribe_groups(
        self, groups: list[tuple[list[np.ndarray], list[float]]], *, join_s: float = 0.4
    ) -> list[list[SegmentResult]]:
        """Decode groups of close speech segments of one channel, all groups in one batch.

        The segments of a group are joined (with ``join_s`` of digital silence between them)
        and decoded together: the decoder then reads each of them next to the others' words,
        which short turns decoded alone lack, and one window replaces several padded ones.
        Only the audio is joined; no earlier text or prompt is given. The words go back to
        the segment whose span holds their end. A joined window that fails a filter or is
        longer than 30 s is decoded segment by segment instead, and so is a segment that got
        no words in its window (the decoder may skip one). See :func:`asr.windows.decode_groups`.

        Args:
            groups: per group, the 16 kHz mono audio of each segment (in time order) and where
                each starts in its recording.
            join_s: silence between two segments in a joined window.

        Returns:
            Per group, one result per segment.
        """
        return decode_groups(groups, self.transcribe_segments, join_s=join_s)

    # --- utterances ---------------------------------------------------------------------------

    def transcribe_utterance(
        self,
        samples: np.ndarray,
        *,
        start_s: float,
        role: Role = Role.UNKNOWN,
        window: str | None = None,
        channel: int | None = None,
        recording_started_at: datetime | None = None,
        source: str | None = None,
    ) -> Utterance | None:
        """Decode one segment into an :class:`Utterance`, or None when nothing usable was said.

        Args:
            samples: 16 kHz mono float32 audio of the segment.
            start_s: the segment's offset in its recording.
            role: who speaks on this channel (from the window's channel map).
            window: window id.
            channel: channel number in the recording.
            recording_started_at: wall-clock start of the recording, for absolute times.
            source: recording path or id.
        """
        result = self.transcribe_segment(samples, offset_s=start_s)
        return self.utterance_from_result(
            result, role=role, window=window, channel=channel, recording_started_at=recording_started_at, source=source
        )

    def utterance_from_result(
        self,
        result: SegmentResult,
        *,
        role: Role = Role.UNKNOWN,
        window: str | None = None,
        channel: int | None = None,
        recording_started_at: datetime | None = None,
        source: str | None = None,
    ) -> Utterance | None:
        """An :class:`Utterance` of a decoded segment, or None when it was dropped."""
        if result.dropped:
            return None
        started_at = recording_started_at + timedelta(seconds=result.start_s) if recording_started_at else None
        return Utterance(
            text=result.text,
            role=role,
            start_s=round(result.start_s, 3),
            end_s=round(result.end_s, 3),
            window=window,
            channel=channel,
            started_at=started_at,
            words=result.words,
            confidence=round(result.confidence, 4),
            source=source,
        )

    # --- forced scoring -----------------------------------------------------------------------

    def script_variants(self, text: str) -> list[str]:
        """``text`` as given and in Traditional characters (see :meth:`asr.forced.ForcedScorer.script_variants`)."""
        return self._scorer.script_variants(text)

    def encode_text(self, text: str) -> list[int]:
        """Whisper token ids of ``text`` (none for blank text)."""
        return self._scorer.encode_text(text)

    def token_logprobs(self, samples: np.ndarray, token_lists: list[list[int]]) -> list[np.ndarray]:
        """Teacher-forced natural-log probability of every token of each sequence on ``samples``.

        Args:
            samples: 16 kHz mono float32 audio, at most 30 s.
            token_lists: token sequences (from :meth:`encode_text`, possibly concatenated).

        Returns:
            Per sequence, one log-probability per token (an empty array for an empty sequence).
        """
        return self._scorer.token_logprobs(samples, token_lists)
