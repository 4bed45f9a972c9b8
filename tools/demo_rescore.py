"""Re-score a finished demo folder's store with the current scoring code (no ASR, no matcher): a copy.

    python tools/demo_rescore.py DEMO_DIR OUT_DIR [--recue] && windowqa eval demo OUT_DIR

Copies the folder, removes the flags of the conduct checks (issue 15: telephone, personal calls,
retorts) so that only what the current code raises remains, re-scores every recording from its
stored utterances and hits (segmentation, scores, flags), links the ratings and raises the
repeat-visit flags again.
For measuring a change of scoring.conduct on audio already transcribed.

``--recue``: first find the 七.1 situation cues (``nlp.situations``, the current rulebook's
``[rules.detect]``) in the stored utterances again, replacing the stored ones, and drop the
situation-phrase flags; for measuring a change of the cues on audio already transcribed.

``--relabel``: the copy's ``truth.json`` gets the 七.1 situations of the conduct scenarios
(``simulator.conduct.CONDUCT_SITUATIONS``: an excused call is the urgent-leave situation with its
phrase said), which truths written before that label lack.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from sqlalchemy import delete, insert, select

from models.db import Flag, FlagKind, Recording, RecordingStatus, RuleHitRow, Utterance, open_database
from models.domain import Role, RuleFamily
from models.domain import Utterance as HeardUtterance
from models.rulebook import Rulebook, load_rulebook
from models.workdays import WorkCalendar
from scoring.store.ratings import link_ratings
from scoring.store.recordings import rescore_recording
from scoring.store.repeat_visits import flag_repeat_visits


def recue(session, rulebook: Rulebook) -> int:
    """Replace every stored situation cue with what the current cue finder finds; returns how many now."""
    from nlp import build_matcher

    matcher = build_matcher(rulebook, with_classifier=False)
    session.execute(delete(RuleHitRow).where(RuleHitRow.family == RuleFamily.SITUATION))
    session.execute(delete(Flag).where(Flag.kind == FlagKind.SITUATION_PHRASE))
    rows = []
    for u in session.scalars(select(Utterance)):
        heard = HeardUtterance(text=u.text, role=Role(u.role), start_s=u.start_s, end_s=u.end_s)
        rows += [{"utterance_id": u.id, "interaction_id": u.interaction_id, "rule_id": c.rule_id, "family": c.family,
                  "method": c.method, "score": float(c.score), "span_start": c.start, "span_end": c.end,
                  "evidence": dict(c.evidence), "rulebook_version": rulebook.version} for c in matcher.situation_cues(heard)]
    if rows:
        session.execute(insert(RuleHitRow), rows)
    return len(rows)


def relabel(truth_path: Path) -> int:
    """Add the conduct scenarios' 七.1 situations to a truth written without them; returns how many interactions changed."""
    from windowqa.demo.simulator.conduct import CONDUCT_SITUATIONS

    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    changed = 0
    for inter in truth["interactions"]:
        extra = CONDUCT_SITUATIONS.get(inter["scenario"], {})
        if any(inter.get("situations", {}).get(k) != v for k, v in extra.items()):
            inter["situations"] = {**inter.get("situations", {}), **extra}
            changed += 1
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return changed


def main(source: str, target: str, *flags: str) -> None:
    src, out = Path(source), Path(target)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("audio", "checkins"))
    (out / "audio").mkdir()
    relabelled = relabel(out / "truth.json") if "--relabel" in flags else None
    rulebook = load_rulebook()
    factory = open_database(f"sqlite:///{(out / 'windowqa.db').resolve()}")
    with factory() as s, s.begin():
        cues = recue(s, rulebook) if "--recue" in flags else None
        conduct = [f.id for f in s.scalars(select(Flag).where(Flag.kind.in_([FlagKind.TELEPHONE, FlagKind.PERSONAL_CALL, FlagKind.FORBIDDEN])))
                   if f.kind is not FlagKind.FORBIDDEN or (f.evidence or {}).get("rule_id") == rulebook.retort.rule]
        s.execute(delete(Flag).where(Flag.id.in_(conduct)))
        for recording in s.scalars(select(Recording).where(Recording.status == RecordingStatus.DONE)).all():
            rescore_recording(s, recording, rulebook)
        link_ratings(s, rulebook)  # re-scoring rebuilt the interactions the ratings were linked to
        flag_repeat_visits(s, rulebook, WorkCalendar())
    found = "" if cues is None else f"; {cues} situation cues found again"
    found += "" if relabelled is None else f"; truth relabelled on {relabelled} interactions"
    print(f"{out}: re-scored; removed {len(conduct)} conduct flags before{found}")


if __name__ == "__main__":
    main(*sys.argv[1:])
