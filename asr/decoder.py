"""The decoder: Whisper's encoder and beam search (CTranslate2) on a batch of segments.

Each segment's encoder window is its own length plus a little silence instead of a zero-padded
30 s window: CTranslate2 accepts shorter inputs, and for the short turns of a service window
this is most of the speed (the encoder on 30 s costs ~0.75 s on 2 threads, on 10 s ~0.09 s).
A batch shares one encoder call and one beam search, which halves the beam search's cost per
window on a CPU. Then Whisper's temperature fallback for the items that failed, the filters
that drop non-speech and inventions, and word times by cross-attention.

No prompt, prefix or hotword is ever given to the decoder: biasing the model with courtesy
phrases makes it write them where nobody said them.
"""

from __future__ import annotations

import math
import unicodedata

import numpy as np

from asr.filters import find_known_hallucination, find_repetition_loop
from asr.options import DecodeOptions
from asr.rescoring import WordFrequencyLM
from asr.results import SAMPLE_RATE, SegmentResult, TranscriberStats, compression_ratio
from models.domain import Word

_FRAMES_PER_S = 100  # mel frames per second
_MAX_FRAMES = 3000
_HOP = 160  # samples per mel frame
# how faster-whisper glues punctuation to the word beside it in word times
_PREPEND_PUNCTUATIONS = "\"'“¿([{-"
_APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"

# (tokens, acoustic mean log-probability, no-speech probability, temperature, compression ratio)
Attempt = tuple[list[int], float, float, float, float]


