"""End to end in a real headless browser: ``windowqa dashboard`` served, Debian chromium driven by Playwright.

Logs in as each role, plays a flagged interaction from the hit, confirms the flag and saves
screenshots under a tmp dir. Needs /usr/bin/chromium (``scripts/setup-system.sh``); without it
the test skips, except in CI (``CI=true``) where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from _dashboard_support import PASSWORD, build_hall, staff_id
from models.db import AuditLog, Flag, FlagKind, FlagStatus, Review, make_engine, make_session_factory

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[1]


def _need_browser():
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (run: sudo bash scripts/setup-system.sh)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e .[dev])")
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but the browser test cannot run: missing " + ", ".join(missing))
        pytest.skip("missing " + ", ".join(missing))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need_browser()
    hall = build_hall(tmp_path_factory.mktemp("browser-hall"))
    port = _free_port()
    env = dict(os.environ, **hall.env())
    windowqa = shutil.which("windowqa", path=str(Path(sys.executable).parent)) or "windowqa"
    log = (tmp_path_factory.getbasetemp() / "dashboard-server.log").open("w")
    proc = subprocess.Popen([windowqa, "dashboard", "--port", str(port), "--db", hall.url], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
            if proc.poll() is not None:
                raise RuntimeError(f"windowqa dashboard exited with {proc.returncode}")
        else:
            raise RuntimeError("windowqa dashboard did not come up in 60 s")
        yield url, hall
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _login(page, url: str, user: str, path: str = "") -> None:
    page.goto(f"{url}/{path}", wait_until="networkidle")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for(timeout=30_000)


def _settle(page) -> None:
    # Streamlit shows a "running" status widget while a script runs
    page.wait_for_timeout(500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=30_000)


@pytest.mark.parametrize(
    "user, landing",
    [("insp", "标记队列"), ("zhang", "我的得分"), ("mgr", "满意度"), ("admin", "账户")],
)
def test_each_role_logs_in_and_lands_on_its_pages(server, browser, tmp_path, user, landing):
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _login(page, url, user)
    page.get_by_role("heading", name=landing, exact=True).wait_for(timeout=30_000)
    _settle(page)
    page.screenshot(path=str(tmp_path / f"{user}-landing.png"), full_page=True)
    assert (tmp_path / f"{user}-landing.png").stat().st_size > 10_000
    if user == "zhang":
        assert page.get_by_text("标记队列").count() == 0  # no inspector pages for staff
    page.close()


def test_inspector_plays_a_flagged_interaction_and_confirms_it(server, browser, tmp_path):
    url, hall = server
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s:
        fid = s.scalar(select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == staff_id(s, "1002")))
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    _login(page, url, "insp", f"flag?flag={fid}")  # a deep link survives the login
    page.get_by_role("heading", name="标记详情", exact=True).wait_for(timeout=30_000)
    _settle(page)
    audio = page.locator("audio")
    audio.wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('audio').readyState >= 1", timeout=30_000)
    start = audio.evaluate("a => a.currentTime")
    assert 4.9 <= start < 5.1  # the player starts at the hit, 5 s into the clip around it
    assert audio.evaluate("a => a.src").startswith("data:audio/flac;base64,")  # inline: no /media/ address to fetch
    audio.evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function(f"document.querySelector('audio').currentTime > {start + 0.5}", timeout=20_000)
    assert audio.evaluate("a => !a.paused")
    assert page.locator("mark").count() >= 1  # highlighted hit in the transcript
    page.screenshot(path=str(tmp_path / "insp-flag-playing.png"), full_page=True)
    page.get_by_label("理由（排除时必填）").fill("录音核实")
    page.get_by_role("button", name="提交决定").click()
    page.get_by_text("已确认").first.wait_for(timeout=30_000)
    _settle(page)
    page.screenshot(path=str(tmp_path / "insp-flag-confirmed.png"), full_page=True)
    page.close()
    with factory() as s:
        assert s.get(Flag, fid).status is FlagStatus.CONFIRMED
        assert s.scalar(select(Review.decision).where(Review.flag_id == fid)).value == "confirm"
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "review.decide", AuditLog.entity_id == fid)) == "insp"
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == ["insp-flag-confirmed.png", "insp-flag-playing.png"]


def test_flag_audio_cannot_be_fetched_without_the_session(server, browser):
    """The inspector hears the clip; a request without the session's cookies gets no audio at all."""
    url, hall = server
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s:
        fid = s.scalar(select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == staff_id(s, "1001")))
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    _login(page, url, "insp", f"flag?flag={fid}")
    page.get_by_role("heading", name="标记详情", exact=True).wait_for(timeout=30_000)
    _settle(page)
    audio = page.locator("audio")
    audio.wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('audio').readyState >= 1", timeout=30_000)
    src = audio.evaluate("a => a.src")
    duration = audio.evaluate("a => a.duration")
    page.close()
    assert 12 <= duration <= 13  # the hit (143.5–146.0 s) with 5 s either side, not the 450 s recording
    # whatever the page fetched for its audio, fetched again without the session's cookies
    media = [u for u in requested if urllib.parse.urlparse(u).path.startswith("/media/")] + ([src] if src.startswith("http") else [])
    for address in media:
        try:
            body = urllib.request.urlopen(address, timeout=5).read()
        except OSError:
            continue
        raise AssertionError(f"{address} served {len(body)} bytes of audio without a session")
    assert src.startswith("data:audio/flac;base64,") and not media


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` (its text, from the start) in the selectbox labelled ``label``."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).locator("input")
    box.click()
    box.fill(option)  # the list is long and drawn in part: typing narrows it
    page.get_by_role("option").filter(has_text=option).first.click()
    _settle(page)


def test_inspector_reviews_a_sampled_interaction_and_staff_appeal_the_missed_phrase(server, browser, tmp_path):
    """The inspector draws the plan's sample on the page, plays a line, marks the hit wrong, adds a missed forbidden phrase; 张敏 appeals it."""
    from typer.testing import CliRunner

    from models.db import Interaction
    from models.review_db import SampleDrawRow, SampledInteractionRow
    from windowqa.cli import app

    url, hall = server
    out = CliRunner().invoke(app, ["sample", "plan-add", "--as", "insp", "--name", "三月抽检", "--per-unit", "50", "--window", "A03", "--seed", "4",
                                   "--db", hall.url])
    assert out.exit_code == 0, out.output
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    _login(page, url, "insp", "sample_review")
    page.get_by_role("heading", name="抽检复核", exact=True).wait_for(timeout=30_000)
    _settle(page)
    # the draw, on the page: the plan's seed unless changed, recorded and audited
    page.get_by_label("抽检周期（年-月，如 2026-03）").fill("2026-03")
    page.get_by_label("抽检周期（年-月，如 2026-03）").press("Enter")
    _settle(page)
    page.get_by_role("button", name="抽取", exact=True).click()
    page.get_by_text("已抽取（批次").wait_for(timeout=30_000)
    _settle(page)
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s:
        draw = s.scalar(select(SampleDrawRow))
        assert (draw.period, draw.seed, draw.drawn_by) == ("2026-03", 4, "insp")
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "sample_draw", AuditLog.entity_id == draw.id)) == "insp"
        zhang = staff_id(s, "1001")
        hit_flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == zhang, Flag.dedupe_key.like("forbidden:%")))
        item = s.scalar(select(SampledInteractionRow).where(SampledInteractionRow.interaction_id == hit_flag.interaction_id))
        interaction = s.get(Interaction, hit_flag.interaction_id)
        lines = [u for u in interaction.utterances]
        hit_line = next(n for n, u in enumerate(lines) if u.id == hit_flag.utterance_id)
        staff_line = next(n for n, u in enumerate(lines) if n != hit_line and u.role.value == "staff")
        label = f"#{item.id} {interaction.started_at:%Y-%m-%d %H:%M:%S}"
    _pick(page, "抽中的接待", label)
    page.locator("p").filter(has_text="刚才和你说过了，怎么还问？").first.wait_for(timeout=30_000)  # the transcript's lines
    # ▶ of the hit's line: the clip plays from that line
    page.get_by_role("button", name="▶").nth(hit_line).click()
    _settle(page)
    audio = page.locator("audio")
    audio.wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('audio').readyState >= 1", timeout=30_000)
    assert 4.9 <= audio.evaluate("a => a.currentTime") < 5.1
    page.screenshot(path=str(tmp_path / "insp-sample-review.png"), full_page=True)
    # a missed forbidden phrase at another staff line
    _pick(page, "漏检的规则", "七.3.1 有意见找领导去")
    _pick(page, "所在句", f"第 {staff_line + 1} 句")
    page.get_by_label("说明（如实际所说）").fill("远场漏识别：有意见找领导去")
    page.get_by_role("button", name="添加漏检").click()
    _settle(page)
    # the system's hit, marked wrong
    page.get_by_test_id("stRadio").filter(has_text=f"第 {hit_line + 1} 句「").get_by_text("误报").click()
    page.get_by_role("button", name="提交复核").click()
    page.get_by_text("已记录：正确").wait_for(timeout=30_000)
    _settle(page)
    page.screenshot(path=str(tmp_path / "insp-sample-reviewed.png"), full_page=True)
    page.close()
    with factory() as s:
        assert s.get(Flag, hit_flag.id).status is FlagStatus.DISMISSED
        missed = s.scalar(select(Flag).where(Flag.dedupe_key.like("sample_miss:%"), Flag.staff_id == zhang))
        assert missed.status is FlagStatus.CONFIRMED and missed.utterance_id == lines[staff_line].id
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "sample_review")) == "insp"
    # 张敏 sees the new flag among hers and appeals it
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    _login(page, url, "zhang", "my_flags")
    page.get_by_role("heading", name="我的问题与申诉", exact=True).wait_for(timeout=30_000)
    _settle(page)
    _pick(page, "申诉的标记", f"#{missed.id}")
    page.get_by_label("申诉理由").fill("当时说的是请您稍等，不是找领导")
    page.get_by_role("button", name="提交申诉").click()
    page.get_by_text("申诉已提交").wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "zhang-appealed.png"), full_page=True)
    page.close()
    with factory() as s:
        appeal = s.scalar(select(Review).where(Review.flag_id == missed.id, Review.kind == "appeal"))
        assert appeal.decision.value == "pending" and appeal.comment == "当时说的是请您稍等，不是找领导"
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "appeal.file", AuditLog.entity_id == missed.id)) == "zhang"
