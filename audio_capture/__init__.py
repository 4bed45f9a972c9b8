"""audio_capture."""
