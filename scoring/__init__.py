"""scoring: interactions, scores, ratings, follow-ups, flags and reports on stored results.

Imports ``models`` only. Functions take a ``Session`` from the caller (CLIs, workers, the
dashboard's data module own the session scope). Three rooms:

The pure domain (no database writes):
    segment    split a window's utterances into interactions (farewell, silence, 叫号, greeting)
    score      score one interaction from the rulebook, explained line by line
    conduct    telephone calls (七.2), calls while serving (二.4), retorts (二.7) inside one interaction
    duty       who is on duty at a window (roster + filed substitutes)
    effective  an interaction's effective score (after inspectors' adjustments), one definition

``scoring.store``: the database writers (recordings, site, ratings, queue, flags, tabular imports).

``scoring.access``: the role-scoped read and decision layer of the dashboard (every function
takes the acting user).

Also here: ``reports`` (read-only roll-ups; table, CSV, XLSX) and ``accounts`` (local accounts).
"""

from scoring.duty import DutyTable
from scoring.reports import Report, ReportError, ReportOptions, month_range, render_csv, render_table, rollup, write_xlsx
from scoring.score import InteractionScore, ScoreLine, score_interaction
from scoring.segment import MatchedUtterance, QueueCallEvent, Segment, SegmentOptions, segment_utterances
from scoring.store import (
    ImportFileError,
    RatingImportOptions,
    RatingImportReport,
    Rejected,
    StoreError,
    StoredRecording,
    advance_follow_up,
    flag_overdue_follow_ups,
    import_ratings,
    link_ratings,
    list_flags,
    load_matched,
    raise_flag,
    rescore_recording,
    store_recording,
    window_by_code,
)
from models.workdays import add_working_days, is_working_day

__all__ = [
    "DutyTable",
    "ImportFileError",
    "InteractionScore",
    "MatchedUtterance",
    "QueueCallEvent",
    "RatingImportOptions",
    "RatingImportReport",
    "Rejected",
    "Report",
    "ReportError",
    "ReportOptions",
    "ScoreLine",
    "Segment",
    "SegmentOptions",
    "StoreError",
    "StoredRecording",
    "add_working_days",
    "advance_follow_up",
    "flag_overdue_follow_ups",
    "import_ratings",
    "is_working_day",
    "link_ratings",
    "list_flags",
    "load_matched",
    "month_range",
    "raise_flag",
    "render_csv",
    "render_table",
    "rescore_recording",
    "rollup",
    "score_interaction",
    "segment_utterances",
    "store_recording",
    "window_by_code",
    "write_xlsx",
]
