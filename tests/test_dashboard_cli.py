"""``windowqa accounts add|list|passwd|disable|enable`` and ``windowqa dashboard`` serving the app."""

from __future__ import annotations

import asyncio
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

from _dashboard_support import PASSWORD, build_hall
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


class StreamlitClient:
    """A browser's side of Streamlit's websocket protocol: run the script, read what it drew.

    Speaks to the served app itself, so what comes back is the page our script produced on the
    database the server was given, not any Streamlit server's generic index.html.
    """

    def __init__(self, ws):
        self.ws = ws

    async def run(self, widgets=()) -> list:
        """Rerun the script with these widget states; the messages up to its end (after st.rerun)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_script_hash = ""
        msg.rerun_script.widget_states.widgets.extend(widgets)
        await self.ws.send(msg.SerializeToString())
        out = []
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await asyncio.wait_for(self.ws.recv(), 60))
            out.append(fm)
            # 2 = finished early for a rerun (the login page calls st.rerun): the next run follows
            if fm.WhichOneof("type") == "script_finished" and fm.script_finished != 2:
                return out


def _elements(messages) -> list:
    els = [m.delta.new_element for m in messages if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"]
    return [getattr(e, e.WhichOneof("type")) for e in els]


async def _log_in(port: int, username: str, password: str) -> tuple[list, list]:
    """The login page, then what the app shows after logging in."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"]) as ws:
        client = StreamlitClient(ws)
        first = await client.run()
        ids = {e.label: e.id for e in _elements(first) if hasattr(e, "label") and hasattr(e, "id")}
        widgets = [WidgetState(id=ids["用户名"], string_value=username), WidgetState(id=ids["密码"], string_value=password),
                   WidgetState(id=ids["登录"], trigger_value=True)]
        return first, await client.run(widgets)


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
        login, after = asyncio.run(_log_in(port, "insp", PASSWORD))
    finally:
        proc.terminate()
        out = proc.communicate(timeout=15)[0]
    assert f"http://127.0.0.1:{port}" in out and hall.url in out
    # our app: its page title and login form
    titles = [m.page_config_changed.title for m in login if m.WhichOneof("type") == "page_config_changed"]
    assert titles == ["windowqa 窗口服务质量"]
    # Streamlit's chrome limited to what a hall user needs: no Deploy button, no developer menu
    from streamlit.proto.NewSession_pb2 import Config

    configs = [m.new_session.config for m in login if m.WhichOneof("type") == "new_session"]
    assert configs and configs[0].toolbar_mode == Config.ToolbarMode.MINIMAL
    assert [e.label for e in _elements(login) if hasattr(e, "label")] == ["用户名", "密码", "登录"]
    # on the configured database: the hall's inspector logs in and sees the hall's windows
    navigation = [m.navigation for m in after if m.WhichOneof("type") == "navigation"][-1]
    assert [p.page_name for p in navigation.app_pages] == ["标记队列", "实时提醒", "标记详情", "申诉", "抽检复核", "转写搜索", "接待详情"]
    shown = _elements(after)
    assert any(getattr(e, "body", "") == "**insp** · 质检员" for e in shown)
    windows = next(e for e in shown if getattr(e, "label", "") == "窗口")
    assert list(windows.options) == ["A03 企业开办", "B01 社保卡", "B02 养老保险"]  # each code with its name
