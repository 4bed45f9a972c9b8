"""One staff line cut by the voice split is one line again (issue 17).

A short stretch inside a staff line that the split gives to the citizen (a false voice change)
becomes staff when it sounds like the staff member (``RoleOptions.staff_bridge_s``,
``bridge_max_drop``), and staff stretches of one voiceprint that abut
are matched as one utterance (``VoiceSplitOptions.join_gap_s``): a forbidden phrase cut in two
matches nowhere. The d-vector windows are the real engine's, on the shared clips
(``tests/data/speech``) and recorded from a mono demo hall (``tests/data/voice``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_capture.speakers import (
    ChangeOptions, RoleOptions, VoiceSplitOptions, VoiceStretch, bridge_staff, extend_staff, split_by_voice,
    split_segment,
)
from audio_capture.vad import SpeechSegment
from audio_capture.voice import SAMPLE_RATE, build_voice_engine
from audio_capture.voice_eval import trim_silence
from models.domain import Role, Utterance
from windowqa.speech.voices import RecordingVoices, ServingOptions, VoiceSplitter, voice_options
from windowqa.utterance_stream import HeardUtterance, utterance_stream, with_roles

SPEECH = Path(__file__).parent / "data" / "speech"
SOURCE = "A01_20260302T090000.flac"


def _clip(name: str) -> np.ndarray:
    samples, rate = sf.read(SPEECH / f"{name}.flac", dtype="float32")
    assert rate == SAMPLE_RATE
    return trim_silence(samples)


@pytest.fixture(scope="module")
def voices():
    """Real windows: the staff member's line (kimi_asr_example after its first 1.5 s, which
    enrol them) with 0.8 s of another speaker mixed in after 2 s."""
    engine = build_voice_engine("dvector")
    staff, other = _clip("kimi_asr_example"), _clip("wenet_aishell1_BAC009S0724W0121")
    head, cut = int(1.5 * SAMPLE_RATE), int(3.5 * SAMPLE_RATE)
    mix = np.concatenate([staff[head:cut], other[:int(0.8 * SAMPLE_RATE)], staff[cut:]])
    return {"engine": engine, "mix": mix, "prints": {"S01": engine.embed(staff[:head])}}


@pytest.fixture(scope="module")
def false_change():
    """Recorded windows of one staff line that the split cuts by a false voice change
    (tests/data/voice/SOURCES.md: seed 39, A01-am, 5.56-9.20 s; 工号 1001)."""
    data = np.load(Path(__file__).parent / "data" / "voice" / "demo_mono_a01_false_change_windows.npz")
    vectors = data["vectors"].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lo, hi = (float(x) for x in data["segment_s"])
    return {"starts": lo + np.arange(len(vectors)) * 0.1, "vectors": vectors, "lo": lo, "hi": hi,
            "prints": {"1001": data["voiceprint_1001"].astype(np.float32)}}


def _split(v, role_options: RoleOptions = RoleOptions()):
    return split_by_voice(v["starts"], v["vectors"], 1.0, v["lo"], v["hi"], v["prints"], ChangeOptions(), role_options)


def test_a_short_stretch_of_the_staff_voice_between_two_staff_stretches_is_staff(false_change):
    cut = _split(false_change, RoleOptions(staff_bridge_s=0.0))
    assert [(s.role, s.speaker_key) for s in cut.stretches] == [("staff", "1001"), ("citizen", None), ("staff", "1001")]
    assert cut.stretches[1].duration_s <= RoleOptions().staff_bridge_s
    whole = _split(false_change)
    assert [(s.role, s.speaker_key) for s in whole.stretches] == [("staff", "1001")]
    assert (whole.stretches[0].start_s, whole.stretches[0].end_s) == (false_change["lo"], false_change["hi"])
    assert whole.change_s == cut.change_s  # the changes stay: each turn is still decoded on its own
    # a bridge shorter than the stretch, or a stretch that must sound almost exactly like its
    # neighbours, leaves it to the citizen
    assert [s.role for s in _split(false_change, RoleOptions(staff_bridge_s=0.5)).stretches] == ["staff", "citizen", "staff"]
    assert [s.role for s in _split(false_change, RoleOptions(bridge_max_drop=0.02)).stretches] \
        == ["staff", "citizen", "staff"]


def test_a_real_short_turn_of_another_voice_is_not_bridged(voices):
    """0.8 s of another speaker inside the staff line is short enough to bridge; its own voice
    (far below the staff stretches around it) keeps it the citizen's."""
    v = voices
    split = split_segment(v["engine"], v["mix"], v["prints"])
    assert [s.role for s in split.stretches] == ["staff", "citizen", "staff"]
    assert split.stretches[1].duration_s <= RoleOptions().staff_bridge_s
    by_length = VoiceSplitOptions(roles=RoleOptions(bridge_max_drop=float("inf")))
    assert [s.role for s in split_segment(v["engine"], v["mix"], v["prints"], options=by_length).stretches] == ["staff"]


