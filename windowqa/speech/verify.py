"""Phrase verification: the text matcher's near misses confirmed against the audio.

ASR slips such as 请慢走 → 请问走 are recovered only this way: the rule's wording is scored on
the utterance's audio by the same Whisper model that transcribed it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from asr.transcriber import Transcriber
from audio_capture.channels import ChannelMap
from models.domain import MatchMethod, RuleFamily, RuleHit, Utterance
from models.rulebook import SLOT
from windowqa.speech.options import PipelineOptions, PipelineStats
from windowqa.speech.pipeline import heard_utterances
from windowqa.utterance_stream import HeardUtterance, utterance_stream

logger = logging.getLogger("windowqa")


@dataclass(frozen=True)
class VerifyOptions:
    """When a near miss of the text matcher is confirmed against the audio.

    The utterance's free transcript and the same transcript with the near-miss span replaced
    by the rule's wording are both scored on the utterance's audio by the same Whisper model
    (teacher-forced log-probabilities). The rule's wording is accepted only when its tokens
    explain the audio nearly as well as the decoder's own tokens for that span did, given the
    same preceding text, and are themselves a likely reading.

    A wording with slots (请到××窗口办理) is scored with each inner ×× filled by the transcript's
    own text for that slot (``NearMiss.slot_spans``: 请到一岛窗口办理 for 请到一岛枪头办理),
    and a ×× at either end of the wording left out (its filler lies outside the span, in the
    prefix or suffix both readings share). The filler is the decoder's own text on both sides,
    so its tokens are left out of both means: only the rule's fixed words are compared with
    what the decoder wrote in their place, at the same thresholds as a wording without slots.
    A near miss whose slot filler is empty is not verified.

    Attributes:
        max_deficit_per_token: the mean log-probability of the rule's tokens may fall short of
            the free span's by at most this much (nats per token).
        min_candidate_logprob: mean log-probability per token the rule's wording must reach.
        max_candidates: near misses verified per utterance (best pinyin scores first).
    """

    # Calibrated on the synthesised bank at 10 dB SNR babble (seed 0, 61 near misses): the
    # spoken wordings had span deficits up to 0.53 nats/token (and one at 1.36), the first
    # unspoken one came at 1.33; benchmarks/make_noisy_phrases.py --seed 1 is the check set.
    max_deficit_per_token: float = 0.8
    min_candidate_logprob: float = -1.25
    max_candidates: int = 4


def _span_scores(
    transcriber: Transcriber,
    audio: np.ndarray,
    prefix: str,
    free_pieces: list[tuple[str, bool]],
    rule_pieces: list[tuple[str, bool]],
    suffix: str,
):
    """Log-probabilities of the free span's tokens and of the rule wording's tokens (each after
    the same prefix), and of the whole rule sentence; each sequence in its better script.

    A span is given as pieces ``(text, is_filler)``, tokenised apart so each token is known to
    belong to a slot filler or not; the masks say which tokens are fillers. All readings are
    scored in one call (one pass of the encoder over the audio).
    """
    token_lists: list[list[int]] = []
    layouts: list[tuple[int, int, np.ndarray]] = []  # (which span, head length, filler mask)
    for which, pieces in enumerate((free_pieces, rule_pieces)):
        joined = "\x00".join([prefix, *(text for text, _ in pieces), suffix])
        for variant in transcriber.script_variants(joined):
            parts = variant.split("\x00")
            if len(parts) != len(pieces) + 2:  # a conversion that ate a separator: not comparable
                continue
            head = transcriber.encode_text(parts[0])
            body: list[int] = []
            mask: list[bool] = []
            for (_, is_filler), text in zip(pieces, parts[1:-1]):
                ids = transcriber.encode_text(text)
                body += ids
                mask += [is_filler] * len(ids)
            token_lists.append(head + body + transcriber.encode_text(parts[-1]))
            layouts.append((which, len(head), np.asarray(mask, dtype=bool)))
    logprobs = transcriber.token_logprobs(audio, token_lists)
    best: dict[int, tuple[float, np.ndarray, np.ndarray, np.ndarray]] = {}
    for (which, n_head, mask), lp in zip(layouts, logprobs):
        total = float(lp.sum())
        if which not in best or total > best[which][0]:
            best[which] = (total, lp[n_head : n_head + len(mask)], mask, lp)
    _, free_span_lp, free_mask, _ = best[0]
    _, rule_span_lp, rule_mask, rule_lp = best[1]
    return free_span_lp, free_mask, rule_span_lp, rule_mask, rule_lp


Pieces = list[tuple[str, bool]]  # a span as (text, is_filler) pieces


def _clean(piece: str) -> str:
    """Punctuation as a space, as the decoder writes a pause."""
    return re.sub(r"[^\w]+", " ", piece).strip()


def _pieces_of(miss, text: str) -> tuple[Pieces, Pieces] | None:
    """The free span and the rule's wording as ``(text, is_filler)`` pieces, each inner ××
    of the wording filled with the transcript's text for it; None when a filler cannot be
    located or is empty."""
    pieces = miss.template.split(SLOT)
    if len(pieces) == 1:
        return [(text[miss.start : miss.end], False)], [(_clean(miss.template), False)]
    if len(miss.slot_spans) != len(pieces) - 1:
        return None
    rule: Pieces = []
    free: Pieces = []
    at = miss.start
    for j, piece in enumerate(pieces):
        if _clean(piece):
            rule.append((_clean(piece), False))
        if j == len(pieces) - 1:
            break
        if not any(_clean(p) for p in pieces[: j + 1]) or not any(_clean(p) for p in pieces[j + 1 :]):
            continue  # a ×× at either end: its filler lies outside the span, shared by both readings
        s, e = miss.slot_spans[j]
        filler = _clean(text[s:e])
        if not filler or not (at <= s < e <= miss.end):
            return None
        rule.append((filler, True))
        free += [(text[at:s], False), (text[s:e], True)]
        at = e
    free.append((text[at : miss.end], False))
    return [p for p in free if p[0].strip()], rule


def _verified_hit(miss, text: str, pieces: tuple[Pieces, Pieces], audio: np.ndarray, transcriber: Transcriber, options: VerifyOptions, rulebook_version: str) -> RuleHit | None:
    """The near miss as an ``audio`` hit when the rule's wording explains the audio well
    enough (:class:`VerifyOptions`), else None."""
    free_pieces, rule_pieces = pieces
    # The decoder writes no punctuation (DecodeOptions.suppress_punctuation) and puts a
    # space where a pause or comma would be: score the wording the same way. Prefix, span
    # and suffix are tokenised apart so the span's tokens can be compared on their own,
    # given the same preceding text.
    free_span_lp, free_mask, rule_span_lp, rule_mask, rule_lp = _span_scores(
        transcriber, audio, text[: miss.start], free_pieces, rule_pieces, text[miss.end :]
    )
    # slot fillers are the decoder's own text in both readings: compare the fixed words only
    rule_fixed, free_fixed = rule_span_lp[~rule_mask], free_span_lp[~free_mask]
    rule_mean = float(np.mean(rule_fixed)) if rule_fixed.size else -np.inf
    free_mean = float(np.mean(free_fixed)) if free_fixed.size else -np.inf
    deficit = free_mean - rule_mean if free_fixed.size and rule_fixed.size else np.inf
    whole_rule = float(np.mean(rule_lp)) if rule_lp.size else -np.inf
    accepted = deficit <= options.max_deficit_per_token and rule_mean >= options.min_candidate_logprob
    logger.debug(
        "verify %s in %r as %r: span %.2f vs free %.2f (deficit %.2f) -> %s",
        miss.rule_id, text, "".join(p for p, _ in rule_pieces), rule_mean, free_mean, deficit,
        "accept" if accepted else "reject",
    )
    if not accepted:
        return None
    evidence = {
        "pinyin_score": round(float(miss.score), 4),
        "audio_logprob_candidate": round(rule_mean, 4),
        "audio_logprob_free": round(free_mean, 4),
        "deficit_per_token": round(deficit, 4),
        "audio_logprob_sentence": round(whole_rule, 4),
    }
    if rule_mask.any():
        evidence["slot_filler_tokens"] = int(rule_mask.sum())
    return RuleHit(
        rule_id=miss.rule_id,
        family=RuleFamily(miss.rule_id.split(".", 1)[0]),
        score=round(float(miss.score), 4),
        start=miss.start,
        end=miss.end,
        method=MatchMethod.AUDIO,
        rulebook_version=rulebook_version,
        evidence=evidence,
    )


def verify_near_misses(
    utterance: Utterance,
    audio: np.ndarray,
    matcher,
    transcriber: Transcriber,
    options: VerifyOptions | None = None,
) -> list[RuleHit]:
    """Confirm the matcher's near misses in ``utterance`` against its audio.

    Args:
        utterance: a transcribed utterance (staff or unknown role).
        audio: the utterance's 16 kHz mono audio (as transcribed).
        matcher: an ``nlp.PhraseMatcher``.
        transcriber: the same Transcriber that produced the utterance.
        options: acceptance thresholds.

    Returns:
        Hits with method ``audio``, ``score`` the pinyin score of the near miss, and the
        audio scores as ``evidence``.
    """
    options = options or VerifyOptions()
    text = utterance.text
    # Only rules the text missed by its pinyin score: a near miss at or above its threshold was
    # held back by the matcher's own logic (an exemption, a longer rule covering it), which the
    # audio must not overrule.
    misses = [m for m in matcher.near_misses(utterance) if m.score < m.threshold]
    if not misses:
        return []
    # a slot wording is scored with its fillers from the transcript; one whose filler cannot be
    # located is skipped (a slot has no fixed wording of its own to score)
    prepared = [(m, _pieces_of(m, text)) for m in sorted(misses, key=lambda m: -m.score)]
    prepared = [(m, p) for m, p in prepared if p is not None][: options.max_candidates]
    best: dict[str, RuleHit] = {}  # one hit per rule: the smallest deficit
    for miss, pieces in prepared:
        hit = _verified_hit(miss, text, pieces, audio, transcriber, options, matcher.rulebook.version)
        if hit is None:
            continue
        if hit.rule_id not in best or hit.evidence["deficit_per_token"] < best[hit.rule_id].evidence["deficit_per_token"]:
            best[hit.rule_id] = hit
    version = getattr(matcher, "classifier_version", None)
    return [replace(h, classifier_version=version) for h in best.values()]


def transcribe_and_match(
    blocks: Iterable[np.ndarray],
    transcriber: Transcriber,
    matcher,
    *,
    options: PipelineOptions | None = None,
    verify: VerifyOptions | None = None,
    channel_map: ChannelMap | None = None,
    n_channels: int | None = None,
    recording_started_at: datetime | None = None,
    source: str | None = None,
    stats: PipelineStats | None = None,
    enhance: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[HeardUtterance]:
    """Transcribe, match and verify near misses against the audio, utterance by utterance
    (live capture, the audio phrase evaluation): roles from the channel map only.
    ``enhance`` cleans staff segments before decoding (:func:`~windowqa.speech.pipeline.heard_utterances`).

    Only staff (and unknown-role) utterances can produce courtesy and forbidden hits; each
    item is yielded as soon as its segment is decoded.
    """
    heard = heard_utterances(
        blocks,
        transcriber,
        options=options,
        channel_map=channel_map,
        n_channels=n_channels,
        recording_started_at=recording_started_at,
        source=source,
        stats=stats,
        enhance=enhance,
    )

    def check(utterance: Utterance, audio: np.ndarray, matcher) -> list[RuleHit]:
        return verify_near_misses(utterance, audio, matcher, transcriber, verify)

    return utterance_stream(heard, matcher, check=check, chunk=1)
