"""Build a noisy evaluation set for ``windowqa eval phrases-audio`` from the demo utterance bank.

Runs in the MAIN environment (.venv): numpy, soundfile, PyAV (through audio_capture.decode).

What it writes into OUT_DIR (default ``var/eval/phrases-audio/``, not committed):

- ``manifest.tsv``: ``audio<TAB>role<TAB>expected`` (shared/spec/eval-formats.md), paths
  relative to the manifest;
- ``clips/*.opus``: 16 kHz mono Ogg/Opus clips of three kinds:
    * every staff line of the bank (or ``--staff-ids``) mixed with babble at ``--snr-db``
      (10 dB by default), role ``staff``, expected = the line's rule ids (``?id`` kept);
    * citizen lines (all, or ``--citizen-ids``) mixed the same way, role ``citizen``,
      expected empty (only what staff say counts);
    * ``--noise-only`` clips of babble alone, role ``staff``, expected empty (a staff
      microphone that hears only the hall);
- ``sources.tsv``: for every clip its kind, bank line, text, SNR and the babble's components;
- ``asr_manifest.tsv``: the speech clips as ``audio<TAB>text`` for ``windowqa eval asr``.

Babble is overlapped other speech: ``--talkers`` streams (4 by default), each a chain of random
clips with short gaps, cut at a random point and level-matched, then summed. The clips come from
the bank (lines with no expected rule id and containing no fragment of any rulebook wording, so
the babble itself cannot legitimately produce a hit) and from the real Mandarin recordings in
``--speech-dir`` (default ``../shared/data/speech`` next to the repository, used if present).
SNR is target speech power over its voiced 20 ms frames against the babble's mean power.

Usage:
    .venv/bin/python tools/tts/mix_eval.py [OUT_DIR] [--snr-db 10] [--seed 0] ...
"""

from __future__ import annotations

import argparse
import csv
import logging
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from audio_capture.decode import decode_audio  # noqa: E402
from audio_capture.errors import AudioDecodeError  # noqa: E402
from models.domain import Role  # noqa: E402
from models.rulebook import SLOT, load_rulebook  # noqa: E402
from windowqa.demo import BANK_DIR, BANK_SAMPLE_RATE_HZ, BankError, BankLine, load_bank, read_clip  # noqa: E402

logger = logging.getLogger("windowqa.tools.mix_eval")

DEFAULT_OUT = REPO_ROOT / "var" / "eval" / "phrases-audio"
DEFAULT_SPEECH_DIR = REPO_ROOT.parent / "shared" / "data" / "speech"
_FRAME_S = 0.02
# Fragments shorter than this (e.g. "请收好" is 3, kept; "您好" is 2, dropped) are too common to
# exclude babble lines for.
_MIN_FRAGMENT_CHARS = 3


class MixError(Exception):
    """The inputs cannot make an evaluation set (no babble sources, unknown ids)."""


@dataclass(frozen=True)
class MixOptions:
    """How an evaluation set is mixed; written into sources.tsv's header comment."""

    snr_db: float = 10.0
    talkers: int = 4
    noise_only: int = 20
    noise_only_duration_s: tuple[float, float] = (3.0, 6.0)
    babble_rms_dbfs: float = -30.0  # noise-only level: 10 dB under the bank's -20 dBFS speech
    pad_s: tuple[float, float] = (0.3, 0.8)  # babble before and after the target line
    gap_s: tuple[float, float] = (0.05, 0.4)  # gaps between clips of one babble talker
    seed: int = 0
    opus_compression_level: float = 0.9


@dataclass
class Clip:
    """One written clip and where it came from."""

    audio: str
    role: str
    expected: str
    kind: str
    line_id: str = ""
    text: str = ""
    snr_db: str = ""
    babble: list[str] = field(default_factory=list)


def _forbidden_fragments() -> list[str]:
    """Fixed text pieces of every rulebook wording and variant (all families)."""
    rulebook = load_rulebook()
    pieces: set[str] = set()
    for rule in rulebook.rules:
        for template in rule.templates:
            for piece in re.split(r"[，。？！、,.?!\s/（）()]+|" + re.escape(SLOT), template):
                if len(piece) >= _MIN_FRAGMENT_CHARS:
                    pieces.add(piece)
    return sorted(pieces)


