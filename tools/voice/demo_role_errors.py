"""Where a mono demo's staff lines went to the citizen side: recordings with a who-is-serving
flag by voice against those without.

For every true staff line of each recording, the stored role overlapping it most; counted
separately for the recordings that carry a ``staff_mismatch`` flag by voice.

Run: ``.venv/bin/python tools/voice/demo_role_errors.py DEMO_DIR...``
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path


def role_errors(folder: Path) -> Counter:
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    db = sqlite3.connect(f"file:{folder / 'windowqa.db'}?mode=ro", uri=True)
    recordings = {Path(p).name: rid for rid, p in db.execute("select id, path from recording")}
    flagged = {rid for rid, evidence in db.execute(
        "select recording_id, evidence from flag where lower(kind) = 'staff_mismatch'") if '"voice"' in (evidence or "")}
    counts: Counter = Counter()
    for rec in truth["recordings"]:
        rid = recordings.get(Path(rec["path"]).name)
        stored = db.execute("select start_s, end_s, role from utterance where recording_id = ?", (rid,)).fetchall()
        for line in truth["utterances"]:
            if line["recording"] != rec["id"] or line["speaker"] != "staff":
                continue
            overlap: Counter = Counter()
            for start, end, role in stored:
                overlap[role.lower()] += max(0.0, min(end, line["end_s"]) - max(start, line["start_s"]))
            if overlap and overlap.most_common(1)[0][1] > 0.05:
                key = "flagged" if rid in flagged else "unflagged"
                counts[(key, "lines")] += 1
                counts[(key, "as_citizen")] += overlap.most_common(1)[0][0] == "citizen"
    return counts


def main() -> None:
    for arg in sys.argv[1:]:
        c = role_errors(Path(arg))
        print(f"{arg}: staff lines stored as citizen: recordings flagged by voice {c['flagged', 'as_citizen']}/"
              f"{c['flagged', 'lines']}, others {c['unflagged', 'as_citizen']}/{c['unflagged', 'lines']}")


if __name__ == "__main__":
    main()
