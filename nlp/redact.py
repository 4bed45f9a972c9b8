"""Redaction of citizens' personal numbers in transcripts.

The function itself lives in :mod:`models.privacy` so that ``scoring`` (which may not import
``nlp``) redacts transcripts for the dashboard with the very same rules; this module re-exports it.
"""

from __future__ import annotations

from models.privacy import MASK, RedactedText, redact_pii

__all__ = ["MASK", "RedactedText", "redact_pii"]