def babble_pool(
    lines: list[BankLine], speech_dir: Path | None, exclude_speech: tuple[str, ...] = ()
) -> list[tuple[str, np.ndarray]]:
    """Clips that babble is made of, as (name, 16 kHz samples).

    Args:
        lines: the bank.
        speech_dir: folder of real recordings (``*.wav``/``*.flac``), or None.
        exclude_speech: file names in ``speech_dir`` not to use (e.g. for licence reasons).

    Returns:
        Named clips; bank lines that carry or contain a rule wording are left out.
    """
    fragments = _forbidden_fragments()
    pool: list[tuple[str, np.ndarray]] = []
    for line in lines:
        if line.expected or line.optional or any(f in line.text for f in fragments):
            continue
        pool.append((f"bank:{line.id}", read_clip(line)))
    n_bank = len(pool)
    if speech_dir is not None and speech_dir.is_dir():
        for path in sorted(speech_dir.iterdir()):
            if path.suffix.lower() not in (".wav", ".flac", ".ogg", ".opus", ".mp3") or path.name in exclude_speech:
                continue
            try:
                decoded = decode_audio(path)
            except AudioDecodeError as exc:
                logger.warning("%s: skipped as babble source: %s", path, exc)
                continue
            pool.append((f"speech:{path.name}", decoded.samples.mean(axis=0).astype(np.float32)))
    elif speech_dir is not None:
        logger.warning("%s: no such folder; babble uses bank lines only", speech_dir)
    logger.info("babble pool: %d bank lines, %d real recordings", n_bank, len(pool) - n_bank)
    if len(pool) < 2:
        raise MixError("fewer than two babble source clips")
    return pool


def _voiced_power(audio: np.ndarray) -> float:
    frame = int(_FRAME_S * BANK_SAMPLE_RATE_HZ)
    n = len(audio) // frame * frame
    if n == 0:
        return float(np.mean(audio**2)) if audio.size else 0.0
    power = np.mean(audio[:n].reshape(-1, frame) ** 2, axis=1)
    voiced = power[power > 0.01 * power.max()]
    return float(np.mean(voiced)) if voiced.size else 0.0


def make_babble(
    n_samples: int,
    pool: list[tuple[str, np.ndarray]],
    options: MixOptions,
    rng: np.random.Generator,
    exclude: str = "",
) -> tuple[np.ndarray, list[str]]:
    """Overlapped speech of ``options.talkers`` streams at 0 dBFS-relative unit power.

    Args:
        n_samples: length wanted.
        pool: babble source clips.
        options: mixing options.
        rng: random source.
        exclude: a pool name never to use (the target line itself).

    Returns:
        (babble with mean power 1.0, names of the clips used).
    """
    sr = BANK_SAMPLE_RATE_HZ
    candidates = [i for i, (name, _) in enumerate(pool) if name != exclude]
    babble = np.zeros(n_samples, np.float64)
    used: list[str] = []
    for _ in range(options.talkers):
        stream: list[np.ndarray] = []
        length = 0
        # One talker: random clips with short gaps, long enough to cut a window at random.
        while length < 2 * n_samples:
            name, clip = pool[int(rng.choice(candidates))]
            used.append(name)
            gap = np.zeros(int(rng.uniform(*options.gap_s) * sr))
            stream += [clip, gap]
            length += len(clip) + len(gap)
        chain = np.concatenate(stream)
        start = int(rng.integers(0, len(chain) - n_samples + 1))
        talker = chain[start : start + n_samples].astype(np.float64)
        power = float(np.mean(talker**2))
        if power > 0:
            babble += talker / np.sqrt(power)
    power = float(np.mean(babble**2))
    return (babble / np.sqrt(power) if power > 0 else babble), sorted(set(used))


