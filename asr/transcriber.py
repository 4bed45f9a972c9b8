"""Transcriber: Whisper (faster-whisper / CTranslate2) on speech segments, in Simplified Chinese.

The engine is built explicitly from a local model folder (never downloaded, never at import)
and passed to whoever needs it. It transcribes *segments* that the VAD of ``audio_capture``
cut, one decoding pass per segment (or per window of close segments of one channel, joined by
:meth:`Transcriber.transcribe_groups` and split back by word times), with the encoder run on
the window's own length instead of a zero-padded 30 s window: CTranslate2 accepts shorter
inputs, and for the short turns of a service window this is most of the speed (the encoder on
30 s costs ~0.75 s on 2 threads, on 10 s ~0.09 s). Several windows are decoded in one batch
(:meth:`Transcriber.transcribe_segments`), which halves the beam search's cost per window on
a CPU.

No prompt, prefix or hotword is ever given to the decoder: biasing the model with courtesy
phrases makes it write them where nobody said them.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from asr.filters import find_known_hallucination, find_repetition_loop
from asr.rescoring import WordFrequencyLM
from models.domain import Role, Utterance, Word

logger = logging.getLogger("asr")

SAMPLE_RATE = 16_000
_FRAMES_PER_S = 100  # mel frames per second
_MAX_FRAMES = 3000
_HOP = 160  # samples per mel frame


class TranscriberError(RuntimeError):
    """The model cannot be loaded or used; the message names the folder or input."""


@dataclass(frozen=True)
class DecodeOptions:
    """How a segment is decoded and which results are dropped.

    Attributes:
        language: Whisper language code.
        beam_size: beam width at temperature 0.
        patience: beam search patience (CTranslate2), 1.0 is plain beam search.
        temperatures: fallback schedule; a hotter pass runs only when the previous result
            failed the compression-ratio or log-probability check.
        best_of: candidates sampled at temperature > 0.
        compression_ratio_threshold: gzip ratio above which a result counts as a loop.
        log_prob_threshold: mean token log-probability below which a result is retried.
        no_speech_threshold: a segment whose no-speech probability is above this and whose
            log-probability is below ``log_prob_threshold`` is dropped as non-speech.
        drop_no_speech_prob: a segment is dropped when its no-speech probability exceeds this,
            whatever its log-probability (Whisper's confident inventions on noise).
        repetition_penalty: CTranslate2 repetition penalty (1.0 = off).
        no_repeat_ngram_size: forbid repeating n-grams of this size (0 = off).
        context_pad_s: digital silence appended after the segment before the encoder; the
            encoder window is the segment plus this (at most 30 s).
        min_window_s: shortest encoder window.
        word_timestamps: align words to the audio (cross-attention, one extra pass).
        to_simplified: convert the output with OpenCC t2s (base models often write Traditional).
        max_new_tokens: cap on tokens per segment.
        continue_after_s: Whisper sometimes skips part of a window (it stops after the first
            sentence, or starts with the second), which plain decoding never notices. A
            stretch at least this long that no aligned word covers but that holds
            speech-level audio (:func:`uncovered_stretches`) is decoded as its own window and
            its words are put in place (like Whisper's own seek to the last timestamp).
            0 turns this off. Needs ``word_timestamps``.
        max_continuations: rounds of this per segment.
        lm_weight: weight of the rescorer's word log-probability per character against the
            acoustic mean log-probability per token, when a rescorer is given (chosen on the
            synthesised bank, not on the evaluation manifest).
        suppress_punctuation: forbid punctuation tokens. Otherwise most of a 5-wide beam is
            spent on the same words with different commas, and the rescorer has nothing to
            choose from; the matcher and the CER ignore punctuation anyway.
    """

    language: str = "zh"
    beam_size: int = 5
    patience: float = 1.0
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)
    best_of: int = 3
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    drop_no_speech_prob: float = 0.9
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    context_pad_s: float = 5.0
    min_window_s: float = 4.0
    word_timestamps: bool = True
    to_simplified: bool = True
    max_new_tokens: int = 220
    continue_after_s: float = 2.0
    max_continuations: int = 3
    lm_weight: float = 0.2
    suppress_punctuation: bool = True

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if not self.temperatures:
            raise ValueError("temperatures needs at least one value")


@dataclass(frozen=True)
class SegmentResult:
    """One decoded segment with the measures the filters used."""

    text: str
    start_s: float
    end_s: float
    words: tuple[Word, ...]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    dropped: str | None = None  # why the segment was dropped, None when kept

    @property
    def confidence(self) -> float:
        return float(math.exp(self.avg_logprob))


@dataclass
class TranscriberStats:
    """Time spent, for real-time factors."""

    audio_s: float = 0.0
    compute_s: float = 0.0
    segments: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    skipped_stretches: int = 0  # stretches the decoder skipped, decoded again (continue_after_s)
    batches: int = 0  # encoder + beam search calls


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


def _join_words(words) -> str:
    """Words back into text: Chinese without spaces, a space between two Latin or digit words."""
    out = ""
    for word in words:
        if out and word and out[-1].isascii() and out[-1].isalnum() and word[0].isascii() and word[0].isalnum():
            out += " "
        out += word
    return out


def _frame_levels_db(x: np.ndarray, frame: int = SAMPLE_RATE * 30 // 1000) -> np.ndarray:
    n = x.size // frame
    if n == 0:
        return np.zeros(0)
    power = np.mean(np.square(x[: n * frame].astype(np.float64).reshape(n, frame)), axis=1)
    return 10 * np.log10(power + 1e-12)


def uncovered_stretches(
    samples: np.ndarray, word_spans_s: list[tuple[float, float]], *, min_s: float = 2.0, below_db: float = 20.0,
    min_speech_s: float = 0.3,
) -> list[tuple[float, float]]:
    """Stretches of a decoded segment that no word covers but that hold speech-level audio.

    Whisper sometimes skips part of a window: it starts with the second sentence or stops
    after the first. The aligned words then leave that audio uncovered. A stretch counts when
    it lasts at least ``min_s`` (longer than the VAD's hang-over, so the silence after the
    last word is no reason) and has at least ``min_speech_s`` of 30 ms frames within
    ``below_db`` of the segment's loud frames (its 90th percentile level).

    Args:
        samples: the segment's 16 kHz mono audio.
        word_spans_s: (start_s, end_s) of the decoded words, relative to the segment, in order.

    Returns:
        (start_s, end_s) of each such stretch, relative to the segment.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> audio = np.concatenate([rng.standard_normal(16000 * 3) * 0.1, np.zeros(16000 * 3)]).astype(np.float32)
        >>> uncovered_stretches(audio, [(3.1, 3.5)])  # the first 3 s hold sound no word covers
        [(0.0, 3.1)]
        >>> uncovered_stretches(audio, [(0.2, 2.9)])  # what is left is silence
        []
    """
    duration_s = samples.size / SAMPLE_RATE
    levels = _frame_levels_db(samples)
    if levels.size == 0 or not word_spans_s:
        return []
    loud = float(np.percentile(levels, 90))
    edges = [0.0] + [t for span in word_spans_s for t in span] + [duration_s]
    out = []
    for lo_s, hi_s in zip(edges[0::2], edges[1::2]):
        lo_s, hi_s = max(0.0, lo_s), min(duration_s, hi_s)
        if hi_s - lo_s < min_s:
            continue
        inside = levels[int(lo_s / 0.03) : int(hi_s / 0.03)]
        if int(np.sum(inside > loud - below_db)) * 0.03 >= min_speech_s:
            out.append((round(lo_s, 3), round(hi_s, 3)))
    return out


def _merged(result: SegmentResult, extra: SegmentResult) -> SegmentResult:
    """A segment's result with the result of a stretch it skipped put in place by time
    (text rebuilt from the words; measures weighted by length of text)."""
    words = tuple(sorted(result.words + extra.words, key=lambda w: w.start_s))
    if extra.words[0].start_s >= result.words[-1].start_s:
        text = _join_words([result.text, extra.text])
    elif extra.words[-1].start_s <= result.words[0].start_s:
        text = _join_words([extra.text, result.text])
    else:
        text = _join_words(w.text for w in words)
    weight = len(result.text) / max(1, len(result.text) + len(extra.text))
    return replace(
        result,
        text=text,
        words=words,
        avg_logprob=weight * result.avg_logprob + (1 - weight) * extra.avg_logprob,
        no_speech_prob=min(result.no_speech_prob, extra.no_speech_prob),
        compression_ratio=_compression_ratio(text),
        temperature=max(result.temperature, extra.temperature),
    )


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
        from faster_whisper.tokenizer import Tokenizer

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
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe", language=self.options.language
        )
        self._t2s = None
        self._s2t = None
        if self.options.to_simplified:
            import opencc

            self._t2s = opencc.OpenCC("t2s")
        self._fw_options = self._faster_whisper_options(self.options)

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

    def _faster_whisper_options(self, opts: DecodeOptions):
        from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

        return TranscriptionOptions(
            beam_size=opts.beam_size,
            best_of=opts.best_of,
            patience=opts.patience,
            length_penalty=1.0,
            repetition_penalty=opts.repetition_penalty,
            no_repeat_ngram_size=opts.no_repeat_ngram_size,
            log_prob_threshold=opts.log_prob_threshold,
            no_speech_threshold=opts.no_speech_threshold,
            compression_ratio_threshold=opts.compression_ratio_threshold,
            condition_on_previous_text=False,
            prompt_reset_on_temperature=0.5,
            temperatures=list(opts.temperatures),
            initial_prompt=None,  # never: a prompt of courtesy phrases fakes courtesy hits
            prefix=None,
            suppress_blank=True,
            suppress_tokens=sorted(set(get_suppressed_tokens(self._tokenizer, [-1])) | set(self._punctuation_tokens(opts))),
            without_timestamps=True,
            max_initial_timestamp=1.0,
            word_timestamps=opts.word_timestamps,
            prepend_punctuations="\"'“¿([{-",
            append_punctuations="\"'.。,，!！?？:：”)]}、",
            multilingual=False,
            max_new_tokens=opts.max_new_tokens,
            clip_timestamps="0",
            hallucination_silence_threshold=None,
            hotwords=None,
        )

    def _punctuation_tokens(self, opts: DecodeOptions) -> list[int]:
        if not opts.suppress_punctuation:
            return []
        import unicodedata

        ids = []
        for token in range(self._tokenizer.eot):
            text = self._model.hf_tokenizer.decode([token]).strip()
            if text and "\ufffd" not in text and all(unicodedata.category(c).startswith("P") for c in text):
                ids.append(token)
        return ids

    def _simplified(self, text: str) -> str:
        return self._t2s.convert(text) if self._t2s is not None else text

    def _window_frames(self, n_samples: int) -> int:
        """Mel frames of the encoder window of a segment of ``n_samples``: the segment plus
        ``context_pad_s`` of silence, at least ``min_window_s``, at most 30 s."""
        window_s = max(self.options.min_window_s, n_samples / SAMPLE_RATE + self.options.context_pad_s)
        return min(_MAX_FRAMES, int(math.ceil(window_s)) * _FRAMES_PER_S)

    def _features(self, samples: np.ndarray, window_frames: int) -> np.ndarray:
        """Mel features of ``samples`` followed by digital silence up to ``window_frames``.

        The silence is appended *before* the mel features are computed, so the model sees the
        trailing silence it was trained on (Whisper pads its 30 s windows with silent audio).
        Padding the mel features with zeros instead, as faster-whisper does for its fixed 30 s
        window, made the shortened window loop and repeat itself: 29 % CER on the synthesised
        bank against 11 % this way.
        """
        padded = np.zeros(window_frames * _HOP, dtype=np.float32)
        n = min(samples.size, padded.size)
        padded[:n] = samples[:n]
        return self._model.feature_extractor(padded)[:, :window_frames]

    def _encode(self, samples: np.ndarray):
        """Encoder output for one segment in its own window; returns (encoder_output, content_frames)."""
        window_frames = self._window_frames(samples.size)
        features = self._features(samples, window_frames)
        content_frames = min(window_frames, int(math.ceil(samples.size / _HOP)))
        return self._model.encode(np.ascontiguousarray(features[None])), content_frames

    def _attempts(self, encoder_output, batch: int, temperature: float) -> list[tuple]:
        """One decoding pass at ``temperature`` over a batch of encoder outputs, choosing
        among each item's hypotheses with the rescorer when there is one.

        Returns:
            Per item (tokens, acoustic mean log-probability, no-speech probability,
            temperature, compression ratio) of the chosen hypothesis.
        """
        opts = self.options
        prompt = self._model.get_prompt(self._tokenizer, [], without_timestamps=True)
        if temperature > 0:
            kwargs = {"beam_size": 1, "num_hypotheses": opts.best_of, "sampling_topk": 0, "sampling_temperature": temperature}
        else:
            n_best = opts.beam_size if self.rescorer is not None else 1
            kwargs = {"beam_size": opts.beam_size, "patience": opts.patience, "num_hypotheses": n_best}
        results = self._model.model.generate(
            encoder_output,
            [prompt] * batch,
            length_penalty=1.0,
            repetition_penalty=opts.repetition_penalty,
            no_repeat_ngram_size=opts.no_repeat_ngram_size,
            max_length=len(prompt) + opts.max_new_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._fw_options.suppress_tokens,
            **kwargs,
        )
        attempts = []
        for result in results:
            hypotheses = []
            for ids, score in zip(result.sequences_ids, result.scores):
                ids = [t for t in ids if t < self._tokenizer.eot]
                # scores are sum/len with length_penalty 1; Whisper's average counts the EOT too
                avg = score * len(ids) / (len(ids) + 1)
                total = avg
                if self.rescorer is not None and len(result.sequences_ids) > 1:
                    text = self._simplified(self._tokenizer.decode(ids))
                    total = avg + opts.lm_weight * self.rescorer.log_prob_per_char(text)
                hypotheses.append((total, ids, avg))
            _, tokens, avg_logprob = max(hypotheses, key=lambda h: h[0])
            ratio = _compression_ratio(self._tokenizer.decode(tokens).strip())
            attempts.append((tokens, avg_logprob, float(result.no_speech_prob), temperature, ratio))
        return attempts

    def _needs_fallback(self, attempt: tuple) -> bool:
        opts = self.options
        _, avg_logprob, no_speech, _, ratio = attempt
        if no_speech > opts.no_speech_threshold and avg_logprob < opts.log_prob_threshold:
            return False  # silence: a hotter pass would only invent text
        return ratio > opts.compression_ratio_threshold or avg_logprob < opts.log_prob_threshold

    def _with_fallback(self, first: tuple, samples: np.ndarray) -> tuple:
        """Whisper's temperature fallback for one segment whose first pass failed its checks:
        hotter passes on the segment alone, then the best usable attempt."""
        opts = self.options
        attempts = [first]
        encoder_output, _ = self._encode(samples)
        for temperature in opts.temperatures[1:]:
            attempt = self._attempts(encoder_output, 1, temperature)[0]
            attempts.append(attempt)
            if not self._needs_fallback(attempt):
                return attempt
        usable = [a for a in attempts if a[4] <= opts.compression_ratio_threshold] or attempts
        return max(usable, key=lambda a: a[1])

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
        still decoded on its own audio only; nothing passes from one to another.

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

    def _decode_continued(self, pieces: list[np.ndarray], offsets_s: list[float]) -> list[SegmentResult]:
        """:meth:`_decode_batch`, then the audio the decoder skipped decoded and put in place."""
        results = self._decode_batch(pieces, offsets_s)
        opts = self.options
        if not opts.word_timestamps or opts.continue_after_s <= 0:
            return results
        todo = list(range(len(pieces)))
        for _ in range(opts.max_continuations):
            stretches, owners = [], []
            for i in todo:
                result = results[i]
                if result.dropped or not result.words:
                    continue
                for lo_s, hi_s in uncovered_stretches(
                    pieces[i], [(w.start_s - offsets_s[i], w.end_s - offsets_s[i]) for w in result.words],
                    min_s=opts.continue_after_s,
                ):
                    stretches.append(pieces[i][int(lo_s * SAMPLE_RATE) : int(hi_s * SAMPLE_RATE)])
                    owners.append((i, offsets_s[i] + lo_s))
            if not stretches:
                break
            self.stats.skipped_stretches += len(stretches)
            todo = []
            for (i, _), extra in zip(owners, self._decode_batch(stretches, [o for _, o in owners])):
                if extra.dropped or not extra.words:
                    continue
                results[i] = _merged(results[i], extra)
                if i not in todo:
                    todo.append(i)
        return results

    def _decode_batch(self, pieces: list[np.ndarray], offsets_s: list[float]) -> list[SegmentResult]:
        opts = self.options
        results: list[SegmentResult | None] = [None] * len(pieces)
        todo = []
        for i, (samples, offset_s) in enumerate(zip(pieces, offsets_s)):
            if samples.size < SAMPLE_RATE // 10:
                end_s = offset_s + samples.size / SAMPLE_RATE
                results[i] = SegmentResult("", offset_s, end_s, (), 0.0, 1.0, 0.0, 0.0, dropped="too_short")
            else:
                todo.append(i)
        if not todo:
            return results
        self.stats.batches += 1
        window_frames = max(self._window_frames(pieces[i].size) for i in todo)
        features = np.stack([self._features(pieces[i], window_frames) for i in todo])
        encoder_output = self._model.encode(np.ascontiguousarray(features))
        content_frames = [min(window_frames, int(math.ceil(pieces[i].size / _HOP))) for i in todo]
        attempts = self._attempts(encoder_output, len(todo), opts.temperatures[0])
        kept: dict[int, tuple] = {}  # position in todo -> (tokens, text, avg_logprob, no_speech, ratio, temperature)
        for k, i in enumerate(todo):
            attempt = attempts[k]
            if len(opts.temperatures) > 1 and self._needs_fallback(attempt):
                attempt = self._with_fallback(attempt, pieces[i])
            tokens, avg_logprob, no_speech, temperature, compression_ratio = attempt
            offset_s = offsets_s[i]
            end_s = offset_s + pieces[i].size / SAMPLE_RATE
            reason, text, ratio = self._filter(tokens, avg_logprob, no_speech, temperature)
            if reason:
                results[i] = SegmentResult(
                    "", offset_s, end_s, (), avg_logprob, no_speech, compression_ratio, temperature, dropped=reason
                )
                continue
            if not opts.word_timestamps:
                results[i] = SegmentResult(text, offset_s, end_s, (), avg_logprob, no_speech, ratio, temperature)
                continue
            kept[k] = (tokens, text, avg_logprob, no_speech, ratio, temperature)
        if kept:
            words = self._word_times(encoder_output, todo, kept, content_frames)
            for k, (tokens, text, avg_logprob, no_speech, ratio, temperature) in kept.items():
                i = todo[k]
                duration_s = pieces[i].size / SAMPLE_RATE
                offset_s = offsets_s[i]
                results[i] = SegmentResult(
                    text,
                    offset_s,
                    offset_s + duration_s,
                    tuple(
                        Word(
                            text=w.text,
                            start_s=round(offset_s + min(w.start_s, duration_s), 3),
                            end_s=round(offset_s + min(w.end_s, duration_s), 3),
                            probability=w.probability,
                        )
                        for w in words[k]
                    ),
                    avg_logprob,
                    no_speech,
                    ratio,
                    temperature,
                )
        return results

    def _filter(self, tokens: list[int], avg_logprob: float, no_speech: float, temperature: float):
        """(why the result is dropped or None, Simplified text, its compression ratio)."""
        opts = self.options
        raw_text = self._tokenizer.decode(tokens).strip()
        if not raw_text:
            return "empty", "", 0.0
        if no_speech > opts.no_speech_threshold and avg_logprob < opts.log_prob_threshold:
            return f"no_speech: p={no_speech:.2f} logprob={avg_logprob:.2f}", "", 0.0
        if no_speech > opts.drop_no_speech_prob:
            return f"no_speech: p={no_speech:.2f}", "", 0.0
        if avg_logprob < opts.log_prob_threshold:
            # every temperature of the fallback failed: what is left is a guess, not a transcript
            return f"low_logprob: {avg_logprob:.2f} at temperature {temperature}", "", 0.0
        text = self._simplified(raw_text)
        ratio = _compression_ratio(text)
        if ratio > opts.compression_ratio_threshold:
            return f"compression_ratio: {ratio:.2f}", "", ratio
        pattern = find_known_hallucination(text)
        if pattern:
            return f"known_hallucination: {pattern}", "", ratio
        loop = find_repetition_loop(text)
        if loop:
            return f"repetition: {loop}", "", ratio
        return None, text, ratio

    def _word_times(self, encoder_output, todo: list[int], kept: dict[int, tuple], content_frames: list[int]):
        """Words with times relative to each segment's start, for the kept items of a batch.

        The alignment runs over the whole batch (its encoder output cannot be split); an item
        that was dropped is aligned with one placeholder token and its words are ignored.
        """
        placeholder = self._tokenizer.encode("嗯")[:1]
        segments = []
        for k in range(len(todo)):
            tokens = kept[k][0] if k in kept else placeholder
            segments.append([{"seek": 0, "start": 0.0, "end": content_frames[k] / _FRAMES_PER_S, "tokens": tokens}])
        self._model.add_word_timestamps(
            segments,
            self._tokenizer,
            encoder_output,
            content_frames,
            self._fw_options.prepend_punctuations,
            self._fw_options.append_punctuations,
            last_speech_timestamp=0.0,
        )
        out = {}
        for k in kept:
            out[k] = [
                Word(
                    text=self._simplified(w["word"]).strip(),
                    start_s=float(w["start"]),
                    end_s=float(w["end"]),
                    probability=round(float(w["probability"]), 4),
                )
                for w in segments[k][0].get("words", [])
                if w["word"].strip()
            ]
        return out

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
        no words in its window (the decoder may skip one).

        Args:
            groups: per group, the 16 kHz mono audio of each segment (in time order) and where
                each starts in its recording.
            join_s: silence between two segments in a joined window.

        Returns:
            Per group, one result per segment.
        """
        windows, spans_of = [], []  # a group's joined audio (None: longer than 30 s)
        for pieces, offsets_s in groups:
            if len(pieces) != len(offsets_s):
                raise ValueError("one offset per piece")
            joined, spans = self._join(pieces, join_s)
            spans_of.append(spans)
            windows.append(joined)
        batch = [k for k, w in enumerate(windows) if w is not None]
        decoded = dict(zip(batch, self.transcribe_segments([windows[k] for k in batch], [0.0] * len(batch))))
        out: list[list[SegmentResult | None]] = []
        alone: list[tuple[int, int]] = []  # (group, segment) decoded alone
        for g, (pieces, offsets_s) in enumerate(groups):
            whole = decoded.get(g)
            if whole is None or whole.dropped and len(pieces) > 1:
                out.append([None] * len(pieces))
                alone += [(g, j) for j in range(len(pieces))]
                continue
            if len(pieces) == 1:
                out.append([self._shifted(whole, offsets_s[0])])
                continue
            split = self._split(whole, pieces, offsets_s, spans_of[g])
            for j, result in enumerate(split):
                if result.dropped == "no_words":
                    split[j] = None
                    alone.append((g, j))
            out.append(split)
        if alone:
            results = self.transcribe_segments([groups[g][0][j] for g, j in alone], [groups[g][1][j] for g, j in alone])
            for (g, j), result in zip(alone, results):
                out[g][j] = result
        return out

    @staticmethod
    def _shifted(result: SegmentResult, offset_s: float) -> SegmentResult:
        """``result`` of a segment decoded at offset 0, moved to ``offset_s``."""
        if not offset_s:
            return result
        words = tuple(
            Word(w.text, round(w.start_s + offset_s, 3), round(w.end_s + offset_s, 3), w.probability) for w in result.words
        )
        return replace(result, start_s=result.start_s + offset_s, end_s=result.end_s + offset_s, words=words)

    def _join(self, pieces: list[np.ndarray], join_s: float):
        """(joined audio, span of each piece in it), or (None, spans) when more than 30 s."""
        gap = np.zeros(int(join_s * SAMPLE_RATE), np.float32)
        spans, parts, position = [], [], 0
        for k, piece in enumerate(pieces):
            piece = np.asarray(piece, dtype=np.float32).ravel()
            if k:
                parts.append(gap)
                position += gap.size
            spans.append((position / SAMPLE_RATE, (position + piece.size) / SAMPLE_RATE))
            parts.append(piece)
            position += piece.size
        if position / SAMPLE_RATE > 30.0:
            return None, spans
        return (np.concatenate(parts) if len(parts) > 1 else parts[0]), spans

    def _split(self, whole: SegmentResult, pieces, offsets_s, spans) -> list[SegmentResult]:
        """The words of a joined window back to their segments (``dropped="no_words"`` for a
        segment that got none)."""
        words: list[list[Word]] = [[] for _ in pieces]
        for word in whole.words:
            # Whisper's word times tend to start early (a word after a pause is often placed
            # in the pause): a word goes to the segment whose span holds its end, else to the
            # nearest one
            end = word.end_s - 0.01
            k = min(range(len(spans)), key=lambda i: max(spans[i][0] - end, end - spans[i][1], 0.0))
            lo, hi = spans[k]
            shift = offsets_s[k] - lo
            words[k].append(
                Word(
                    text=word.text,
                    start_s=round(min(max(word.start_s, lo), hi) + shift, 3),
                    end_s=round(min(max(word.end_s, lo), hi) + shift, 3),
                    probability=word.probability,
                )
            )
        results = []
        for k, piece in enumerate(pieces):
            start_s, end_s = offsets_s[k], offsets_s[k] + np.asarray(piece).size / SAMPLE_RATE
            text = _join_words(w.text for w in words[k])
            results.append(
                SegmentResult(
                    text, start_s, end_s, tuple(words[k]), whole.avg_logprob, whole.no_speech_prob,
                    _compression_ratio(text) if text else 0.0, whole.temperature,
                    dropped=None if text else "no_words",
                )
            )
        return results

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

    def script_variants(self, text: str) -> list[str]:
        """``text`` as given and in Traditional characters (OpenCC s2t), without duplicates.

        Whisper base prefers to write Chinese in Traditional characters (the output is converted
        to Simplified afterwards), so a Simplified wording forced on the audio scores low for
        its script alone; scoring both and keeping the better one compares wordings, not scripts.
        """
        if self._s2t is None:
            import opencc

            self._s2t = opencc.OpenCC("s2t")
        traditional = self._s2t.convert(text)
        return [text] if traditional == text else [text, traditional]

    def encode_text(self, text: str) -> list[int]:
        """Whisper token ids of ``text``."""
        return self._tokenizer.encode(text.strip()) if text.strip() else []

    def token_logprobs(self, samples: np.ndarray, token_lists: list[list[int]]) -> list[np.ndarray]:
        """Teacher-forced natural-log probability of every token of each sequence on ``samples``.

        Args:
            samples: 16 kHz mono float32 audio, at most 30 s.
            token_lists: token sequences (from :meth:`encode_text`, possibly concatenated).
        """
        samples = np.asarray(samples, dtype=np.float32).ravel()
        encoder_output, num_frames = self._encode(samples)
        sot = list(self._tokenizer.sot_sequence) + [self._tokenizer.no_timestamps]
        out = []
        for tokens in token_lists:
            if not tokens:
                out.append(np.zeros(0))
                continue
            res = self._model.model.align(encoder_output, sot, [list(tokens)], num_frames)[0]
            out.append(np.log(np.clip(np.asarray(res.text_token_probs, dtype=np.float64), 1e-12, 1.0)))
        return out

    def count_tokens(self, text: str) -> int:
        """Number of Whisper tokens of ``text`` (for per-token comparisons of scores)."""
        return len(self._tokenizer.encode(text.strip())) if text.strip() else 0

    def score_text(self, samples: np.ndarray, texts: list[str], *, reduce: str = "mean") -> list[float]:
        """Teacher-forced mean log-probability of each text on one segment of audio.

        The same model scores how well each given wording explains the audio
        (CTranslate2 ``Whisper.align`` returns the probability of every forced text token).
        Used to verify a candidate phrase against the free transcript without letting the
        decoder invent it.

        Args:
            samples: 16 kHz mono float32 audio, at most 30 s.
            texts: wordings to score (Simplified or Traditional Chinese).

            reduce: ``mean`` (per token) or ``sum`` (whole text) of the natural-log probabilities.

        Returns:
            The log-probability of each text (higher is better); -inf for an empty text.
        """
        if reduce not in ("mean", "sum"):
            raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
        samples = np.asarray(samples, dtype=np.float32).ravel()
        encoder_output, num_frames = self._encode(samples)
        token_lists = [self._tokenizer.encode(t.strip()) for t in texts]
        scores = [-math.inf] * len(texts)
        todo = [i for i, toks in enumerate(token_lists) if toks]
        if not todo:
            return scores
        sot = list(self._tokenizer.sot_sequence) + [self._tokenizer.no_timestamps]
        # One text per call: align() pairs each text with one encoder output. The end-of-text
        # token is not scored: align() reports no probability for it.
        results = [self._model.model.align(encoder_output, sot, [token_lists[i]], num_frames)[0] for i in todo]
        for i, res in zip(todo, results):
            probs = np.asarray(res.text_token_probs, dtype=np.float64)
            logs = np.log(np.clip(probs, 1e-12, 1.0))
            if probs.size:
                scores[i] = float(np.mean(logs) if reduce == "mean" else np.sum(logs))
        return scores
