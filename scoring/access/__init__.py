"""scoring.access: the role-scoped read and decision layer of the dashboard; every function takes the acting user.

Role limits are enforced here, in the data layer, not by hiding pages (see :mod:`.policy`).
Reads return typed rows (frozen dataclasses) that the dashboard can cache; writes (decisions,
appeals, exports, accounts) are audited in ``audit_log`` in the caller's transaction. Scores
are effective scores (:mod:`scoring.effective`).

Modules:
    policy      roles' rights, AccessDenied/NotFound, staff scope, redaction, labels
    lookups     staff and window pickers, the data's date range
    flags       the flag queue and one flag in detail (its viewing audited)
    interactions  one whole interaction: lines, hits, required phrases, lost points, audio from a line
    audio       the clip of a recording around the evidence (the only audio served)
    reviews     inspectors' decisions, points given back, reviewed examples for retraining
    appeals     申诉 filed by staff, ruled on by inspectors
    staff       a staff member's scores, flags, courtesy and ratings
    analytics   satisfaction, follow-ups, compliance (management)
    attendance  the stored attendance month as the actor may see it
    attendance_appeals  考勤申诉: staff contest a classified half-day, a manager decides
    leave       请假: staff request leave and 续假, the approval chain decides (who, what, when)
    substitutes 替岗备案 filed by a manager now, and the hall's substitutions
    circular    the monthly circular (xlsx, HTML) and export audit
    sampling    sampled review (抽检): plans, seeded draws, assigned reviews and progress
    sample_review  an inspector's review of a whole sampled interaction (hits marked, misses recorded)
    field       field precision and recall per family and rule, per month, from the reviews
    admin       accounts and the audit trail
"""

from scoring.access.admin import AccountRow, AuditRow, accounts, admin_create_account, admin_set_active, audit_trail
from scoring.access.analytics import (
    BrokenRule,
    ComplianceRow,
    CourtesyOutcome,
    CourtesyRelation,
    FollowUpCase,
    SatisfactionRow,
    StaffOutcome,
    TrendPoint,
    advance_follow_up,
    compliance,
    compliance_vs_satisfaction,
    follow_up_cases,
    rules_most_broken,
    satisfaction,
    satisfaction_trend,
)
from scoring.access.appeals import AppealRow, appeals, file_appeal, rule_on_appeal
from scoring.access.attendance import AttendanceMonthView, attendance_month
from scoring.access.attendance_appeals import AttendanceAppealLine, attendance_appeals, decide_attendance_appeal, file_attendance_appeal
from scoring.access.audio import AudioClip, cut_clip
from scoring.access.circular import Circular, monthly_circular, record_export, render_circular_html, write_circular_xlsx
from scoring.access.field import FieldFigure, FieldReport, field_estimates
from scoring.access.flags import (
    COUNT_CAP,
    SEVERITY_LABELS,
    FlagDetail,
    FlagFilter,
    FlagInfo,
    FlagRow,
    HitSpan,
    InteractionInfo,
    PrescribedPhrase,
    RatingInfo,
    ReviewRow,
    TranscriptLine,
    flag_detail,
    flag_queue,
    prescribed_phrases,
    record_flag_view,
    severity_choices,
)
from scoring.access.leave import (
    LeaveDecision,
    LeaveItem,
    SubstituteCandidate,
    approver_level,
    decide_leave,
    leave_decisions,
    leave_items,
    own_windows,
    request_extension,
    request_leave,
    set_leave_approver,
    substitute_candidates,
)
from scoring.access.interactions import (
    InteractionView,
    LostPoints,
    RequiredPhrase,
    ViewFlag,
    ViewHit,
    interaction_view,
    line_clip,
    record_line_play,
    visible_interaction,
)
from scoring.access.lookups import StaffChoice, WindowChoice, data_range, staff_choices, window_choices
from scoring.access.policy import (
    DEFAULT_POLICY,
    FLAG_KIND_LABELS,
    FLAG_STATUS_LABELS,
    FOLLOW_UP_LABELS,
    AccessDenied,
    AccessPolicy,
    Decision,
    NotFound,
    redact,
    require,
    staff_scope,
)
from scoring.access.reviews import ReviewedExample, decide_flag, labelled_examples
from scoring.access.sample_review import MissSpec, ReviewResult, SampledInteraction, record_review, sampled_interaction
from scoring.access.sampling import AssignedReview, DrawProgress, DrawRow, PlanRow, PlanSpec, assigned_reviews, check_draw, create_plan, draw_sample, draws, plans, review_progress
from scoring.access.substitutes import SubstitutionRow, file_substitute_now, substitutions
from scoring.access.staff import PhraseUse, ScorePoint, StaffFlagRow, StaffRating, courtesy_used, score_series, staff_flagged_utterances, staff_ratings

