"""scoring: interactions, scores, ratings, follow-ups, flags and reports on stored results.

Imports ``models`` only. Functions take a ``Session`` from the caller (CLIs, workers, the
dashboard's data module own the session scope).
"""

from scoring.duty import DutyTable
from scoring.score import InteractionScore, ScoreLine, score_interaction
from scoring.segment import MatchedUtterance, QueueCallEvent, Segment, SegmentOptions, segment_utterances
from scoring.store import StoreError, StoredRecording, load_matched, rescore_recording, store_recording, window_by_code

__all__ = [
    "DutyTable",
    "InteractionScore",
    "MatchedUtterance",
    "QueueCallEvent",
    "ScoreLine",
    "Segment",
    "SegmentOptions",
    "StoreError",
    "StoredRecording",
    "load_matched",
    "rescore_recording",
    "score_interaction",
    "segment_utterances",
    "store_recording",
    "window_by_code",
]