def test_the_bridge_needs_staff_of_one_voiceprint_on_both_sides():
    staff_a, staff_b = VoiceStretch(0.0, 2.0, "staff", 0.9, "A"), VoiceStretch(2.8, 5.0, "staff", 0.9, "B")
    short = VoiceStretch(2.0, 2.8, "unknown", 0.5)
    assert bridge_staff((staff_a, short, staff_b), 1.0) == (staff_a, short, staff_b)
    again = VoiceStretch(2.8, 5.0, "staff", 0.9, "A")
    assert [s.role for s in bridge_staff((staff_a, short, again), 1.0)] == ["staff"] * 3
    assert bridge_staff((staff_a, short, again), 0.0) == (staff_a, short, again)
    citizen = VoiceStretch(2.8, 5.0, "citizen", 0.2)
    assert bridge_staff((staff_a, short, citizen), 1.0) == (staff_a, short, citizen)


def _recorded(name: str, staff_no: str) -> dict:
    data = np.load(Path(__file__).parent / "data" / "voice" / name)
    vectors = data["vectors"].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lo, hi = (float(x) for x in data["segment_s"])
    return {"starts": lo + np.arange(len(vectors)) * 0.1, "vectors": vectors, "lo": lo, "hi": hi,
            "prints": {staff_no: data[f"voiceprint_{staff_no}"].astype(np.float32)}}


def test_the_tail_of_a_staff_line_cut_off_by_a_false_change_is_staff():
    """刚才和你说 / 过了怎么还问 (tests/data/voice/SOURCES.md, seed 84): the tail left ``unknown``
    by a false change goes to the staff member whose voice it has, so the line stays whole."""
    v = _recorded("demo_mono_a01_tail_windows.npz", "1001")
    cut = _split(v, RoleOptions(extend_s=0.0))
    assert [(s.role, s.speaker_key) for s in cut.stretches] == [("staff", "1001"), ("unknown", None)]
    whole = _split(v)
    assert [(s.role, s.speaker_key, s.start_s, s.end_s) for s in whole.stretches] == [("staff", "1001", v["lo"], v["hi"])]
    # shorter edges only, or a tail that must sound better than the head: left to the content
    assert [s.role for s in _split(v, RoleOptions(extend_s=1.0)).stretches] == ["staff", "unknown"]
    assert [s.role for s in _split(v, RoleOptions(bridge_max_drop=-0.1)).stretches] == ["staff", "unknown"]


def test_only_an_unknown_stretch_that_sounds_like_its_staff_neighbour_is_extended():
    staff = VoiceStretch(1.0, 3.0, "staff", 0.9, "A")
    head, tail = VoiceStretch(0.0, 1.0, "unknown", 0.5), VoiceStretch(3.0, 4.5, "unknown", 0.5)
    citizen = VoiceStretch(3.0, 4.5, "citizen", 0.3)
    alike = {(0.0, "A"): 0.85, (1.0, "A"): 0.9, (3.0, "A"): 0.8}

    def own(s, key):
        return alike[(s.start_s, key)]

    assert [s.role for s in extend_staff((head, staff, tail), 2.0, own, 0.15)] == ["staff"] * 3
    assert extend_staff((staff, citizen), 2.0, own, 0.15) == (staff, citizen)  # a citizen stays one
    assert extend_staff((head, staff, tail), 2.0, own, 0.05)[2] == tail  # 0.10 below the neighbour
    assert extend_staff((head, staff, tail), 1.2, own, 0.15)[2] == tail  # longer than the edge
    assert extend_staff((head, staff, tail), 0.0, own, 0.15) == (head, staff, tail)
    # the edge must also sound like staff on its own (staff_min_similarity)
    assert [s.role for s in extend_staff((head, staff, tail), 2.0, own, 0.15, 0.82)] == ["staff", "staff", "unknown"]
    # inside a segment too: staff, unknown, citizen; an unknown between two unknowns stays
    middle = VoiceStretch(3.0, 4.5, "unknown", 0.5)
    later = VoiceStretch(4.5, 6.0, "citizen", 0.3)
    assert [s.role for s in extend_staff((staff, middle, later), 2.0, own, 0.15)] == ["staff", "staff", "citizen"]
    assert extend_staff((head, middle), 2.0, own, 0.15) == (head, middle)


class _Replay:
    """Gives the recorded windows (the encoder was run in the fixture; this is its output)."""

    name, embedding_dim, block_s = "dvector", 256, 1.0

    def __init__(self, starts, vectors):
        self._windows = (starts, vectors)

    def embed_windows(self, samples, window_s, hop_s):
        return self._windows


def test_the_voice_split_gives_each_staff_turn_its_voiceprint(false_change):
    v = false_change
    recording = RecordingVoices(_Replay(v["starts"] - v["lo"], v["vectors"]), v["prints"], frozenset({"1001"}),
                                VoiceSplitOptions(), ServingOptions())
    segment = SpeechSegment(channel=0, start_s=v["lo"], end_s=v["hi"], voiced_ms=0, level_dbfs=-20.0, floor_dbfs=-60.0)
    parts = recording.split(segment, np.zeros(0, np.float32))
    assert [(p.role, p.speaker_key) for p in parts] == [(Role.STAFF, "1001")] * 3
    assert parts[1].voice is None  # too short to embed for who is serving


