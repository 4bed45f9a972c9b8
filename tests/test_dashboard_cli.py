"""``windowqa accounts add|list|passwd|disable|enable`` and ``windowqa dashboard`` serving the app."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from _dashboard_support import build_hall
from models.db import AuditLog, UserAccount, make_engine, make_session_factory
from scoring.accounts import authenticate
from windowqa.cli import app

runner = CliRunner()


def test_accounts_commands(tmp_path):
    hall = build_hall(tmp_path / "hall")
    db = ["--db", hall.url]
    result = runner.invoke(app, ["accounts", "add", "chen", "--role", "manager", "--password", "manager-pass-1", *db])
    assert result.exit_code == 0, result.output
    assert "created manager account chen" in result.output
    result = runner.invoke(app, ["accounts", "add", "wang", "--role", "staff", "--staff", "2001", *db], input="staff-pass-12\n")
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["accounts", "add", "nobody", "--role", "staff", "--password", "staff-pass-12", *db])
    assert bad.exit_code == 2 and "工号" in bad.output
    weak = runner.invoke(app, ["accounts", "add", "weak", "--role", "inspector", "--password", "short", *db])
    assert weak.exit_code == 2 and "密码太弱" in weak.output
    listed = runner.invoke(app, ["accounts", "list", *db])
    lines = {line.split()[0]: line.split() for line in listed.output.splitlines()}
    assert lines["wang"][1:] == ["staff", "2001", "active"] and lines["chen"][1:3] == ["manager", "-"]
    assert "$2" not in listed.output  # never the hashes
    assert runner.invoke(app, ["accounts", "passwd", "chen", "--password", "manager-pass-2", *db]).exit_code == 0
    assert runner.invoke(app, ["accounts", "disable", "wang", *db]).exit_code == 0
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s:
        assert authenticate(s, "chen", "manager-pass-2").username == "chen"
        assert s.scalar(select(UserAccount.active).where(UserAccount.username == "wang")) is False
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.actor.like("cli:%"))))
        assert actions == ["account.create", "account.create", "account.password", "account.disable"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_command_serves_the_app_on_the_configured_database(tmp_path):
    hall = build_hall(tmp_path / "hall")
    port = _free_port()
    windowqa = shutil.which("windowqa", path=str(Path(sys.executable).parent)) or "windowqa"
    env = dict(os.environ, WINDOWQA_DATABASE_URL=hall.url, WINDOWQA_ARCHIVE_DIR=str(hall.archive))
    proc = subprocess.Popen([windowqa, "dashboard", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = b""
        for _ in range(120):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        assert body == b"ok"
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        assert "<div id=\"root\">" in page or "streamlit" in page.lower()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=15)[0]
    assert f"http://127.0.0.1:{port}" in out and hall.url in out
