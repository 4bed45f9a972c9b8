"""Re-score a finished demo folder's store with the current scoring code (no ASR, no matcher): a copy.

    python tools/demo_rescore.py DEMO_DIR OUT_DIR [--rematch] && windowqa eval demo OUT_DIR

Copies the folder, removes the flags of the conduct checks (issue 15: telephone, personal calls,
retorts) so that only what the current code raises remains, re-scores every recording from its
stored utterances and hits (segmentation, scores, flags), links the ratings and raises the
repeat-visit flags again.
For measuring a change of scoring.conduct on audio already transcribed. ``--rematch`` first runs
the current matcher again over the stored transcripts (rule hits, citizen abuse, situation cues;
hits confirmed against the audio are kept): for measuring a change of nlp without the ASR.
``--relabel``: the copy's ``truth.json`` gets the 七.1 situations of the conduct scenarios
(``simulator.conduct.CONDUCT_SITUATIONS``: an excused call is the urgent-leave situation with its
phrase said), which truths written before that label lack.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from sqlalchemy import delete, select

from models.db import Flag, FlagKind, Recording, RecordingStatus, RuleHitRow, Utterance as UtteranceRow, open_database
from models.domain import MatchMethod, Role, Utterance
from models.rulebook import load_rulebook
from models.workdays import WorkCalendar
from scoring.store.ratings import link_ratings
from scoring.store.recordings import rescore_recording
from scoring.store.repeat_visits import flag_repeat_visits


def rematch(session, rulebook, cache_dir: Path) -> int:
    """Every stored utterance's hits found again by the current matcher; audio-confirmed hits stay."""
    from nlp import build_matcher

    matcher = build_matcher(rulebook, cache_dir=cache_dir)
    rows = session.scalars(select(UtteranceRow)).all()
    kept = {}
    for h in session.scalars(select(RuleHitRow).where(RuleHitRow.method == MatchMethod.AUDIO)):
        kept.setdefault(h.utterance_id, set()).add(h.rule_id)
    session.execute(delete(RuleHitRow).where(RuleHitRow.method != MatchMethod.AUDIO))
    new = []
    for r in rows:
        u = Utterance(text=r.text, role=r.role, start_s=r.start_s, end_s=r.end_s, channel=r.channel)
        hits = matcher.citizen_abuse(u) if r.role is Role.CITIZEN else matcher.match(u)
        for hit in (*hits, *matcher.situation_cues(u)):
            if hit.rule_id in kept.get(r.id, ()):
                continue
            new.append({"utterance_id": r.id, "interaction_id": r.interaction_id, "rule_id": hit.rule_id, "family": hit.family,
                        "method": hit.method, "score": float(hit.score), "span_start": hit.start, "span_end": hit.end,
                        "evidence": dict(hit.evidence), "rulebook_version": hit.rulebook_version or rulebook.version,
                        "classifier_version": hit.classifier_version})
    if new:
        session.add_all([RuleHitRow(**row) for row in new])
    return len(new)


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
    if "--relabel" in flags:
        print(f"{out}: truth relabelled on {relabel(out / 'truth.json')} interactions")
    rulebook = load_rulebook()
    factory = open_database(f"sqlite:///{(out / 'windowqa.db').resolve()}")
    with factory() as s, s.begin():
        if "--rematch" in flags:
            print(f"{out}: {rematch(s, rulebook, Path('/tmp/windowqa-rescore-cache'))} hits found again")
        conduct = [f.id for f in s.scalars(select(Flag).where(Flag.kind.in_([FlagKind.TELEPHONE, FlagKind.PERSONAL_CALL, FlagKind.FORBIDDEN])))
                   if f.kind is not FlagKind.FORBIDDEN or (f.evidence or {}).get("rule_id") == rulebook.retort.rule]
        s.execute(delete(Flag).where(Flag.id.in_(conduct)))
        for recording in s.scalars(select(Recording).where(Recording.status == RecordingStatus.DONE)).all():
            rescore_recording(s, recording, rulebook)
        link_ratings(s, rulebook)  # re-scoring rebuilt the interactions the ratings were linked to
        flag_repeat_visits(s, rulebook, WorkCalendar())
    print(f"{out}: re-scored; removed {len(conduct)} conduct flags before")


if __name__ == "__main__":
    main(*sys.argv[1:])
