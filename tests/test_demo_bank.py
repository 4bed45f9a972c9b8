"""The committed utterance bank and the noisy phrases-audio fixture built from it."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.domain import Role
from windowqa.demo import BANK_DIR, BANK_SAMPLE_RATE_HZ, BankError, load_bank, read_clip

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "data" / "phrases_audio"


def _mix_eval():
    # tools/ is not a package: load the script as a module (registered, so its dataclasses resolve)
    if "windowqa_tools_mix_eval" not in sys.modules:
        path = ROOT / "tools" / "tts" / "mix_eval.py"
        spec = importlib.util.spec_from_file_location("windowqa_tools_mix_eval", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["windowqa_tools_mix_eval"]


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def test_bank_rule_ids_are_stable_ids_and_cover_every_rule(bank, rulebook):
    known = {rule.id for rule in rulebook.rules}
    required_somewhere = set()
    for line in bank:
        assert set(line.expected) | set(line.optional) <= known, line.id
        if line.speaker is Role.CITIZEN:
            # only what staff say counts: citizen lines never carry an expected id
            assert not line.expected and not line.optional, line.id
        required_somewhere |= set(line.expected)
    assert required_somewhere == known  # forbidden.retort too: staff retorts in the staff voice (issue 15)
    assert 150 <= len(bank) <= 300
    texts = [line.text for line in bank]
    assert len(set(texts)) == len(texts)


def test_bank_has_hard_negatives_and_citizens_saying_forbidden_words(bank, rulebook):
    forbidden = [r for r in rulebook.rules if r.family.value == "forbidden"]
    wordings = [w for r in forbidden for w in r.wording]
    # a staff line with no expected id that still shares a forbidden keyword ("领导", "明天再来")
    hard_negatives = [x for x in bank if x.speaker is Role.STAFF and not x.expected
                      and any(k in x.text for k in ("领导", "明天", "不属于我们窗口", "说了算", "手续不全"))]
    assert len(hard_negatives) >= 8
    citizen_forbidden = [x for x in bank if x.speaker is Role.CITIZEN
                         and any(part in x.text for w in wordings for part in w.split("，") if len(part) >= 3)]
    assert len(citizen_forbidden) >= 5


def test_every_clip_decodes_at_16k_mono_and_the_bank_stays_small(bank):
    total_bytes = 0
    for line in bank:
        info = sf.info(str(line.audio_path))
        assert (info.samplerate, info.channels, info.format) == (BANK_SAMPLE_RATE_HZ, 1, "OGG"), line.id
        assert 0.8 < info.duration < 12.0, line.id
        total_bytes += line.audio_path.stat().st_size
    assert total_bytes < 5_000_000
    audio = read_clip(bank[0])
    rms_dbfs = 10 * np.log10(np.mean(audio[np.abs(audio) > 0.01] ** 2))
    assert -26 < rms_dbfs < -14


def test_staff_and_citizen_voices_differ_in_pitch(bank):
    def median_f0_hz(audio: np.ndarray) -> float:
        frame, hop, sr = 640, 160, BANK_SAMPLE_RATE_HZ
        f0 = []
        for start in range(0, len(audio) - frame, hop):
            x = audio[start : start + frame] - audio[start : start + frame].mean()
            if np.sqrt(np.mean(x**2)) < 0.03:
                continue
            corr = np.correlate(x, x, "full")[frame - 1 :]
            lo, hi = sr // 400, sr // 70
            lag = lo + int(np.argmax(corr[lo:hi]))
            if corr[lag] > 0.5 * corr[0]:
                f0.append(sr / lag)
        return float(np.median(f0))

    staff = [median_f0_hz(read_clip(x)) for x in bank if x.speaker is Role.STAFF][:6]
    citizen = [median_f0_hz(read_clip(x)) for x in bank if x.speaker is Role.CITIZEN][:6]
    assert min(staff) > max(citizen)


def test_bad_bank_is_named(tmp_path):
    (tmp_path / "lines.tsv").write_text("id\tspeaker\tscenario\ttext\trule_ids\nx\tclerk\tany\t你好\t\n", encoding="utf-8")
    with pytest.raises(BankError, match=r"lines.tsv:2: speaker"):
        load_bank(tmp_path)
    (tmp_path / "lines.tsv").write_text("id\tspeaker\tscenario\ttext\trule_ids\nx\tstaff\tany\t你好\t\n", encoding="utf-8")
    with pytest.raises(BankError, match="x.opus is missing"):
        load_bank(tmp_path)


def test_mixed_line_has_the_stated_snr(bank):
    mix_eval = _mix_eval()
    options = mix_eval.MixOptions(snr_db=10.0, pad_s=(0.5, 0.5))
    pool = mix_eval.babble_pool(bank, None)
    # the babble pool never holds a line that carries or contains a rule wording
    pooled = {name.split(":", 1)[1] for name, _ in pool}
    assert not any(x.expected or x.optional for x in bank if x.id in pooled)
    line = next(x for x in bank if x.expected == ("forbidden.go_to_leader",))
    mixed, used = mix_eval.mix_line(line, pool, options, np.random.default_rng(1))
    speech = read_clip(line).astype(np.float64)
    lead = int(0.5 * BANK_SAMPLE_RATE_HZ)
    babble = mixed.copy()
    babble[lead : lead + len(speech)] -= speech
    snr_db = 10 * np.log10(mix_eval._voiced_power(speech) / np.mean(babble**2))
    assert snr_db == pytest.approx(10.0, abs=0.1)
    assert f"bank:{line.id}" not in used and len(used) >= 4


def test_build_eval_set_writes_manifest_with_empty_expected_for_noise_and_citizens(tmp_path, bank):
    mix_eval = _mix_eval()
    staff = [x for x in bank if x.expected][:2]
    citizen = [x for x in bank if x.speaker is Role.CITIZEN][:1]
    clips = mix_eval.build_eval_set(
        tmp_path, speech_dir=None, options=mix_eval.MixOptions(noise_only=1),
        staff_ids=[x.id for x in staff], citizen_ids=[x.id for x in citizen],
    )
    assert len(clips) == 4
    with (tmp_path / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [r["expected"] for r in rows] == [staff[0].rule_ids_field, staff[1].rule_ids_field, "", ""]
    assert [r["role"] for r in rows] == ["staff", "staff", "citizen", "staff"]
    for r in rows:
        assert sf.info(str(tmp_path / r["audio"])).samplerate == BANK_SAMPLE_RATE_HZ
    with pytest.raises(mix_eval.MixError, match="unknown line ids nope"):
        mix_eval.build_eval_set(tmp_path, speech_dir=None, staff_ids=["nope"])


def test_committed_fixture_is_small_and_consistent():
    with (FIXTURE / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert list(rows[0]) == ["audio", "role", "expected"]
    assert len(rows) <= 12
    total = sum((FIXTURE / r["audio"]).stat().st_size for r in rows)
    assert total <= 1_500_000
    assert sum(r["role"] == "citizen" for r in rows) >= 2
    assert all(r["expected"] == "" for r in rows if r["role"] == "citizen")
    noise_only = [r for r in rows if "noise_" in r["audio"]]
    assert len(noise_only) >= 2 and all(r["expected"] == "" for r in noise_only)
    assert any(r["expected"].startswith("forbidden.") for r in rows)
    assert (FIXTURE / "SOURCES.md").is_file()
