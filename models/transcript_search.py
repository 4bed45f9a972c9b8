"""The transcript search index's text: character bigrams, computed the same way when storing and when asking.

Every utterance stores ``search_text``: its text normalised (NFKC, lower case, only letters and
digits, so ASR punctuation and spacing never split a phrase) and written as overlapping character
bigrams plus the last character, separated by spaces (``营业执照`` -> ``营业 业执 执照 照``).
A phrase of two or more characters is then the consecutive grams of the phrase, which the
SQLite FTS5 table (``utterance_fts``) and the PostgreSQL ``to_tsvector('simple', ...)`` index
match as a phrase; one character is a prefix query. Bigrams need no word segmenter: a jieba
segmentation of the query alone can differ from the segmentation of the same words inside a
sentence (so exact words would be missed), and the dashboard, which segments the query, must
never load jieba. Found lines are checked again against their normalised text.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import text as sql

# The FTS5 table (SQLite) over utterance.search_text, its triggers and the PostgreSQL index:
# created by migration 0008_transcript_search and by ``windowqa search reindex``, not by the
# models' metadata (a virtual table and an expression index have no ORM form).
SQLITE_FTS_TABLE = "utterance_fts"
SQLITE_TRIGGERS = ("utterance_fts_ai", "utterance_fts_ad", "utterance_fts_au")
PG_INDEX = "ix_utterance_search_text"


def normalise(text: str) -> str:
    """``text`` in the form the index sees: NFKC, lower case, letters and digits only."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def bigrams(text: str) -> list[str]:
    """The overlapping two-character grams of normalised ``text`` and its last character."""
    norm = normalise(text)
    if not norm:
        return []
    return [norm[i : i + 2] for i in range(len(norm) - 1)] + [norm[-1]]


def search_text(text: str) -> str:
    """The value of ``utterance.search_text`` for an utterance saying ``text``."""
    return " ".join(bigrams(text))


def query_terms(query: str) -> list[str]:
    """The normalised terms of a query: words separated by spaces must all occur (in any order)."""
    terms = [normalise(part) for part in query.split()]
    return list(dict.fromkeys(t for t in terms if t))


def term_grams(term: str) -> list[str]:
    """The consecutive grams a normalised term must appear as (one character: itself, as a prefix)."""
    if len(term) == 1:
        return [term]
    return [term[i : i + 2] for i in range(len(term) - 1)]


def term_pattern(term: str) -> str:
    """A substring of ``search_text`` present exactly when the normalised text contains ``term``."""
    return " ".join(term_grams(term))


def fts5_query(terms: list[str]) -> str:
    """An SQLite FTS5 MATCH expression for all ``terms`` (grams are letters and digits only, so quoting is safe)."""
    parts = [f'"{term}"*' if len(term) == 1 else '"' + " ".join(term_grams(term)) + '"' for term in terms]
    return " AND ".join(parts)


def tsquery(terms: list[str]) -> str:
    """A PostgreSQL ``to_tsquery('simple', ...)`` expression for all ``terms``."""
    parts = [f"'{term}':*" if len(term) == 1 else "(" + " <-> ".join(f"'{g}'" for g in term_grams(term)) + ")" for term in terms]
    return " & ".join(parts)


def tsquery_grams(terms: list[str]) -> str:
    """Every gram of ``terms``, in any order: a superset of :func:`tsquery`'s lines that the GIN index answers exactly.

    A phrase (``<->``) needs each candidate's ``to_tsvector`` computed again to check positions;
    the caller checks the order with :func:`term_pattern` on ``search_text`` instead (many times cheaper).
    """
    grams = dict.fromkeys(f"'{t}':*" if len(t) == 1 else f"'{g}'" for t in terms for g in term_grams(t))
    return " & ".join(grams)


def sqlite_ddl() -> list[str]:
    """The FTS5 table over ``utterance.search_text`` and the triggers that keep it in step with the rows.

    External content (``content='utterance'``): the index stores only the grams' positions, the
    text stays in ``utterance``. Triggers rather than the writer: every path that deletes or
    rewrites utterances (re-ingest, rescoring, purges) keeps the index right without knowing it.
    """
    t = SQLITE_FTS_TABLE
    delete_old = f"INSERT INTO {t}({t}, rowid, search_text) SELECT 'delete', old.id, old.search_text WHERE old.search_text IS NOT NULL;"
    insert_new = f"INSERT INTO {t}(rowid, search_text) SELECT new.id, new.search_text WHERE new.search_text IS NOT NULL;"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {t} USING fts5(search_text, content='utterance', content_rowid='id', "
        "tokenize='unicode61', columnsize=0)",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TRIGGERS[0]} AFTER INSERT ON utterance BEGIN {insert_new} END",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TRIGGERS[1]} AFTER DELETE ON utterance BEGIN {delete_old} END",
        f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TRIGGERS[2]} AFTER UPDATE OF search_text ON utterance BEGIN {delete_old} {insert_new} END",
    ]


def pg_ddl() -> list[str]:
    """The PostgreSQL GIN index of the grams as words of the ``simple`` configuration (phrase queries)."""
    return [f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON utterance USING gin (to_tsvector('simple', coalesce(search_text, '')))"]


def create_index(connection: Any) -> None:
    """Create the dialect's search index objects if missing (migration, ``windowqa search reindex``)."""
    ddl = sqlite_ddl() if connection.dialect.name == "sqlite" else pg_ddl()
    for statement in ddl:
        connection.execute(sql(statement))


def fill_search_text(connection: Any, *, all_rows: bool = False, batch: int = 20_000) -> int:
    """Compute ``search_text`` for utterances without one (or for all); returns how many were written.

    Walks the table by id in batches, so a large store is filled in bounded memory.
    """
    where = "" if all_rows else " AND search_text IS NULL"
    done, last_id = 0, 0
    while True:
        rows = connection.execute(
            sql(f"SELECT id, text FROM utterance WHERE id > :last{where} ORDER BY id LIMIT :n"), {"last": last_id, "n": batch}
        ).all()
        if not rows:
            return done
        connection.execute(
            sql("UPDATE utterance SET search_text = :st WHERE id = :id"), [{"st": search_text(t or ""), "id": i} for i, t in rows]
        )
        done += len(rows)
        last_id = rows[-1][0]


def alembic_include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic ``include_name``: leave the search index's own objects out of schema comparison."""
    if type_ == "table" and name is not None and name.startswith(SQLITE_FTS_TABLE):
        return False
    return not (type_ == "index" and name == PG_INDEX)


__all__ = [
    "PG_INDEX",
    "SQLITE_FTS_TABLE",
    "SQLITE_TRIGGERS",
    "alembic_include_name",
    "create_index",
    "fill_search_text",
    "pg_ddl",
    "sqlite_ddl",
    "bigrams",
    "fts5_query",
    "normalise",
    "query_terms",
    "search_text",
    "term_grams",
    "term_pattern",
    "tsquery_grams",
    "tsquery",
]
