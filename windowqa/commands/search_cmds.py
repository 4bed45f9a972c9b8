"""``windowqa search "words" [--window --staff --rule --from --to]`` and ``windowqa search reindex``.

Finds transcript lines containing every given word (exact words, punctuation ignored), newest
first, and prints where to open them. Citizens' numbers are masked unless ``--unmask`` (audited).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import List, Optional

import typer

from windowqa.app import app
from windowqa.context import DB_OPT, cli_context, fail

REINDEX = "reindex"


def _day(value: Optional[str], name: str):
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        fail(f"{name} {value!r}: expected a day as YYYY-MM-DD")


@app.command("search")
def search(
    ctx: typer.Context,
    words: List[str] = typer.Argument(..., help='Words the line must contain (all of them), or "reindex" to fill and rebuild the search index.'),
    window: Optional[str] = typer.Option(None, "--window", help="Window code, e.g. A03."),
    staff: Optional[str] = typer.Option(None, "--staff", help="Staff number (工号)."),
    rule: Optional[str] = typer.Option(None, "--rule", help="Only interactions with a hit of this rule id or family."),
    date_from: Optional[str] = typer.Option(None, "--from", help="First day, YYYY-MM-DD."),
    date_to: Optional[str] = typer.Option(None, "--to", help="Last day (inclusive), YYYY-MM-DD."),
    limit: int = typer.Option(50, "--limit"),
    full: bool = typer.Option(False, "--full", help="With reindex: recompute every line's search text, not only missing ones."),
    as_json: bool = typer.Option(False, "--json"),
    unmask: bool = typer.Option(False, "--unmask", help="Show citizens' ID/mobile/bank numbers (written to the audit log)."),
    db: Optional[str] = DB_OPT,
) -> None:
    """Search all transcripts by words, newest lines first (or: windowqa search reindex)."""
    factory = cli_context(ctx, db=db).sessions
    if words == [REINDEX]:
        _reindex(factory, full)
        return
    import getpass

    from models.db import UserRole
    from scoring.access.policy import AccessDenied, AccessPolicy, NotFound
    from scoring.access.search import SearchFilters, SearchQueryError, search_transcripts
    from scoring.accounts import Actor, audit

    user = f"cli:{getpass.getuser()}"
    actor = Actor(user_id=0, username=user, role=UserRole.INSPECTOR)
    policy = AccessPolicy(pii_roles=frozenset({UserRole.INSPECTOR} if unmask else ()))
    filters = SearchFilters(window=window, staff_no=staff, rule=rule, date_from=_day(date_from, "--from"), date_to=_day(date_to, "--to"), limit=limit)
    query = " ".join(words)
    with factory() as s, s.begin():
        if unmask:
            audit(s, user, "pii.unmask", "search", None, command="search", query=query)
        try:
            hits = search_transcripts(s, actor, query, filters, policy)
        except (SearchQueryError, NotFound, AccessDenied) as exc:
            fail(str(exc))
    if as_json:
        for h in hits:
            row = {k: (v.isoformat(sep=" ") if isinstance(v, datetime) else v) for k, v in h.__dict__.items()}
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    if not hits:
        typer.echo("no lines found")
    for h in hits:
        when = h.started_at.strftime("%Y-%m-%d %H:%M:%S") if h.started_at else "-"
        who = f"{h.staff_no} {h.staff_name}" if h.staff_no else "-"
        flag = f" flag {h.flag_id}" if h.flag_id else ""
        typer.echo(f"{when}  {h.window_code or '-'}  {who}  interaction {h.interaction_id} line {h.line + 1}{flag}  [{h.role}] {h.text}")


def _reindex(factory, full: bool) -> None:
    from scoring.store.search_index import reindex

    with factory() as s, s.begin():
        result = reindex(s, full=full)
    typer.echo(f"search index: {result.utterances_filled} lines filled" + (", FTS5 table rebuilt" if result.rebuilt else ""))
