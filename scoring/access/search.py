"""Transcript search: the lines that contain given words, with window, staff, rule and date filters.

A complaint (八.5) names a window, a day and what was said; this finds the line and the
interaction it belongs to. Words are matched exactly (after :func:`models.transcript_search.normalise`:
punctuation and spaces in the transcript are ignored), every word of the query must occur in the
line. The index is character bigrams (see :mod:`models.transcript_search`), so no segmenter is
needed here. A staff member finds only lines of their own interactions; citizens' numbers are
masked for roles that may not see them, and a line is found only by words its reader can see
(a masked ID number cannot be searched for).

Three plans, on SQLite and PostgreSQL alike. When the filters leave few interactions (a window
and a week, a staff member's month), their lines are tested directly (a substring test of
``search_text``). When the words are common, lines are walked newest first and tested, which
stops after ``limit`` found lines. When the words are rare, the index (FTS5 on SQLite, GIN on
PostgreSQL) finds their few lines, which are joined with the filters.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator
from datetime import date, datetime

from sqlalchemy import column, func, literal_column, select, table, text
from sqlalchemy.orm import Session

from models.db import Flag, Interaction, RuleHitRow, Staff, Utterance, UserRole, Window
from models.transcript_search import SQLITE_FTS_TABLE, fts5_query, normalise, query_terms, term_grams, term_pattern, tsquery_grams
from scoring.access.policy import DEFAULT_POLICY, AccessPolicy, NotFound, day_end, day_start, redact, require, staff_scope
from scoring.accounts import Actor

SEARCH = {UserRole.INSPECTOR, UserRole.MANAGER, UserRole.ADMIN, UserRole.STAFF}
# Below this many interactions left by the filters, checking their lines beats walking the index.
DIRECT_SCAN_MAX_INTERACTIONS = 10_000
# Words in at most this many lines are looked up in the index and joined with the filters.
RARE_WORDS_MAX_LINES = 20_000
# PostgreSQL: the rarest gram's estimated lines (an upper bound of the phrase's) at most this: rare.
# The index path costs about the grams' common lines (tens of ms per thousand); a walk newest first
# costs limit / (the words' share of lines), unbounded when the phrase is much rarer than its
# grams (a phone number's digits: 356 lines of 19,000 with its rarest gram took a 2.8 s walk).
PG_RARE_WORDS_MAX_ESTIMATE = 30_000


class SearchQueryError(ValueError):
    """The query has no word to search for."""


@dataclass(frozen=True)
class SearchFilters:
    """What narrows a search; every field is optional. Days are inclusive."""

    window: str | None = None  # window code, e.g. "A03"
    staff_no: str | None = None  # 工号
    rule: str | None = None  # a rule id ("forbidden.not_my_job") or a family ("forbidden"): interactions with such a hit
    date_from: date | None = None
    date_to: date | None = None
    limit: int = 200  # newest lines first


@dataclass(frozen=True)
class SearchHit:
    """One found line and where to open it."""

    utterance_id: int
    interaction_id: int
    recording_id: int
    line: int  # 0-based line of the interaction's transcript
    started_at: datetime | None
    start_s: float  # offset into the recording
    end_s: float
    window_code: str | None
    staff_no: str | None
    staff_name: str | None
    role: str  # staff / citizen
    text: str  # as the reader may see it (numbers masked)
    flag_id: int | None  # a flag on this interaction (its line if any), to open the interaction's view


def search_transcripts(
    session: Session, actor: Actor, query: str, filters: SearchFilters = SearchFilters(), policy: AccessPolicy = DEFAULT_POLICY
) -> list[SearchHit]:
    """Lines whose text contains every word of ``query``, newest first.

    Raises:
        SearchQueryError: no word in ``query``.
        AccessDenied: a staff member asked for another staff member's lines.
        NotFound: an unknown window or 工号 in ``filters``.
    """
    require(actor, SEARCH, "search transcripts")
    terms = query_terms(query)
    if not terms:
        raise SearchQueryError("请输入要搜索的词语")
    conditions, rule_interactions = _filter_conditions(session, actor, filters)
    limit = max(1, min(int(filters.limit), 1000))
    rows = _rows(session, terms, conditions, rule_interactions, limit)
    return _hits(session, actor, terms, rows, policy)


def pg_match(terms: list[str]):
    """The PostgreSQL condition: literally the GIN index's expression (``models.transcript_search.pg_ddl``), even in a generic plan.

    Every gram of the words, in any order (answered by the index without a recheck); the search
    adds the words' ``search_text`` patterns, which check the order.
    """
    vector = func.to_tsvector(literal_column("'simple'"), func.coalesce(Utterance.search_text, literal_column("''")))
    return vector.op("@@")(func.to_tsquery(literal_column("'simple'"), tsquery_grams(terms)))


def _filter_conditions(session: Session, actor: Actor, f: SearchFilters) -> tuple[list, Any]:
    """The conditions on interactions, and apart the ids of interactions with the rule's hits (or None)."""
    staff_id = None
    if f.staff_no:
        staff_id = session.scalar(select(Staff.id).where(Staff.staff_no == f.staff_no))
        if staff_id is None:
            raise NotFound(f"没有工号 {f.staff_no}")
    staff_id = staff_scope(actor, staff_id)
    conditions = []
    if staff_id is not None:
        conditions.append(Interaction.staff_id == staff_id)
    if f.window:
        window_id = session.scalar(select(Window.id).where(Window.code == f.window))
        if window_id is None:
            raise NotFound(f"没有窗口 {f.window}")
        conditions.append(Interaction.window_id == window_id)
    if f.date_from is not None:
        conditions.append(Interaction.started_at >= day_start(f.date_from))
    if f.date_to is not None:
        conditions.append(Interaction.started_at < day_end(f.date_to))
    if f.rule:
        # a family is the rule ids' prefix: a range of the rule_id index, not a scan of every hit
        rule_match = [RuleHitRow.rule_id == f.rule] if "." in f.rule else [RuleHitRow.rule_id > f"{f.rule}.", RuleHitRow.rule_id < f"{f.rule}/"]
        return conditions, select(RuleHitRow.interaction_id).where(*rule_match)
    return conditions, None


