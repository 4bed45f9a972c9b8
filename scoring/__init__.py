"""scoring: interactions, scores, ratings, follow-ups, flags and reports on stored results.

Imports ``models`` only. Functions take a ``Session`` from the caller (CLIs, workers, the
dashboard's data module own the session scope).

Modules:
    segment   split a window's utterances into interactions (farewell, silence, 叫号, greeting)
    score     score one interaction from the rulebook, explained line by line
    duty      who is on duty at a window (roster + filed substitutes)
    store     write a matched recording (utterances, interactions, hits, flags); re-score one
    ratings   好差评 import, validation, linking, 工号 check, follow-ups, overdue flags
    queue     叫号 import and re-scoring of the recordings it touches
    site      departments, windows, staff, roster, substitutes from a TOML/CSV site file
    reports   roll-ups per staff/window/department and day/week/month; table, CSV, XLSX
    flags     raise (idempotently) and list flags
    workdays  working days (chinese_calendar) for follow-up deadlines
"""

from scoring.duty import DutyTable
from scoring.flags import list_flags, raise_flag
from scoring.ratings import RatingImportOptions, RatingImportReport, advance_follow_up, flag_overdue_follow_ups, import_ratings, link_ratings
from scoring.reports import Report, ReportError, ReportOptions, month_range, render_csv, render_table, rollup, write_xlsx
from scoring.score import InteractionScore, ScoreLine, score_interaction
from scoring.segment import MatchedUtterance, QueueCallEvent, Segment, SegmentOptions, segment_utterances
from scoring.store import StoreError, StoredRecording, load_matched, rescore_recording, store_recording, window_by_code
from scoring.tabular import ImportFileError, Rejected
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
