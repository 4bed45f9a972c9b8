"""The speech pipeline (audio → utterances) and phrase verification against the audio.

Modules: ``options`` (PipelineOptions, PipelineStats), ``segments`` (VAD, gate, decoding
windows), ``pipeline`` (Whisper over the windows; files and streams), ``verify`` (near misses
confirmed against the audio), ``source`` (the speech pipeline as ingest's transcription).
Nothing heavy is loaded at import.
"""

from windowqa.speech.options import PipelineOptions, PipelineStats
from windowqa.speech.pipeline import for_recording, heard_utterances, recording_blocks, transcribe_blocks, transcribe_file
from windowqa.speech.segments import segment_stream
from windowqa.speech.verify import VerifyOptions, transcribe_and_match, verify_near_misses

__all__ = [
    "PipelineOptions",
    "PipelineStats",
    "VerifyOptions",
    "for_recording",
    "heard_utterances",
    "recording_blocks",
    "segment_stream",
    "transcribe_and_match",
    "transcribe_blocks",
    "transcribe_file",
    "verify_near_misses",
]
