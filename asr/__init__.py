"""asr: Whisper (faster-whisper) on speech segments → utterances in Simplified Chinese."""

from asr.metrics import CerCounts, cer_counts, normalise_for_cer
from asr.model_files import InstallResult, ModelInstallError, install_whisper_base
from asr.rescoring import WordFrequencyLM
from asr.options import DecodeOptions
from asr.results import SegmentResult
from asr.transcriber import Transcriber, TranscriberError

__all__ = [
    "CerCounts",
    "DecodeOptions",
    "InstallResult",
    "ModelInstallError",
    "SegmentResult",
    "Transcriber",
    "TranscriberError",
    "WordFrequencyLM",
    "cer_counts",
    "install_whisper_base",
    "normalise_for_cer",
]