class WhisperDecoder:
    """Decodes batches of segments with one loaded model.

    Args:
        model: a loaded ``faster_whisper.WhisperModel``.
        options: decoding options (shared with the transcriber, not copied).
        rescorer: a word language model that re-ranks the beam's hypotheses
            (``options.lm_weight``); plain beam search when None.
    """

    def __init__(self, model, options: DecodeOptions, rescorer: WordFrequencyLM | None = None) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = model
        self.options = options
        self.rescorer = rescorer
        self.tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=options.language
        )
        self._t2s = None
        if options.to_simplified:
            import opencc

            self._t2s = opencc.OpenCC("t2s")
        suppressed = set(get_suppressed_tokens(self.tokenizer, [-1])) | set(self._punctuation_tokens())
        self._suppress_tokens = sorted(suppressed)

    def _punctuation_tokens(self) -> list[int]:
        if not self.options.suppress_punctuation:
            return []
        ids = []
        for token in range(self.tokenizer.eot):
            text = self.model.hf_tokenizer.decode([token]).strip()
            if text and "\ufffd" not in text and all(unicodedata.category(c).startswith("P") for c in text):
                ids.append(token)
        return ids

    def simplified(self, text: str) -> str:
        """``text`` in Simplified characters when ``options.to_simplified``."""
        return self._t2s.convert(text) if self._t2s is not None else text

    # --- features and encoder -----------------------------------------------------------------

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
        return self.model.feature_extractor(padded)[:, :window_frames]

    def encode(self, samples: np.ndarray):
        """Encoder output for one segment in its own window; returns (encoder_output, content_frames)."""
        window_frames = self._window_frames(samples.size)
        features = self._features(samples, window_frames)
        content_frames = min(window_frames, int(math.ceil(samples.size / _HOP)))
        return self.model.encode(np.ascontiguousarray(features[None])), content_frames

    # --- beam search, fallback, filters -------------------------------------------------------

    def _attempts(self, encoder_output, batch: int, temperature: float) -> list[Attempt]:
        """One decoding pass at ``temperature`` over a batch of encoder outputs, choosing
        among each item's hypotheses with the rescorer when there is one.

        Returns:
            Per item, the :data:`Attempt` of the chosen hypothesis.
        """
        opts = self.options
        prompt = self.model.get_prompt(self.tokenizer, [], without_timestamps=True)
        if temperature > 0:
            kwargs = {"beam_size": 1, "num_hypotheses": opts.best_of, "sampling_topk": 0, "sampling_temperature": temperature}
        else:
            n_best = opts.beam_size if self.rescorer is not None else 1
            kwargs = {"beam_size": opts.beam_size, "patience": opts.patience, "num_hypotheses": n_best}
        results = self.model.model.generate(
            encoder_output,
            [prompt] * batch,
            length_penalty=1.0,
            repetition_penalty=opts.repetition_penalty,
            no_repeat_ngram_size=opts.no_repeat_ngram_size,
            max_length=len(prompt) + opts.max_new_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress_tokens,
            **kwargs,
        )
        attempts = []
        for result in results:
            hypotheses = []
            for ids, score in zip(result.sequences_ids, result.scores):
                ids = [t for t in ids if t < self.tokenizer.eot]
                # scores are sum/len with length_penalty 1; Whisper's average counts the EOT too
                avg = score * len(ids) / (len(ids) + 1)
                total = avg
                if self.rescorer is not None and len(result.sequences_ids) > 1:
                    text = self.simplified(self.tokenizer.decode(ids))
                    total = avg + opts.lm_weight * self.rescorer.log_prob_per_char(text)
                hypotheses.append((total, ids, avg))
            _, tokens, avg_logprob = max(hypotheses, key=lambda h: h[0])
            ratio = compression_ratio(self.tokenizer.decode(tokens).strip())
            attempts.append((tokens, avg_logprob, float(result.no_speech_prob), temperature, ratio))
        return attempts

    def _needs_fallback(self, attempt: Attempt) -> bool:
        opts = self.options
        _, avg_logprob, no_speech, _, ratio = attempt
        if no_speech > opts.no_speech_threshold and avg_logprob < opts.log_prob_threshold:
            return False  # silence: a hotter pass would only invent text
        return ratio > opts.compression_ratio_threshold or avg_logprob < opts.log_prob_threshold

    def _with_fallback(self, first: Attempt, samples: np.ndarray) -> Attempt:
        """Whisper's temperature fallback for one segment whose first pass failed its checks:
        hotter passes on the segment alone, then the best usable attempt."""
        opts = self.options
        attempts = [first]
        encoder_output, _ = self.encode(samples)
        for temperature in opts.temperatures[1:]:
            attempt = self._attempts(encoder_output, 1, temperature)[0]
            attempts.append(attempt)
            if not self._needs_fallback(attempt):
                return attempt
        usable = [a for a in attempts if a[4] <= opts.compression_ratio_threshold] or attempts
        return max(usable, key=lambda a: a[1])

    def _filter(self, tokens: list[int], avg_logprob: float, no_speech: float, temperature: float):
        """(why the result is dropped or None, Simplified text, its compression ratio)."""
        opts = self.options
        raw_text = self.tokenizer.decode(tokens).strip()
        if not raw_text:
            return "empty", "", 0.0
        if no_speech > opts.no_speech_threshold and avg_logprob < opts.log_prob_threshold:
            return f"no_speech: p={no_speech:.2f} logprob={avg_logprob:.2f}", "", 0.0
        if no_speech > opts.drop_no_speech_prob:
            return f"no_speech: p={no_speech:.2f}", "", 0.0
        if avg_logprob < opts.log_prob_threshold:
            # every temperature of the fallback failed: what is left is a guess, not a transcript
            return f"low_logprob: {avg_logprob:.2f} at temperature {temperature}", "", 0.0
        text = self.simplified(raw_text)
        ratio = compression_ratio(text)
        if ratio > opts.compression_ratio_threshold:
            return f"compression_ratio: {ratio:.2f}", "", ratio
        pattern = find_known_hallucination(text)
        if pattern:
            return f"known_hallucination: {pattern}", "", ratio
        loop = find_repetition_loop(text)
        if loop:
            return f"repetition: {loop}", "", ratio
        return None, text, ratio

    # --- word times ---------------------------------------------------------------------------

    def _word_times(self, encoder_output, todo: list[int], kept: dict[int, tuple], content_frames: list[int]):
        """Words with times relative to each segment's start, for the kept items of a batch.

        The alignment runs over the whole batch (its encoder output cannot be split); an item
        that was dropped is aligned with one placeholder token and its words are ignored.
        """
        placeholder = self.tokenizer.encode("嗯")[:1]
        segments = []
        for k in range(len(todo)):
            tokens = kept[k][0] if k in kept else placeholder
            segments.append([{"seek": 0, "start": 0.0, "end": content_frames[k] / _FRAMES_PER_S, "tokens": tokens}])
        self.model.add_word_timestamps(
            segments,
            self.tokenizer,
            encoder_output,
            content_frames,
            _PREPEND_PUNCTUATIONS,
            _APPEND_PUNCTUATIONS,
            last_speech_timestamp=0.0,
        )
        out = {}
        for k in kept:
            out[k] = [
                Word(
                    text=self.simplified(w["word"]).strip(),
                    start_s=float(w["start"]),
                    end_s=float(w["end"]),
                    probability=round(float(w["probability"]), 4),
                )
                for w in segments[k][0].get("words", [])
                if w["word"].strip()
            ]
        return out

    # --- a batch ------------------------------------------------------------------------------

    def decode_batch(
        self, pieces: list[np.ndarray], offsets_s: list[float], stats: TranscriberStats | None = None
    ) -> list[SegmentResult]:
        """Decode segments in one batch (one encoder call, one beam search), one result per segment.

        Args:
            pieces: 16 kHz mono float32 audio of each segment, at most 30 s each.
            offsets_s: where each segment starts in its recording; added to all times.
            stats: counts the batch (``batches``) when given.

        Returns:
            One result per segment, with ``dropped`` set (and empty text) when a filter
            rejected it or the segment is shorter than 0.1 s.
        """
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
        if stats is not None:
            stats.batches += 1
        window_frames = max(self._window_frames(pieces[i].size) for i in todo)
        features = np.stack([self._features(pieces[i], window_frames) for i in todo])
        encoder_output = self.model.encode(np.ascontiguousarray(features))
        content_frames = [min(window_frames, int(math.ceil(pieces[i].size / _HOP))) for i in todo]
        attempts = self._attempts(encoder_output, len(todo), opts.temperatures[0])
        kept: dict[int, tuple] = {}  # position in todo -> (tokens, text, avg_logprob, no_speech, ratio, temperature)
        for k, i in enumerate(todo):
            attempt = attempts[k]
            if len(opts.temperatures) > 1 and self._needs_fallback(attempt):
                attempt = self._with_fallback(attempt, pieces[i])
            tokens, avg_logprob, no_speech, temperature, ratio_of_tokens = attempt
            offset_s, end_s = offsets_s[i], offsets_s[i] + pieces[i].size / SAMPLE_RATE
            reason, text, ratio = self._filter(tokens, avg_logprob, no_speech, temperature)
            if reason:
                results[i] = SegmentResult(
                    "", offset_s, end_s, (), avg_logprob, no_speech, ratio_of_tokens, temperature, dropped=reason
                )
            elif not opts.word_timestamps:
                results[i] = SegmentResult(text, offset_s, end_s, (), avg_logprob, no_speech, ratio, temperature)
            else:
                kept[k] = (tokens, text, avg_logprob, no_speech, ratio, temperature)
        if kept:
            words = self._word_times(encoder_output, todo, kept, content_frames)
            for k, (_, text, avg_logprob, no_speech, ratio, temperature) in kept.items():
                i = todo[k]
                results[i] = _timed_result(
                    text, words[k], offsets_s[i], pieces[i].size / SAMPLE_RATE, avg_logprob, no_speech, ratio, temperature
                )
        return results


def _timed_result(
    text: str, words: list[Word], offset_s: float, duration_s: float, avg_logprob: float, no_speech: float,
    ratio: float, temperature: float,
) -> SegmentResult:
    """A kept segment's result, its word times (relative to the segment) moved to the
    recording's clock and kept inside the segment."""
    return SegmentResult(
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
            for w in words
        ),
        avg_logprob,
        no_speech,
        ratio,
        temperature,
    )
