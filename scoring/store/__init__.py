"""scoring.store: the database writers of scoring (everything that inserts or changes rows).

Modules:
    recordings  write a matched recording (utterances, interactions, hits, flags); re-score one
    site        departments, windows, staff, roster, substitutes from a TOML/CSV site file
    ratings     好差评 import, validation, linking, 工号 check, follow-ups, overdue flags
    queue       叫号 import and re-scoring of the recordings it touches
    repeat_visits  citizens back for the same matter (八.3/八.4): hashed citizen references, flags
    flags       raise (idempotently) and list flags
    tabular     reading CSV/JSON/XLSX import files, import runs

The pure domain (``scoring.segment``, ``scoring.score``, ``scoring.duty``, ``scoring.effective``)
does the thinking; this package only writes its results. It never imports ``scoring.access``.
"""

from scoring.store.flags import list_flags, raise_flag
from scoring.store.queue import QueueImportReport, import_queue
from scoring.store.ratings import (
    RatingImportOptions,
    RatingImportReport,
    advance_follow_up,
    flag_overdue_follow_ups,
    import_ratings,
    link_ratings,
)
from scoring.store.recordings import StoreError, StoredRecording, load_calls, load_matched, rescore_recording, store_recording, window_by_code
from scoring.store.site import SiteFileError, SiteLoadReport, load_site
from scoring.store.tabular import ImportFileError, Rejected

__all__ = [
    "ImportFileError",
    "QueueImportReport",
    "RatingImportOptions",
    "RatingImportReport",
    "Rejected",
    "SiteFileError",
    "SiteLoadReport",
    "StoreError",
    "StoredRecording",
    "advance_follow_up",
    "flag_overdue_follow_ups",
    "import_queue",
    "import_ratings",
    "link_ratings",
    "list_flags",
    "load_calls",
    "load_matched",
    "load_site",
    "raise_flag",
    "rescore_recording",
    "store_recording",
    "window_by_code",
]
