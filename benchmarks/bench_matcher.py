"""Matcher throughput on one core: utterances per second through the whole stack.

Utterances are built from the project's own lines (classifier corpus, held-out set): single
lines and pairs joined as one utterance, as the ASR delivers them. The cache of normalised texts
is cleared between rounds so repeated texts are not free.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 0 .venv/bin/python benchmarks/bench_matcher.py
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parents[1]


def _lines() -> list[str]:
    texts: list[str] = []
    for path in (ROOT / "nlp/data/phrase_corpus.tsv", ROOT / "tests/data/phrases/holdout.tsv"):
        with open(path, encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
        texts.extend(r[0] for r in rows if r and r[0])
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--utterances", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="utterances per match_many call")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from nlp import build_matcher
    from nlp.pinyin import syllable

    t0 = time.perf_counter()
    matcher = build_matcher()
    build_s = time.perf_counter() - t0
    rng = random.Random(7)
    base = _lines()
    utterances = []
    for i in range(args.utterances):
        if i % 3 == 0:
            utterances.append(rng.choice(base) + "，" + rng.choice(base))
        else:
            utterances.append(rng.choice(base) + f"{'' if i % 5 else '，好的'}")
    best = 0.0
    hits = 0
    for _ in range(args.rounds):
        matcher.normalizer._cache.clear()
        matcher.segmenter._cache.clear()
        syllable.cache_clear()
        t0 = time.perf_counter()
        hits = 0
        for k in range(0, len(utterances), args.batch):
            for found in matcher.match_many(utterances[k : k + args.batch]):
                hits += len(found)
        elapsed = time.perf_counter() - t0
        best = max(best, len(utterances) / elapsed)
    print(f"matcher build: {build_s:.1f} s (classifier trained, no cache)")
    print(f"utterances: {len(utterances)}, mean length {sum(map(len, utterances)) / len(utterances):.1f} chars, hits {hits}")
    print(f"throughput: {best:,.0f} utterances/s (best of {args.rounds} rounds, batch {args.batch}, one core)")


if __name__ == "__main__":
    main()
