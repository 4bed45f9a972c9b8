"""Every page of every role in a real headless Chromium: the rendered DOM reads Chinese, and every page is photographed.

``windowqa dashboard`` is served on a store: the test hall (tests/_dashboard_support.py: ratings with
dimensions, 差评 cases, attendance, flags of three staff members), or a demo store made by
``windowqa demo --no-serve --json --dir DIR`` when ``WINDOWQA_BROWSER_DEMO`` names that JSON summary
(its accounts log in). Each of the four roles logs in, opens every page of its navigation from the sidebar
(and a flag by its link), and the text of the page (HTML text, also where it is only visually hidden, like
Streamlit's keyboard "Skip to main content" link; text the styles draw; the charts' SVG text; the tables'
cells as the data grid renders them for assistive technology; icon ligatures and tooltips left out)
must hold no raw field name, no ``None``/``nan``, and no English word other than the names and ids
of the store (window and department codes, user names, the rulebook's rule ids), commands in code
spans, and the file formats a button names.

Screenshots (JPEG) of every page go to ``WINDOWQA_SCREENSHOT_DIR`` when set (kept after the run), else to
the test's tmp folder. Needs /usr/bin/chromium and playwright like tests/test_dashboard_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from _dashboard_support import PASSWORD, build_hall
from models.domain import RuleFamily
from models.rulebook import load_rulebook
from models.db import Department, Flag, FlagKind, Staff, UserAccount, Window, make_engine, make_session_factory
from test_dashboard_browser import ARGS, CHROMIUM, ROOT, _free_port, _need_browser

pytestmark = pytest.mark.browser

# English a hall user may read: file formats on the export buttons, the product's name
ALLOWED_WORDS = {"Excel", "HTML", "CSV", "windowqa"}
RAW_FIELD = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")  # greeting_rate, staff_no, forbidden.already_told's tail
EMPTY = re.compile(r"\b(?:None|nan|NaN|NaT|null|undefined)\b")
WORD = re.compile(r"[A-Za-z]{2,}")

# the page's visible text: text nodes outside icons (Material Symbols ligatures), scripts and hidden parts,
# the SVG text of charts, and the cells the data grid renders in its accessible table
VISIBLE_TEXT_JS = """
() => {
  const root = document.body;
  // a code span holds a command or an id (`windowqa sample draw`), as a tooltip does
  const skip = el => el.closest('[data-testid="stIconMaterial"], script, style, noscript, code');
  const icon = el => el.closest('[data-testid="stIconMaterial"]') || /material-symbols|material-icons/.test(el.className);
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    // the data grid's cells are read below
    if (!el || !node.textContent.trim() || skip(el) || icon(el) || el.closest('[data-testid="stDataFrame"]')) continue;
    const style = getComputedStyle(el);
    // text a screen reader or the keyboard brings up counts (visually hidden links like Streamlit's
    // "Skip to main content" included); text drawn at size 0 is not drawn at all
    if (style.display === 'none' || style.visibility === 'hidden' || style.fontSize === '0px') continue;
    out.push(node.textContent.trim());
  }
  // text the page's styles draw (content: '...' before or after an element)
  for (const el of root.querySelectorAll('*')) {
    if (skip(el) || icon(el)) continue;
    for (const pseudo of ['::before', '::after']) {
      const content = getComputedStyle(el, pseudo).content;
      if (content && content.startsWith('"') && content.length > 2) out.push(content.slice(1, -1));
    }
  }
  for (const grid of root.querySelectorAll('[data-testid="stDataFrame"]')) {
    for (const cell of grid.querySelectorAll('[role="columnheader"], [role="gridcell"], th, td')) {
      const text = cell.textContent.trim();
      // a checkbox column is drawn as a tick box; its accessible text is true/false
      if (text && text !== 'true' && text !== 'false') out.push(text);
    }
  }
  return out;
}
"""


def _store(tmp_path_factory):
    """(database URL, archive, {role: (user, password)}) of the store to walk."""
    summary = os.environ.get("WINDOWQA_BROWSER_DEMO")
    if summary:
        data = json.loads(Path(summary).read_text(encoding="utf-8"))
        folder = Path(data.get("folder") or Path(summary).parent)
        users = {a["role"]: (a["username"], a["password"]) for a in data["accounts"]}
        return data.get("database_url") or f"sqlite:///{folder / 'windowqa.db'}", folder / "archive", users
    hall = build_hall(tmp_path_factory.mktemp("walk-hall"))
    users = {"inspector": ("insp", PASSWORD), "staff": ("zhang", PASSWORD), "manager": ("mgr", PASSWORD), "admin": ("admin", PASSWORD)}
    return hall.url, hall.archive, users


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    _need_browser()
    url, archive, users = _store(tmp_path_factory)
    port = _free_port()
    env = dict(os.environ, WINDOWQA_DATABASE_URL=url, WINDOWQA_ARCHIVE_DIR=str(archive))
    windowqa = shutil.which("windowqa", path=str(Path(sys.executable).parent)) or "windowqa"
    log = (tmp_path_factory.getbasetemp() / "walk-server.log").open("w")
    proc = subprocess.Popen([windowqa, "dashboard", "--port", str(port), "--db", url], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
            if proc.poll() is not None:
                raise RuntimeError(f"windowqa dashboard exited with {proc.returncode}")
        else:
            raise RuntimeError("windowqa dashboard did not come up in 60 s")
        yield base, url, users
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def chromium():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ["WINDOWQA_SCREENSHOT_DIR"]) if os.environ.get("WINDOWQA_SCREENSHOT_DIR") else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _names_and_ids(url: str) -> set[str]:
    """The store's own words: window and department codes and names, staff names, user names; the rulebook's rule ids."""
    factory = make_session_factory(make_engine(url))
    words = {w for rule in load_rulebook().rules for w in WORD.findall(rule.id)} | {f.value for f in RuleFamily}
    with factory() as s:
        for value in [*s.scalars(select(Window.code)), *s.scalars(select(Window.name)), *s.scalars(select(Department.code)),
                      *s.scalars(select(Department.name)), *s.scalars(select(Staff.name)), *s.scalars(select(UserAccount.username))]:
            words.update(WORD.findall(value or ""))
    return words


def _problems(texts: list[str], allowed: set[str]) -> list[str]:
    problems = []
    for text in texts:
        for m in RAW_FIELD.findall(text):
            problems.append(f"raw field name {m!r} in {text[:80]!r}")
        for m in EMPTY.findall(text):
            problems.append(f"{m!r} in {text[:80]!r}")
        for m in WORD.findall(text):
            if m not in allowed:
                problems.append(f"English {m!r} in {text[:80]!r}")
    return sorted(set(problems))


def _login(page, base: str, user: str, password: str, path: str = "") -> None:
    page.goto(f"{base}/{path}", wait_until="networkidle")
    page.get_by_label("用户名").wait_for(timeout=90_000)  # the first page of a fresh server on a loaded machine
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for(timeout=60_000)


# the page is drawn: its script has stopped, its title is not the page before's, and every chart and data grid
# in view has drawn (events, not fixed pauses: the walk of four roles takes no longer than two did with pauses)
DRAWN_JS = """
(before) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const title = document.querySelector('[data-testid="stMain"] h1');
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning' || !title || title.textContent === before) return false;
  if (status && status.offsetParent !== null && /\\S/.test(status.textContent)) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  for (const chart of main.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (chart.offsetParent !== null && !chart.closest('details:not([open])') && !chart.querySelector('.main-svg')) return false;
  }
  for (const grid of main.querySelectorAll('[data-testid="stDataFrame"]')) {
    // a data grid draws (and fills its accessible cells) once it is in view: the walk's window is tall
    const box = grid.getBoundingClientRect();
    const shown = grid.offsetParent !== null && !grid.closest('details:not([open])');  // not in a closed expander
    if (shown && box.top < innerHeight && box.bottom > 0 && !grid.querySelector('canvas')) return false;
  }
  return true;
}
"""
LOGIN_TITLE = "windowqa 窗口服务质量"  # the login form's title (dashboard/auth.py)
TITLE_JS = "() => { const h = document.querySelector('[data-testid=\"stMain\"] h1'); return h ? h.textContent : null; }"


def _read(page, before: str | None = None) -> list[str]:
    """The page's visible text once it has drawn (``before``: the title of the page the click left)."""
    page.wait_for_function(DRAWN_JS, arg=before, timeout=180_000, polling=100)  # minutes on a loaded machine
    page.wait_for_timeout(150)  # the grid's accessible cells follow its canvas
    return page.evaluate(VISIBLE_TEXT_JS)


