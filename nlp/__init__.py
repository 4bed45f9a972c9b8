"""nlp: phrase matching against the rulebook, PII redaction, role from content.

Public surface: :func:`build_matcher`, :class:`PhraseMatcher`, :class:`MatcherOptions`,
:func:`redact_pii`. Nothing heavy loads at import.
"""

from nlp.matcher import MatcherOptions, NearMiss, PhraseMatcher
from nlp.builder import build_matcher
from nlp.redact import RedactedText, redact_pii

__all__ = ["MatcherOptions", "NearMiss", "PhraseMatcher", "build_matcher", "redact_pii", "RedactedText"]
