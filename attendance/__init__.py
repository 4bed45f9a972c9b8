"""attendance: face check-ins, the hall's schedule, leave, substitutes and presence (四, 三).

Imports nothing heavy: face engines are built explicitly with :func:`build_engine`.
"""

from attendance.faces import (
    BadImageError,
    DlibFaceEngine,
    DlibOptions,
    EngineUnavailableError,
    FaceEngine,
    InsightFaceEngine,
    build_engine,
    load_image,
)
from attendance.gallery import EnrolmentOptions, EnrolmentRejected, Gallery, MatchOptions, enrol_file, enrol_image
from attendance.schedule import check_coverage, classify_day, classify_month
from models.workdays import WorkCalendar

__all__ = [
    "BadImageError",
    "DlibFaceEngine",
    "DlibOptions",
    "EngineUnavailableError",
    "EnrolmentOptions",
    "EnrolmentRejected",
    "FaceEngine",
    "Gallery",
    "InsightFaceEngine",
    "MatchOptions",
    "WorkCalendar",
    "build_engine",
    "check_coverage",
    "classify_day",
    "classify_month",
    "enrol_file",
    "enrol_image",
    "load_image",
]
