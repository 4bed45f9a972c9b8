"""Hostile data as a real browser renders it: no link, no external image, no number where masked.

``windowqa dashboard`` on the dashboard test hall with hostile data planted (tests/_privacy_support.py:
a Markdown link and image in a rating comment and a transcript, an HTML staff name, a citizen's
numbers), driven by Debian chromium through Playwright like tests/test_dashboard_browser.py.
What AppTest cannot show, the browser does: GFM links bare addresses, Plotly reads HTML in labels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from _dashboard_support import build_hall
from _privacy_support import NUMBERS, plant
from models.db import make_engine, make_session_factory
from test_dashboard_browser import ARGS, CHROMIUM, ROOT, _free_port, _login, _need_browser, _settle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    _need_browser()
    hall = build_hall(tmp_path_factory.mktemp("hostile-hall"))
    plant(make_session_factory(make_engine(hall.url)))
    port = _free_port()
    windowqa = shutil.which("windowqa", path=str(Path(sys.executable).parent)) or "windowqa"
    proc = subprocess.Popen([windowqa, "dashboard", "--port", str(port), "--db", hall.url], env=dict(os.environ, **hall.env()),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def chromium():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.mark.parametrize("user, path", [("insp", "flag?flag=1"), ("zhang", "flag?flag=1"), ("mgr", "relation")])
def test_hostile_data_renders_as_text(hostile_server, chromium, user, path):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if "evil.example" in r.url else None)
    _login(page, hostile_server, user, path)
    page.locator("[data-testid='stMain']").wait_for(timeout=30_000)
    _settle(page)
    page.wait_for_timeout(1500)
    if path.startswith("flag"):
        page.get_by_text("得分明细").click()
        _settle(page)
    links = page.locator("a[href*='evil']").count()
    images = page.locator("img[src*='evil']").count()
    body = page.locator("body").inner_text()
    page.close()
    assert links == 0 and images == 0 and not external
    if user != "insp":
        assert not [n for n in NUMBERS if n in body]
