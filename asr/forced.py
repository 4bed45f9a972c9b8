"""Forced scoring: how well given wordings explain a stretch of audio, by the same Whisper model.

Each token sequence is forced on the audio (teacher forcing; CTranslate2 ``Whisper.align``
returns the probability of every forced text token), so a candidate phrase can be checked
against the free transcript without letting the decoder invent it.
"""

from __future__ import annotations

import numpy as np

from asr.decoder import WhisperDecoder


class ForcedScorer:
    """Teacher-forced token log-probabilities on the decoder's model and tokenizer.

    Args:
        decoder: the decoder whose model, tokenizer and encoder window are used.
    """

    def __init__(self, decoder: WhisperDecoder) -> None:
        self._decoder = decoder
        self._s2t = None

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
        """Whisper token ids of ``text`` (none for blank text)."""
        return self._decoder.tokenizer.encode(text.strip()) if text.strip() else []

    def token_logprobs(self, samples: np.ndarray, token_lists: list[list[int]]) -> list[np.ndarray]:
        """Teacher-forced natural-log probability of every token of each sequence on ``samples``.

        The end-of-text token is not scored: ``align`` reports no probability for it.

        Args:
            samples: 16 kHz mono float32 audio, at most 30 s.
            token_lists: token sequences (from :meth:`encode_text`, possibly concatenated).

        Returns:
            Per sequence, one log-probability per token (an empty array for an empty sequence).
        """
        samples = np.asarray(samples, dtype=np.float32).ravel()
        encoder_output, num_frames = self._decoder.encode(samples)
        tokenizer = self._decoder.tokenizer
        sot = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]
        out = []
        for tokens in token_lists:
            if not tokens:
                out.append(np.zeros(0))
                continue
            # one sequence per call: align() pairs each sequence with one encoder output
            res = self._decoder.model.model.align(encoder_output, sot, [list(tokens)], num_frames)[0]
            out.append(np.log(np.clip(np.asarray(res.text_token_probs, dtype=np.float64), 1e-12, 1.0)))
        return out