_COLUMNS = (Utterance.id, Utterance.interaction_id, Utterance.recording_id, Utterance.seq, Utterance.started_at,
            Utterance.start_s, Utterance.end_s, Utterance.role, Utterance.text, Window.code, Staff.staff_no, Staff.name)


def _base():
    return (
        select(*_COLUMNS)
        .join(Interaction, Interaction.id == Utterance.interaction_id)
        .outerjoin(Window, Window.id == Interaction.window_id)
        .outerjoin(Staff, Staff.id == Interaction.staff_id)
    )


def _rows(session: Session, terms: list[str], conditions: list, rule_interactions: Any, limit: int) -> list:
    sqlite = session.get_bind().dialect.name == "sqlite"
    walk = conditions
    narrow = None  # whether the filters leave few interactions, when known without counting them
    if rule_interactions is not None:
        # ``+ 0``: a membership test only, so another filter's index (or newest-first) drives
        member = (Interaction.id + 0).in_(rule_interactions)
        walk = [*conditions, member]
        # the rule's hits drive only when they are few, or when no other filter could
        few = _at_most(session, rule_interactions, DIRECT_SCAN_MAX_INTERACTIONS)
        narrow = few if not conditions else None  # the rule alone: its hits' count says it (no join with interactions)
        few = few or not conditions
        conditions = [*conditions, Interaction.id.in_(rule_interactions) if few else member]
    contains = [Utterance.search_text.contains(term_pattern(t), autoescape=True) for t in terms]
    newest_first = (Interaction.started_at.desc(), Utterance.seq)
    if conditions and (narrow if narrow is not None else _few_interactions(session, conditions)):  # few lines to test, whatever the words
        return session.execute(_base().where(*conditions, *contains).order_by(*newest_first).limit(limit)).all()
    if _common_words(session, terms, sqlite):  # the first ``limit`` lines come early, newest first
        order = newest_first if conditions else (Utterance.id.desc(),)
        with _serial(session, not sqlite):
            return session.execute(_base().where(*walk, *contains).order_by(*order).limit(limit)).all()
    if not sqlite:  # rare words: the GIN index finds their few lines
        # the order of a word's grams is checked on search_text (one gram, or one character, has none);
        # the newest ``limit`` ids first, then their columns: a misestimate of the matches never joins
        # the windows and staff to every one of them
        in_order = [c for t, c in zip(terms, contains) if len(t) > 2]
        newest = (select(Utterance.id).join(Interaction, Interaction.id == Utterance.interaction_id)
                  .where(pg_match(terms), *in_order, *conditions).order_by(Utterance.id.desc()).limit(limit))
        return session.execute(_base().where(Utterance.id.in_(newest)).order_by(Utterance.id.desc())).all()
    # rare words (or no filter): the FTS5 table drives, newest rowids first
    fts = table(SQLITE_FTS_TABLE, column("rowid"))
    stmt = (
        select(*_COLUMNS)
        .select_from(fts)
        .join(Utterance, Utterance.id == fts.c.rowid)
        .join(Interaction, Interaction.id == Utterance.interaction_id)
        .outerjoin(Window, Window.id == Interaction.window_id)
        .outerjoin(Staff, Staff.id == Interaction.staff_id)
        .where(text(f"{SQLITE_FTS_TABLE} MATCH :fts_query").bindparams(fts_query=fts5_query(terms)), *conditions)
        .order_by(fts.c.rowid.desc())
        .limit(limit)
    )
    return session.execute(stmt).all()


