"""The command-line contract other tools call: match, eval phrases, rules show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from windowqa.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory, monkeypatch, seed_classifier_cache):
    data = tmp_path_factory.getbasetemp() / "wq-data"
    if not (data / "cache").exists():
        seed_classifier_cache(data)  # the session's fit: these commands load it instead of training their own
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(data))


def test_match_json_one_object_per_line_in_order(tmp_path):
    lines = ["有意见找领导去", "", "请出示您的身份证", "再见，请慢走", "急什么急"]
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["match", "--file", str(f), "--json"])
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["text"] for o in objects] == lines
    first = objects[0]["hits"][0]
    assert set(first) == {"rule_id", "kind", "score", "start", "end", "method"}
    assert first["rule_id"] == "forbidden.go_to_leader" and first["kind"] == "forbidden"
    assert objects[1]["hits"] == [] and objects[2]["hits"] == []
    assert [h["rule_id"] for h in objects[3]["hits"]] == ["courtesy.farewell"]


def test_match_role_citizen_gives_no_hits():
    result = runner.invoke(app, ["match", "--role", "citizen", "--json", "有意见找领导去"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"text": "有意见找领导去", "hits": []}


def test_match_table_without_json():
    result = runner.invoke(app, ["match", "请稍等"])
    assert result.exit_code == 0 and "courtesy.please_wait" in result.stdout


def test_match_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["match", "--file", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2 and "nope.txt" in result.output


def test_eval_phrases_json(data_dir):
    result = runner.invoke(app, ["eval", "phrases", str(data_dir / "phrases" / "holdout.tsv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"forbidden", "courtesy", "errors"}
    assert 0 <= report["forbidden"]["precision"] <= 1 and 0 <= report["courtesy"]["recall"] <= 1


def test_eval_phrases_lists_misses_and_false_alarms(tmp_path):
    manifest = tmp_path / "m.tsv"
    manifest.write_text("text\texpected\n请出示身份证\tcourtesy.greet\n请稍等\t\n有意见找领导去\t?forbidden.go_to_leader\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "phrases", str(manifest), "--json"])
    report = json.loads(result.stdout)
    assert {(e["type"], e["rule_id"]) for e in report["errors"]} == {("miss", "courtesy.greet"), ("false_alarm", "courtesy.please_wait")}
    assert report["forbidden"] == {"precision": 1.0, "recall": 1.0, "tp": 0, "fp": 0, "fn": 0}


def test_eval_phrases_malformed_manifest(tmp_path):
    manifest = tmp_path / "bad.tsv"
    manifest.write_text("audio\texpected\nx\ty\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "phrases", str(manifest)])
    assert result.exit_code == 2 and "bad.tsv:1" in result.output


def test_rules_show_lists_every_rule(rulebook):
    result = runner.invoke(app, ["rules", "show", "--json"])
    assert result.exit_code == 0
    assert [r["id"] for r in json.loads(result.stdout)["rules"]] == [r.id for r in rulebook.rules]
    table = runner.invoke(app, ["rules", "show"], env={"COLUMNS": "200"})
    assert "forbidden.go_to_leader" in table.stdout and "08:30" in table.stdout


def test_console_script_is_installed(tmp_path, seed_classifier_cache):
    seed_classifier_cache(tmp_path)
    exe = Path(sys.executable).with_name("windowqa")
    env = dict(os.environ, WINDOWQA_DATA_DIR=str(tmp_path))
    out = subprocess.run([str(exe), "match", "--json", "在见请慢走"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["hits"][0]["rule_id"] == "courtesy.farewell"
