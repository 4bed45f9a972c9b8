"""Re-score a finished demo folder's store with the current scoring code (no ASR, no matcher): a copy.

    python tools/demo_rescore.py DEMO_DIR OUT_DIR && windowqa eval demo OUT_DIR

Copies the folder, removes the flags of the conduct checks (issue 15: telephone, personal calls,
retorts) so that only what the current code raises remains, re-scores every recording from its
stored utterances and hits (segmentation, scores, flags), links the ratings and raises the
repeat-visit flags again.
For measuring a change of scoring.conduct on audio already transcribed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from sqlalchemy import delete, select

from models.db import Flag, FlagKind, Recording, RecordingStatus, open_database
from models.rulebook import load_rulebook
from models.workdays import WorkCalendar
from scoring.store.ratings import link_ratings
from scoring.store.recordings import rescore_recording
from scoring.store.repeat_visits import flag_repeat_visits


def main(source: str, target: str) -> None:
    src, out = Path(source), Path(target)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("audio", "checkins"))
    (out / "audio").mkdir()
    rulebook = load_rulebook()
    factory = open_database(f"sqlite:///{(out / 'windowqa.db').resolve()}")
    with factory() as s, s.begin():
        conduct = [f.id for f in s.scalars(select(Flag).where(Flag.kind.in_([FlagKind.TELEPHONE, FlagKind.PERSONAL_CALL, FlagKind.FORBIDDEN])))
                   if f.kind is not FlagKind.FORBIDDEN or (f.evidence or {}).get("rule_id") == rulebook.retort.rule]
        s.execute(delete(Flag).where(Flag.id.in_(conduct)))
        for recording in s.scalars(select(Recording).where(Recording.status == RecordingStatus.DONE)).all():
            rescore_recording(s, recording, rulebook)
        link_ratings(s, rulebook)  # re-scoring rebuilt the interactions the ratings were linked to
        flag_repeat_visits(s, rulebook, WorkCalendar())
    print(f"{out}: re-scored; removed {len(conduct)} conduct flags before")


if __name__ == "__main__":
    main(*sys.argv[1:3])
