"""Decoding real clips from every supported container, streamed, and bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_capture import AudioDecodeError, decode_audio, probe_audio, stream_audio


def _encode(samples: np.ndarray, rate: int, path: Path, codec: str) -> Path:
    """Write (channels, n) float samples with PyAV's encoders (MP3, AAC, Opus)."""
    import av

    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
        frame_n = 1024
        for i in range(0, samples.shape[1], frame_n):
            chunk = np.ascontiguousarray(samples[:, i : i + frame_n], dtype=np.float32)
            if fmt == "flt":
                frame = av.AudioFrame.from_ndarray(chunk.T.reshape(1, -1), format="flt", layout=layout)
            else:
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _resample_44k(x: np.ndarray) -> np.ndarray:
    n = int(round(x.size * 44100 / 16000))
    return np.interp(np.linspace(0, x.size - 1, n), np.arange(x.size), x).astype(np.float32)


@pytest.fixture(scope="module")
def paddle(speech_dir) -> np.ndarray:
    return decode_audio(speech_dir / "paddle_zh.flac").samples[0]


def test_flac_decodes_to_16k_mono(speech_dir, paddle):
    decoded = decode_audio(speech_dir / "paddle_zh.flac")
    assert decoded.sample_rate == 16000
    assert decoded.samples.shape[0] == 1 and decoded.samples.dtype == np.float32
    assert decoded.duration_s == pytest.approx(5.0, abs=0.01)
    reference, _ = sf.read(speech_dir / "paddle_zh.flac", dtype="float32")
    assert np.allclose(decoded.samples[0][: reference.size], reference, atol=1e-4)


@pytest.mark.parametrize(
    ("suffix", "codec", "rate"),
    [(".mp3", "libmp3lame", 44100), (".m4a", "aac", 48000), (".ogg", "libopus", 48000), (".wav", "pcm_s16le", 22050)],
)
def test_compressed_formats_and_rates_decode_to_16k_stereo(tmp_path, paddle, suffix, codec, rate):
    n = int(round(paddle.size * rate / 16000))
    left = np.interp(np.linspace(0, paddle.size - 1, n), np.arange(paddle.size), paddle).astype(np.float32)
    stereo = np.stack([left, 0.25 * left])
    path = _encode(stereo, rate, tmp_path / f"clip{suffix}", codec)
    decoded = decode_audio(path)
    assert decoded.info.source_rate == rate and decoded.info.channels == 2
    assert decoded.samples.shape[0] == 2
    assert decoded.duration_s == pytest.approx(5.0, abs=0.15)
    # the right channel is the left at -12 dB: the decoder keeps the channels apart
    ratio = np.sqrt(np.mean(decoded.samples[1] ** 2) / np.mean(decoded.samples[0] ** 2))
    assert ratio == pytest.approx(0.25, rel=0.1)


def test_streaming_blocks_equal_whole_decode(tmp_path, paddle):
    path = tmp_path / "stereo44k.flac"
    left = _resample_44k(paddle)
    sf.write(path, np.stack([left, left[::-1]]).T, 44100)
    whole = decode_audio(path).samples
    blocks = list(stream_audio(path, block_s=0.7))
    assert all(b.shape == (2, int(0.7 * 16000)) for b in blocks[:-1])
    assert np.array_equal(np.concatenate(blocks, axis=1), whole)


def test_silence_decodes_to_zeros(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000 * 2, np.float32), 16000)
    decoded = decode_audio(path)
    assert decoded.samples.shape == (1, 32000) and not decoded.samples.any()


def test_bad_input_names_file_and_reason(tmp_path, speech_dir):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp3"
    text.write_text("this is not audio\n" * 50)
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes((speech_dir / "paddle_zh.flac").read_bytes()[:60])
    cases = {
        tmp_path / "missing.wav": "not found",
        empty: "empty file",
        text: "not a readable audio file",
        truncated: "",
        tmp_path: "folder",
    }
    for path, reason in cases.items():
        with pytest.raises(AudioDecodeError) as info:
            decode_audio(path)
        assert str(path) in str(info.value) and reason in str(info.value)


def test_absurd_sample_rate_is_rejected(tmp_path):
    # a WAV header claiming 1 Hz: a damaged file, not a recording
    data = np.zeros(1600, "<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 1, 2, 2, 16)
    path = tmp_path / "one_hertz.wav"
    path.write_bytes(header + b"data" + struct.pack("<I", len(data)) + data)
    with pytest.raises(AudioDecodeError, match="sample rate 1 Hz"):
        probe_audio(path)
