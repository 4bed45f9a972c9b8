"""Decoding options: how a segment is decoded and which results are dropped (recorded with every transcript)."""

from __future__ import annotations

from dataclasses import dataclass


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
            speech-level audio (:func:`asr.windows.uncovered_stretches`) is decoded as its own window and
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