@contextmanager
def _serial(session: Session, postgres: bool) -> Iterator[None]:
    """PostgreSQL without parallel workers for one statement (then as before).

    A walk newest first stops at ``limit`` lines: the planner prices parallel workers as if they
    found them sooner and so prefers walking every window's interactions by start over one window's
    own index (1.6 s against 0.11 s for a window's year on 1.5 M interactions, load 7 on 2 cores).
    """
    if not postgres:
        yield
        return
    before = session.scalar(text("SELECT current_setting('max_parallel_workers_per_gather')"))
    session.execute(text("SELECT set_config('max_parallel_workers_per_gather', '0', true)"))
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('max_parallel_workers_per_gather', :v, true)"), {"v": before})


def _common_words(session: Session, terms: list[str], sqlite: bool) -> bool:
    """More lines contain the words than joining each of them with the filters would take.

    SQLite counts the index's matches up to the limit; PostgreSQL's planner estimates them from
    its statistics of the grams (counting would first build the whole bitmap of a common word).
    """
    if sqlite:
        sql = f"SELECT count(*) FROM (SELECT rowid FROM {SQLITE_FTS_TABLE} WHERE {SQLITE_FTS_TABLE} MATCH :q LIMIT :cap)"
        return session.scalar(text(sql), {"q": fts5_query(terms), "cap": RARE_WORDS_MAX_LINES + 1}) > RARE_WORDS_MAX_LINES
    # A word's lines: its rarest gram's (the planner's estimate of a phrase multiplies its grams'
    # and runs far low). Separate words are taken as independent.
    lines = max(float(session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'utterance'")) or 0.0), 1.0)
    share = 1.0
    for term in terms[:4]:
        grams = term_grams(term)[:8]
        share *= min(_pg_estimate(session, f"'{g}':*" if len(g) == 1 else f"'{g}'") for g in grams) / lines
    return share * lines > PG_RARE_WORDS_MAX_ESTIMATE


def _pg_estimate(session: Session, query: str) -> float:
    """PostgreSQL's estimate of the lines matching a tsquery (planning only, from the grams' statistics)."""
    vector = func.to_tsvector(literal_column("'simple'"), func.coalesce(Utterance.search_text, literal_column("''")))
    compiled = select(Utterance.id).where(vector.op("@@")(func.to_tsquery(literal_column("'simple'"), query))).compile(session.get_bind())
    plan = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"]


def _few_interactions(session: Session, conditions: list) -> bool:
    return _at_most(session, select(Interaction.id).where(*conditions), DIRECT_SCAN_MAX_INTERACTIONS)


def _at_most(session: Session, rows, n: int) -> bool:
    """Whether the select ``rows`` has at most ``n`` rows (reads at most ``n + 1``)."""
    return session.scalar(select(func.count()).select_from(rows.limit(n + 1).subquery())) <= n


def _hits(session: Session, actor: Actor, terms: list[str], rows: list, policy: AccessPolicy) -> list[SearchHit]:
    found = []
    for r in rows:
        shown = redact(actor, r.text, policy) or ""
        visible = normalise(shown)
        # checked again on what the reader sees: a stale index entry or a masked number finds nothing
        if all(t in visible for t in terms) and all(t in normalise(r.text) for t in terms):
            found.append((r, shown))
    if not found:
        return []
    line_of = _lines(session, {r.interaction_id for r, _ in found})
    flags = _flags(session, actor, {r.interaction_id for r, _ in found})
    return [
        SearchHit(
            utterance_id=r.id, interaction_id=r.interaction_id, recording_id=r.recording_id, line=line_of.get(r.id, 0),
            started_at=r.started_at, start_s=r.start_s, end_s=r.end_s, window_code=r.code, staff_no=r.staff_no, staff_name=r.name,
            role=getattr(r.role, "value", str(r.role)), text=shown,
            flag_id=flags.get((r.interaction_id, r.id)) or flags.get((r.interaction_id, None)),
        )
        for r, shown in found
    ]


def _lines(session: Session, interaction_ids: set[int]) -> dict[int, int]:
    """Utterance id -> its 0-based line in its interaction."""
    rows = session.execute(
        select(Utterance.id, Utterance.interaction_id).where(Utterance.interaction_id.in_(interaction_ids)).order_by(Utterance.interaction_id, Utterance.seq)
    ).all()
    out, current, n = {}, None, 0
    for uid, iid in rows:
        n = 0 if iid != current else n + 1
        current = iid
        out[uid] = n
    return out


def _flags(session: Session, actor: Actor, interaction_ids: set[int]) -> dict[tuple[int, int | None], int]:
    """(interaction, utterance) -> a flag id; (interaction, None) -> the interaction's first flag."""
    stmt = select(Flag.id, Flag.interaction_id, Flag.utterance_id).where(Flag.interaction_id.in_(interaction_ids)).order_by(Flag.id)
    if actor.role is UserRole.STAFF:
        stmt = stmt.where(Flag.staff_id == actor.staff_id)
    out: dict[tuple[int, int | None], int] = {}
    for fid, iid, uid in session.execute(stmt).all():
        out.setdefault((iid, uid), fid)
        out.setdefault((iid, None), fid)
    return out


__all__ = ["DIRECT_SCAN_MAX_INTERACTIONS", "SearchFilters", "SearchHit", "SearchQueryError", "search_transcripts"]
