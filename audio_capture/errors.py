"""Errors of the audio stage."""


class AudioCaptureError(Exception):
    """Base class for audio_capture errors."""


class AudioDecodeError(AudioCaptureError, ValueError):
    """A file that cannot be used as audio; the message names the file and the reason."""


class CaptureDeviceError(AudioCaptureError, RuntimeError):
    """A live input device that cannot be opened or read."""
