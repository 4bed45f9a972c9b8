"""audio_capture: decoding, channel roles, VAD segmentation and live capture (16 kHz float32)."""

from audio_capture.channels import ChannelMap, GateDecision, GateOptions, gate_segment, gate_stretches, own_stretches
from audio_capture.decode import SAMPLE_RATE, AudioInfo, DecodedAudio, decode_audio, probe_audio, stream_audio
from audio_capture.errors import AudioCaptureError, AudioDecodeError, CaptureDeviceError
from audio_capture.level import RecordingLevels, measure_recording, recording_gain_db
from audio_capture.live import CaptureOptions, FileSource, LiveCapture, SegmentWriter
from audio_capture.vad import SpeechSegment, StreamingVad, VadOptions, detect_speech, detect_speech_blocks

__all__ = [
    "SAMPLE_RATE",
    "AudioCaptureError",
    "AudioDecodeError",
    "AudioInfo",
    "CaptureDeviceError",
    "CaptureOptions",
    "FileSource",
    "LiveCapture",
    "SegmentWriter",
    "ChannelMap",
    "RecordingLevels",
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
    "measure_recording",
    "recording_gain_db",
    "stream_audio",
]
