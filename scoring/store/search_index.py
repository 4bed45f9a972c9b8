"""Maintain the transcript search index: ``windowqa search reindex`` fills and rebuilds it.

New utterances get ``search_text`` when they are stored (:mod:`scoring.store.recordings`) and
the SQLite FTS5 table follows through its triggers; this is for rows stored before the index
existed (bulk loads, restored backups) or after the grams' rule changes (``full=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.transcript_search import SQLITE_FTS_TABLE, SQLITE_TRIGGERS, create_index, fill_search_text


@dataclass(frozen=True)
class ReindexResult:
    """What a reindex did."""

    utterances_filled: int
    rebuilt: bool  # the SQLite FTS5 table was rebuilt from the rows


def reindex(session: Session, *, full: bool = False) -> ReindexResult:
    """Fill missing ``search_text`` (all of it with ``full``) and make sure the index objects exist.

    On SQLite the triggers are dropped while filling, then the FTS5 table is rebuilt in one pass
    and the triggers restored: row-by-row index updates would be many times slower on a big store.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        for trigger in SQLITE_TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    filled = fill_search_text(connection, all_rows=full)
    create_index(connection)
    if sqlite:
        connection.execute(text(f"INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}) VALUES ('rebuild')"))
    return ReindexResult(utterances_filled=filled, rebuilt=sqlite)


__all__ = ["ReindexResult", "reindex"]