def mix_line(
    line: BankLine, pool: list[tuple[str, np.ndarray]], options: MixOptions, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """A bank line with babble before, under and after it at ``options.snr_db``."""
    sr = BANK_SAMPLE_RATE_HZ
    speech = read_clip(line).astype(np.float64)
    lead = int(rng.uniform(*options.pad_s) * sr)
    tail = int(rng.uniform(*options.pad_s) * sr)
    target = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    babble, used = make_babble(len(target), pool, options, rng, exclude=f"bank:{line.id}")
    noise_power = _voiced_power(speech) / (10 ** (options.snr_db / 10))
    return target + babble * np.sqrt(noise_power), used


def _limit(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (audio * (0.97 / peak) if peak > 0.97 else audio).astype(np.float32)


def build_eval_set(
    out_dir: Path,
    *,
    bank_dir: Path = BANK_DIR,
    speech_dir: Path | None = DEFAULT_SPEECH_DIR,
    options: MixOptions = MixOptions(),
    staff_ids: list[str] | None = None,
    citizen_ids: list[str] | None = None,
    exclude_speech: tuple[str, ...] = (),
) -> list[Clip]:
    """Writes clips, manifest.tsv and sources.tsv into ``out_dir``.

    Args:
        out_dir: output folder (created).
        bank_dir: the utterance bank.
        speech_dir: real recordings for babble, or None.
        options: mixing options.
        staff_ids: staff lines to use (default all).
        citizen_ids: citizen lines to use (default all).
        exclude_speech: recordings in ``speech_dir`` left out of the babble.

    Returns:
        The clips written.

    Raises:
        MixError: unknown ids, or no babble sources.
        BankError: the bank is incomplete.
    """
    lines = load_bank(bank_dir)
    by_id = {line.id: line for line in lines}
    unknown = [i for i in (staff_ids or []) + (citizen_ids or []) if i not in by_id]
    if unknown:
        raise MixError(f"{bank_dir / 'lines.tsv'}: unknown line ids {', '.join(unknown)}")
    staff = [by_id[i] for i in staff_ids] if staff_ids is not None else [
        x for x in lines if x.speaker is Role.STAFF
    ]
    citizens = [by_id[i] for i in citizen_ids] if citizen_ids is not None else [
        x for x in lines if x.speaker is Role.CITIZEN
    ]
    pool = babble_pool(lines, speech_dir, exclude_speech)
    rng = np.random.default_rng(options.seed)
    clip_dir = out_dir / "clips"
    clip_dir.mkdir(parents=True, exist_ok=True)
    clips: list[Clip] = []

    def write(name: str, audio: np.ndarray) -> str:
        rel = f"clips/{name}.opus"
        sf.write(
            str(out_dir / rel), _limit(audio), BANK_SAMPLE_RATE_HZ, format="OGG", subtype="OPUS",
            compression_level=options.opus_compression_level,
        )
        return rel

    work = [("line", x) for x in staff + citizens] + [("noise", n) for n in range(options.noise_only)]
    for kind, item in tqdm(work, desc="mixing", unit="clip"):
        if kind == "line":
            line: BankLine = item
            audio, used = mix_line(line, pool, options, rng)
            is_staff = line.speaker is Role.STAFF
            clips.append(
                Clip(
                    audio=write(line.id, audio),
                    role=line.speaker.value,
                    expected=line.rule_ids_field if is_staff else "",
                    kind="staff_line" if is_staff else "citizen_line",
                    line_id=line.id,
                    text=line.text,
                    snr_db=f"{options.snr_db:g}",
                    babble=used,
                )
            )
        else:
            n_samples = int(rng.uniform(*options.noise_only_duration_s) * BANK_SAMPLE_RATE_HZ)
            babble, used = make_babble(n_samples, pool, options, rng)
            audio = babble * 10 ** (options.babble_rms_dbfs / 20)
            clips.append(
                Clip(audio=write(f"noise_{item:03d}", audio), role=Role.STAFF.value, expected="",
                     kind="noise_only", babble=used)
            )

    with (out_dir / "manifest.tsv").open("w", encoding="utf-8", newline="") as handle:
        handle.write("audio\trole\texpected\n")
        for clip in clips:
            handle.write(f"{clip.audio}\t{clip.role}\t{clip.expected}\n")
    # The same speech clips as a `windowqa eval asr` manifest: CER under babble.
    with (out_dir / "asr_manifest.tsv").open("w", encoding="utf-8", newline="") as handle:
        handle.write("audio\ttext\n")
        for clip in clips:
            if clip.text:
                handle.write(f"{clip.audio}\t{clip.text}\n")
    with (out_dir / "sources.tsv").open("w", encoding="utf-8", newline="") as handle:
        handle.write(f"# mix_eval.py options: {asdict(options)}\n")
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["audio", "kind", "line_id", "text", "snr_db", "babble"])
        for clip in clips:
            writer.writerow([clip.audio, clip.kind, clip.line_id, clip.text, clip.snr_db, " ".join(clip.babble)])
    return clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--bank", type=Path, default=BANK_DIR)
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR,
                        help="real recordings added to the babble (skipped if missing)")
    parser.add_argument("--no-speech-dir", action="store_true", help="babble from bank lines only")
    parser.add_argument("--exclude-speech", nargs="*", default=[], help="recordings in --speech-dir not to use")
    parser.add_argument("--snr-db", type=float, default=MixOptions.snr_db)
    parser.add_argument("--talkers", type=int, default=MixOptions.talkers)
    parser.add_argument("--noise-only", type=int, default=MixOptions.noise_only)
    parser.add_argument("--seed", type=int, default=MixOptions.seed)
    parser.add_argument("--staff-ids", nargs="*", default=None, help="staff lines (default all)")
    parser.add_argument("--citizen-ids", nargs="*", default=None, help="citizen lines (default all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    options = MixOptions(snr_db=args.snr_db, talkers=args.talkers, noise_only=args.noise_only, seed=args.seed)
    try:
        clips = build_eval_set(
            args.out_dir,
            bank_dir=args.bank,
            speech_dir=None if args.no_speech_dir else args.speech_dir,
            options=options,
            staff_ids=args.staff_ids,
            citizen_ids=args.citizen_ids,
            exclude_speech=tuple(args.exclude_speech),
        )
    except (MixError, BankError) as exc:
        logger.error("%s", exc)
        return 2
    kinds = {k: sum(c.kind == k for c in clips) for k in ("staff_line", "citizen_line", "noise_only")}
    logger.info("wrote %d clips to %s (%s)", len(clips), args.out_dir / "manifest.tsv", kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
