"""Precision and recall of rule detection against an evaluation manifest (shared spec format).

Manifest: UTF-8 TSV with a header; ``text<TAB>expected`` where ``expected`` is a ``;``-separated
list of rule ids, ``?id`` for ids that may be produced without penalty, empty for none.
Families scored: ``forbidden`` and ``courtesy`` (courtesy + phone).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence


class ManifestError(ValueError):
    """A manifest line that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Expectation:
    required: frozenset[str]
    optional: frozenset[str]


def parse_expected(value: str) -> Expectation:
    required, optional = set(), set()
    for item in (value or "").split(";"):
        item = item.strip()
        if not item:
            continue
        if item.startswith("?"):
            optional.add(item[1:])
        else:
            required.add(item)
    return Expectation(frozenset(required), frozenset(optional))


def family_of(rule_id: str) -> str:
    return "forbidden" if rule_id.startswith("forbidden.") else "courtesy"


@dataclass
class FamilyScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def as_json(self) -> dict:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass
class PhraseEvaluation:
    families: dict[str, FamilyScore] = field(default_factory=lambda: {"forbidden": FamilyScore(), "courtesy": FamilyScore()})
    errors: list[dict] = field(default_factory=list)
    lines: int = 0

    def add(self, item: str, expected: Expectation, produced: Iterable[str]) -> None:
        produced = set(produced)
        self.lines += 1
        for rule_id in sorted(expected.required | produced):
            fam = self.families[family_of(rule_id)]
            if rule_id in expected.required and rule_id in produced:
                fam.tp += 1
            elif rule_id in expected.required:
                fam.fn += 1
                self.errors.append({"type": "miss", "item": item, "rule_id": rule_id})
            elif rule_id not in expected.optional:
                fam.fp += 1
                self.errors.append({"type": "false_alarm", "item": item, "rule_id": rule_id})

    def as_json(self) -> dict:
        out = {name: score.as_json() for name, score in self.families.items()}
        out["lines"] = self.lines
        out["errors"] = self.errors
        return out


def read_manifest(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a TSV manifest with the given leading columns, with their line numbers."""
    path = Path(path)
    try:
        fh = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read manifest: {exc.strerror}") from None
    with fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            header = next(reader)
        except StopIteration:
            raise ManifestError(f"{path}: empty manifest (expected header {'<TAB>'.join(columns)})") from None
        except UnicodeDecodeError:
            raise ManifestError(f"{path}: not UTF-8 text") from None
        if [h.strip() for h in header[: len(columns)]] != list(columns):
            raise ManifestError(f"{path}:1: expected header {'<TAB>'.join(columns)}, got {'<TAB>'.join(header)}")
        rows = []
        for lineno, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < len(columns) - 1:
                raise ManifestError(f"{path}:{lineno}: expected {len(columns)} tab-separated columns, got {len(row)}")
            row = row + [""] * (len(columns) - len(row))
            rows.append((lineno, dict(zip(columns, (c.strip() for c in row)))))
        return rows


def evaluate_text_manifest(matcher, path: Path) -> PhraseEvaluation:
    """Run the matcher over a ``text<TAB>expected`` manifest (every line spoken by staff)."""
    rows = read_manifest(path, ("text", "expected"))
    texts = [row["text"] for _, row in rows]
    results = matcher.match_many(texts, role="staff")
    evaluation = PhraseEvaluation()
    for (lineno, row), hits in zip(rows, results):
        evaluation.add(row["text"], parse_expected(row["expected"]), {h.rule_id for h in hits})
    return evaluation
