"""Write a copy of an ``audio<TAB>text`` manifest whose recordings are quieter (or louder).

Each recording is peak-normalised to -6 dBFS, then moved by ``--gain-db`` (e.g. -30: speech
peaking at -36 dBFS, as a far-field or low-gain microphone gives), and written as FLAC next
to a new manifest, for ``windowqa eval asr``.

Run: ``.venv/bin/python benchmarks/make_level_variants.py MANIFEST.tsv OUT_DIR --gain-db -30``
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audio_capture import decode_audio  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--gain-db", type=float, default=-30.0, help="level relative to a -6 dBFS peak")
    args = parser.parse_args()

    import soundfile as sf

    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.manifest, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    with open(args.out_dir / "manifest.tsv", "w", encoding="utf-8") as out:
        out.write("audio\ttext\n")
        for row in rows:
            audio = decode_audio(args.manifest.parent / row["audio"])
            x = audio.samples / (np.abs(audio.samples).max() + 1e-12) * 0.5 * 10 ** (args.gain_db / 20)
            name = Path(row["audio"]).with_suffix(".flac").name
            sf.write(args.out_dir / name, x.T.astype(np.float32), audio.sample_rate)
            out.write(f"{name}\t{row['text']}\n")
    print(f"{len(rows)} recordings at {args.gain_db:+.0f} dB in {args.out_dir / 'manifest.tsv'}")


if __name__ == "__main__":
    main()