__all__ = [
    "AttendanceAppealLine",
    "LeaveDecision",
    "LeaveItem",
    "SubstituteCandidate",
    "SubstitutionRow",
    "approver_level",
    "attendance_appeals",
    "decide_attendance_appeal",
    "decide_leave",
    "file_attendance_appeal",
    "file_substitute_now",
    "leave_decisions",
    "leave_items",
    "own_windows",
    "request_extension",
    "request_leave",
    "set_leave_approver",
    "substitute_candidates",
    "substitutions",
    "InteractionView",
    "LostPoints",
    "RequiredPhrase",
    "ViewFlag",
    "ViewHit",
    "interaction_view",
    "line_clip",
    "record_line_play",
    "visible_interaction",
    "AssignedReview",
    "DrawProgress",
    "DrawRow",
    "FieldFigure",
    "FieldReport",
    "MissSpec",
    "PlanRow",
    "PlanSpec",
    "ReviewResult",
    "SampledInteraction",
    "assigned_reviews",
    "check_draw",
    "create_plan",
    "draw_sample",
    "draws",
    "field_estimates",
    "plans",
    "record_review",
    "review_progress",
    "sampled_interaction",
    "COUNT_CAP",
    "DEFAULT_POLICY",
    "FLAG_KIND_LABELS",
    "FLAG_STATUS_LABELS",
    "FOLLOW_UP_LABELS",
    "SEVERITY_LABELS",
    "AccessDenied",
    "AccessPolicy",
    "AccountRow",
    "AppealRow",
    "AttendanceMonthView",
    "AudioClip",
    "AuditRow",
    "BrokenRule",
    "Circular",
    "ComplianceRow",
    "CourtesyOutcome",
    "CourtesyRelation",
    "Decision",
    "FlagDetail",
    "FlagFilter",
    "FlagInfo",
    "FlagRow",
    "FollowUpCase",
    "HitSpan",
    "InteractionInfo",
    "NotFound",
    "PhraseUse",
    "PrescribedPhrase",
    "RatingInfo",
    "ReviewRow",
    "ReviewedExample",
    "SatisfactionRow",
    "ScorePoint",
    "StaffChoice",
    "StaffFlagRow",
    "StaffOutcome",
    "StaffRating",
    "TranscriptLine",
    "TrendPoint",
    "WindowChoice",
    "accounts",
    "admin_create_account",
    "admin_set_active",
    "advance_follow_up",
    "appeals",
    "attendance_month",
    "audit_trail",
    "compliance",
    "compliance_vs_satisfaction",
    "courtesy_used",
    "cut_clip",
    "data_range",
    "decide_flag",
    "file_appeal",
    "flag_detail",
    "flag_queue",
    "follow_up_cases",
    "labelled_examples",
    "monthly_circular",
    "prescribed_phrases",
    "severity_choices",
    "record_export",
    "record_flag_view",
    "redact",
    "render_circular_html",
    "require",
    "rule_on_appeal",
    "rules_most_broken",
    "satisfaction",
    "satisfaction_trend",
    "score_series",
    "staff_choices",
    "staff_flagged_utterances",
    "staff_ratings",
    "staff_scope",
    "window_choices",
    "write_circular_xlsx",
]