# ---------------------------------------------------------------------------- joined in the stream


def _heard(text: str, start_s: float, end_s: float, speaker: str | None, role: Role = Role.STAFF) -> HeardUtterance:
    audio = np.zeros(int(round((end_s - start_s) * SAMPLE_RATE)), np.float32)
    return HeardUtterance(Utterance(text, role, start_s, end_s, channel=0, source=SOURCE), audio, speaker=speaker)


def _spans(items) -> list[tuple[float, float]]:
    return [(i.utterance.start_s, i.utterance.end_s) for i in items]


def test_abutting_staff_stretches_of_one_voiceprint_are_joined():
    line = [_heard("到点了", 10.0, 11.6, "S01"), _heard("明天再来吧", 11.6, 12.4, "S01")]
    out = list(with_roles(line, None))
    assert _spans(out) == [(10.0, 12.4)] and out[0].utterance.text == "到点了 明天再来吧"
    assert out[0].speaker == "S01" and out[0].audio.shape[-1] == int(2.4 * SAMPLE_RATE)
    other = [_heard("到点了", 10.0, 11.6, "S01"), _heard("明天再来吧", 11.6, 12.4, "S02")]
    assert _spans(with_roles(other, None)) == [(10.0, 11.6), (11.6, 12.4)]
    apart = [_heard("到点了", 10.0, 11.6, "S01"), _heard("明天再来吧", 12.0, 12.8, "S01")]
    assert _spans(with_roles(apart, None)) == [(10.0, 11.6), (12.0, 12.8)]  # 0.4 s: beyond the default 0.3
    assert _spans(with_roles(apart, None, join_gap_s=0.5)) == [(10.0, 12.8)]
    stereo = [_heard("到点了", 10.0, 11.6, None), _heard("明天再来吧", 11.6, 12.4, None)]
    assert _spans(with_roles(stereo, None)) == [(10.0, 11.6), (11.6, 12.4)]  # no voiceprint: as before


def test_a_forbidden_phrase_cut_by_the_split_is_matched_whole(matcher):
    from nlp.role import build_role_classifier

    line = [_heard("到点了", 10.0, 11.6, "S01"), _heard("明天再来吧", 11.6, 12.4, "S01")]
    for classifier in (None, build_role_classifier()):
        out = list(utterance_stream(line, matcher, role_classifier=classifier))
        assert _spans(out) == [(10.0, 12.4)]
        assert "forbidden.come_tomorrow" in {h.rule_id for h in out[0].hits}
    alone = list(utterance_stream([_heard("到点了", 10.0, 11.6, "S01"), _heard("明天再来吧", 11.6, 12.4, "S02")],
                                  matcher))
    assert all("forbidden.come_tomorrow" not in {h.rule_id for h in u.hits} for u in alone)


# ---------------------------------------------------------------------------- settings


def test_the_join_gap_is_a_split_setting_stored_with_the_recording():
    from windowqa.ingest import IngestOptions, _Run
    from windowqa.speech.source import SpeechSource

    split, _ = voice_options({"split": {"join_gap_s": 0.5}})
    assert split.join_gap_s == 0.5 and VoiceSplitOptions().join_gap_s == 0.3
    with pytest.raises(ValueError, match="unknown field 'join_gap'"):
        voice_options({"split": {"join_gap": 0.5}})
    assert voice_options({"roles": {"staff_bridge_s": 0.0}})[0].roles.staff_bridge_s == 0.0
    source = SpeechSource(transcriber=None, voice=VoiceSplitter(_Replay(None, None), {}, split=split))
    assert source.join_gap_s == 0.5 and SpeechSource(transcriber=None).join_gap_s is None
    stored = source.describe()["voice"]["split"]
    assert stored["join_gap_s"] == 0.5 and stored["roles"]["staff_bridge_s"] == RoleOptions().staff_bridge_s

    class _Heard(SpeechSource):  # the recording's stretches as the split left them, 0.4 s apart
        def __call__(self, path, *, started_at, channel_map):
            return iter([_heard("到点了", 10.0, 11.6, "S01"), _heard("明天再来吧", 12.0, 12.8, "S01")])

    def stream(heard):
        run = _Run(IngestOptions(window="A01"), 1, None, None, heard, _NoHits(), None, None, None)
        return _spans(run.stream(Path(SOURCE), None))

    assert stream(_Heard(transcriber=None, verify=None, voice=VoiceSplitter(_Replay(None, None), {}, split=split))) \
        == [(10.0, 12.8)]
    assert stream(_Heard(transcriber=None, verify=None)) == [(10.0, 11.6), (12.0, 12.8)]


class _NoHits:
    """A matcher that finds nothing (the joins are under test, not the matching)."""

    def match_many(self, utterances):
        return [[] for _ in utterances]

    def citizen_abuse(self, utterance):
        return []
