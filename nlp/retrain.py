"""Retraining that cannot make things worse: a candidate classifier, judged before it replaces the current one.

The candidate is trained on the shipped corpus, the rulebook's wordings and the reviewed
utterances of the training part of the reviews (confirmed hits and recorded misses teach their
rule, utterances with only false alarms teach ``none``). A seeded part of the reviews is held
back: the candidate and the current classifier are both scored on it and on the bundled text
evaluation sets (precision and recall per family, the shared spec's scoring). The candidate is
accepted only when it is no worse than the current one on any family of any of those sets.

Reviewed utterances are duck-typed (``scoring.access.training.ReviewedUtterance``): ``key``
(the review they belong to), ``text`` (redacted), ``said`` and ``not_said`` (rule ids) and
``training_lines()``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from nlp.evaluation import Expectation, PhraseEvaluation, evaluate_text_manifest

FAMILIES = ("forbidden", "courtesy")  # the evaluation format's families (courtesy includes phone)
HELD_BACK = "held-back reviews"


@dataclass(frozen=True)
class RetrainOptions:
    """Options of one retraining.

    Attributes:
        holdout_share: part of the reviews (whole reviews, rounded down) kept out of training
            and used to judge the candidate.
        seed: the hold-out draw's seed (the same seed and reviews give the same split).
        eval_sets: text manifests (``text<TAB>expected``) the candidate must not do worse on.
        review_weight: how many times a reviewed line counts in training against one corpus line
            (the corpus has thousands of lines; one field example would otherwise be drowned).
    """

    holdout_share: float = 0.2
    seed: int = 0
    eval_sets: tuple[Path, ...] = ()
    review_weight: int = 3


@dataclass
class SourceComparison:
    """One evaluation source: the current classifier's and the candidate's scores per family."""

    name: str
    lines: int
    before: dict[str, dict] = field(default_factory=dict)  # family -> FamilyScore.as_json()
    after: dict[str, dict] = field(default_factory=dict)

    def worse(self) -> list[str]:
        """``source family measure`` for every measure the candidate lowers."""
        out = []
        for family in FAMILIES:
            for measure in ("precision", "recall"):
                if self.after[family][measure] < self.before[family][measure] - 1e-9:
                    out.append(f"{self.name} {family} {measure} {self.before[family][measure]:.3f} -> {self.after[family][measure]:.3f}")
        return out


@dataclass
class RetrainOutcome:
    candidate: object  # the fitted PhraseClassifier
    training_lines: int
    reviewed_train: int  # reviewed utterances trained on
    reviewed_held_back: int
    reviews_held_back: int
    sources: list[SourceComparison]

    @property
    def worse(self) -> list[str]:
        return [w for s in self.sources for w in s.worse()]

    def as_json(self) -> dict:
        return {
            "training_lines": self.training_lines, "reviewed_train": self.reviewed_train,
            "reviewed_held_back": self.reviewed_held_back, "reviews_held_back": self.reviews_held_back,
            "sources": [{"name": s.name, "lines": s.lines, "before": s.before, "after": s.after} for s in self.sources],
            "worse": self.worse,
        }


def split_reviews(lines: Sequence, share: float, seed: int) -> tuple[list, list]:
    """(training, held back): whole reviews, ``floor(share × reviews)`` of them held back, seeded."""
    keys = sorted({line.key for line in lines})
    random.Random(f"holdout|{seed}").shuffle(keys)
    held = set(keys[: int(share * len(keys))])
    return [x for x in lines if x.key not in held], [x for x in lines if x.key in held]


def evaluate_reviewed(matcher, lines: Sequence) -> PhraseEvaluation:
    """Score the matcher on reviewed utterances as staff lines.

    A rule the reviewer says was said must be produced (recall); a rule the reviewer rejected is
    a false alarm when produced (precision); other rules are not judged (the reviewer judged
    only the system's hits and what it missed).
    """
    evaluation = PhraseEvaluation()
    results = matcher.match_many([line.text for line in lines], role="staff") if lines else []
    for line, hits in zip(lines, results):
        produced = {h.rule_id for h in hits if _scored(h.rule_id)}
        said = {r for r in line.said if _scored(r)}
        unjudged = produced - said - set(line.not_said)
        evaluation.add(line.text, Expectation(frozenset(said), frozenset(unjudged)), produced)
    return evaluation


def _scored(rule_id: str) -> bool:
    """Staff phrase rules only: a citizen's abuse is no phrase the classifier learns."""
    return rule_id.split(".", 1)[0] in ("forbidden", "courtesy", "phone")


def _scores(evaluation: PhraseEvaluation) -> dict[str, dict]:
    return {f: evaluation.families[f].as_json() for f in FAMILIES}


def train_candidate(rulebook, normalizer, lines: Sequence, review_weight: int):
    """A classifier fitted on the shipped corpus, the wordings and ``lines`` (each counted ``review_weight`` times)."""
    from nlp.classifier import LabelledLine, PhraseClassifier, training_data

    known = {r.id for r in rulebook.rules} | {"none"}
    extra = [LabelledLine(text, label) for line in lines for text, label in line.training_lines() if label in known]
    texts, labels = training_data(rulebook, normalizer, extra)
    reviewed = {(normalizer.normalize(x.text).text, x.label) for x in extra}
    # repeated rows weigh a reviewed line against the corpus (training_data drops duplicates)
    for text, label in list(zip(texts, labels)):
        if (text, label) in reviewed:
            texts.extend([text] * (review_weight - 1))
            labels.extend([label] * (review_weight - 1))
    return PhraseClassifier().fit(texts, labels), len(texts)


def retrain_and_compare(rulebook, current_matcher, lines: Sequence, options: RetrainOptions) -> RetrainOutcome:
    """Train a candidate from ``lines`` and score it next to ``current_matcher`` (nothing is saved here).

    Raises:
        nlp.evaluation.ManifestError: an evaluation set cannot be read.
    """
    from nlp import build_matcher

    train, held = split_reviews(lines, options.holdout_share, options.seed)
    candidate, n_lines = train_candidate(rulebook, current_matcher.normalizer, train, options.review_weight)
    new_matcher = build_matcher(rulebook, options=current_matcher.options, classifier=candidate)
    sources = []
    for path in options.eval_sets:
        before, after = evaluate_text_manifest(current_matcher, path), evaluate_text_manifest(new_matcher, path)
        sources.append(SourceComparison(str(path), before.lines, _scores(before), _scores(after)))
    before, after = evaluate_reviewed(current_matcher, held), evaluate_reviewed(new_matcher, held)
    sources.append(SourceComparison(HELD_BACK, len(held), _scores(before), _scores(after)))
    return RetrainOutcome(candidate, n_lines, len(train), len(held), len({x.key for x in held}), sources)


__all__ = ["FAMILIES", "HELD_BACK", "RetrainOptions", "RetrainOutcome", "SourceComparison", "evaluate_reviewed",
           "retrain_and_compare", "split_reviews", "train_candidate"]
