"""audio_capture: decoding, channel roles, VAD segmentation and live capture (16 kHz float32)."""

from audio_capture.channels import ChannelMap, GateDecision, GateOptions, gate_segment, gate_stretches, own_stretches
from audio_capture.decode import SAMPLE_RATE, AudioInfo, DecodedAudio, decode_audio, probe_audio, stream_audio
from audio_capture.errors import AudioCaptureError, AudioDecodeError, CaptureDeviceError
from audio_capture.level import recording_gain_db, speech_peak_dbfs
from audio_capture.live import CaptureOptions, LiveCapture, SegmentWriter
from audio_capture.vad import SpeechSegment, StreamingVad, VadOptions, detect_speech, detect_speech_blocks

__all__ = [
    "SAMPLE_RATE",
    "AudioCaptureError",
    "AudioDecodeError",
    "AudioInfo",
    "CaptureDeviceError",
    "CaptureOptions",
    "LiveCapture",
    "SegmentWriter",
    "ChannelMap",
    "DecodedAudio",
    "GateDecision",
    "GateOptions",
    "SpeechSegment",
    "StreamingVad",
    "VadOptions",
    "decode_audio",
    "detect_speech",
    "detect_speech_blocks",
    "gate_segment",
    "gate_stretches",
    "own_stretches",
    "probe_audio",
    "recording_gain_db",
    "speech_peak_dbfs",
    "stream_audio",
]