def _shoot(page, path: Path) -> None:
    # the tall window, as JPEG: a full-page PNG resizes the page (charts and grids draw again) and takes seconds to encode
    page.screenshot(path=str(path), type="jpeg", quality=70, timeout=90_000)


# Every role: the inspector's, the staff member's, the manager's and the admin's navigation, each page opened
# (one server and one Chromium for all; about 4 minutes on a quiet 2-core machine, see --durations).
WALK_ROLES = ["inspector", "staff", "manager", "admin"]


@pytest.fixture(scope="module")
def tab(chromium):
    """One tab for every role: each role's visit reloads it (a new Streamlit session, so a new login), and the
    app's scripts come from the browser's cache instead of loading into a new browser context each time."""
    page = chromium.new_page(viewport={"width": 1500, "height": 2400}, locale="zh-CN")  # tall: the grids of most pages in view
    yield page
    page.close()


@pytest.mark.parametrize("role", WALK_ROLES)
def test_every_page_reads_chinese_in_the_browser(served, tab, shots, role):
    base, url, users = served
    user, password = users[role]
    allowed = ALLOWED_WORDS | _names_and_ids(url)
    factory = make_session_factory(make_engine(url))
    with factory() as s:
        own = s.scalar(select(UserAccount.staff_id).where(UserAccount.username == user)) if role == "staff" else None
        q = select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN).order_by(Flag.id)
        fid = s.scalar(q.where(Flag.staff_id == own) if own is not None else q)
    page = tab
    found: dict[str, list[str]] = {}
    seen: dict[str, list[str]] = {}
    # log in on a flag's link (a deep link opens its page after the login), then every page of the navigation
    _login(page, base, user, password, f"flag?flag={fid}" if fid is not None else "")
    texts = _read(page, LOGIN_TITLE)
    first = f"标记 #{fid}" if fid is not None else "登录后首页"  # a store without a forbidden phrase lands on the first page
    _shoot(page, shots / f"{role}-{'flag-' + str(fid) if fid is not None else 'landing'}.jpg")
    found[first], seen[first] = _problems(texts, allowed), texts
    nav = page.locator("[data-testid='stSidebarNav'] a")
    titles = [t.strip() for t in nav.all_inner_texts()]
    titles = [re.sub(r"[A-Za-z_]+", "", t).strip() or t for t in titles]  # an icon's ligature leads the link text
    assert len(titles) >= 4, titles
    for n, title in enumerate(titles):
        before = page.evaluate(TITLE_JS)
        nav.nth(n).click(timeout=90_000)
        texts = _read(page, before)  # every page has a title of its own
        _shoot(page, shots / f"{role}-{n:02d}-{title}.jpg")
        found[title], seen[title] = _problems(texts, allowed), texts
    (shots / f"{role}-texts.json").write_text(json.dumps(seen, ensure_ascii=False, indent=1), encoding="utf-8")  # what was read
    bad = {title: p for title, p in found.items() if p}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
    shots_taken = list(shots.glob(f"{role}-*.jpg"))
    assert len(shots_taken) >= len(titles) and all(p.stat().st_size > 10_000 for p in shots_taken)
