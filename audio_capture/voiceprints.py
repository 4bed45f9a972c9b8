"""Store, load and delete staff voiceprints (:class:`models.voice_db.VoiceprintRow`).

Only embeddings are kept (biometric data: same consent, retention and deletion rules as face
embeddings). A staff member may have several rows per engine (enrolment recordings, lapel
utterances of stereo windows); :func:`load_voiceprints` gives one voiceprint per person, the
normalised mean of their rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Staff
from models.voice_db import VoiceprintRow


class UnknownStaffNoError(LookupError):
    """A 工号 that is not in the database."""


def _staff(session: Session, staff_no: str, create_name: str | None = None) -> Staff:
    row = session.scalar(select(Staff).where(Staff.staff_no == staff_no))
    if row is None:
        if create_name is None:
            raise UnknownStaffNoError(f"unknown staff 工号 {staff_no!r}: import the staff list first (or give a name)")
        row = Staff(staff_no=staff_no, name=create_name)
        session.add(row)
        session.flush()
    return row


def save_voiceprint(session: Session, staff_no: str, vector: np.ndarray, *, engine: str,
                    sources: Iterable[str | Path] = (), speech_s: float = 0.0,
                    create_name: str | None = None) -> VoiceprintRow:
    """Store one voiceprint of a staff member (file names only, never the audio).

    ``create_name`` creates a missing staff member with that name.

    Raises:
        UnknownStaffNoError: no such 工号 and no name to create one.
        ValueError: an empty or non-finite vector.
    """
    staff = _staff(session, staff_no, create_name)
    v = np.asarray(vector, dtype=np.float32).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError("a voiceprint must be a non-empty finite vector")
    names = ";".join(Path(s).name for s in sources)[:500]
    row = VoiceprintRow(staff_id=staff.id, engine=engine, dim=int(v.size), vector=v.tobytes(),
                        source_name=names, speech_s=float(speech_s))
    session.add(row)
    session.flush()
    return row


def load_voiceprints(session: Session, engine: str, staff_nos: Iterable[str] | None = None
                     ) -> dict[str, np.ndarray]:
    """One L2-normalised voiceprint per active staff member with rows for ``engine``.

    Args:
        session: an open session.
        engine: the voice engine's name (prints of other engines are not comparable).
        staff_nos: only these 工号 (for example the staff rostered at a window); None: all.
    """
    q = (select(Staff.staff_no, VoiceprintRow.vector, VoiceprintRow.dim)
         .join(Staff, Staff.id == VoiceprintRow.staff_id)
         .where(VoiceprintRow.engine == engine, Staff.active.is_(True))
         .order_by(VoiceprintRow.id))
    if staff_nos is not None:
        q = q.where(Staff.staff_no.in_(list(staff_nos)))
    grouped: dict[str, list[np.ndarray]] = defaultdict(list)
    for staff_no, blob, dim in session.execute(q):
        grouped[staff_no].append(np.frombuffer(blob, dtype=np.float32, count=dim))
    prints = {}
    for staff_no, vectors in grouped.items():
        mean = np.mean([v / max(float(np.linalg.norm(v)), 1e-12) for v in vectors], axis=0)
        prints[staff_no] = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
    return prints


def delete_voiceprints(session: Session, staff_no: str, engine: str | None = None) -> int:
    """Remove a person's voiceprints (withdrawn consent, leaving the hall); returns how many.

    Raises:
        UnknownStaffNoError: no such 工号.
    """
    staff = _staff(session, staff_no)
    q = select(VoiceprintRow).where(VoiceprintRow.staff_id == staff.id)
    if engine:
        q = q.where(VoiceprintRow.engine == engine)
    rows = session.scalars(q).all()
    for r in rows:
        session.delete(r)
    session.flush()
    return len(rows)


__all__ = ["UnknownStaffNoError", "delete_voiceprints", "load_voiceprints", "save_voiceprint"]
