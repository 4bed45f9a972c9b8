"""The dashboard shows data as plain text and plays only the clip around the evidence.

Through Streamlit's AppTest on the dashboard test hall with hostile data planted
(tests/_privacy_support.py): a rating comment with a Markdown link and an external image is
never rendered as Markdown; the flag page plays the evidence ± the configured margin, inline
(no ``/media/`` address), and hearing it is audited.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
import soundfile as sf
from sqlalchemy import select

from _dashboard_support import PASSWORD, build_hall, set_env, staff_id
from _privacy_support import COMMENT, IMAGE, LINK, plant
from models.db import AuditLog, Flag, FlagKind, make_engine, make_session_factory

streamlit_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = streamlit_testing.AppTest

ENTRY = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"
MARKDOWN_KINDS = ("markdown", "title", "header", "subheader", "caption", "error", "warning", "info", "success", "metric")


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    hall = build_hall(tmp_path_factory.mktemp("hardening-hall"))
    plant(make_session_factory(make_engine(hall.url)))
    return hall


@pytest.fixture
def env(hall, monkeypatch):
    set_env(hall, monkeypatch)
    monkeypatch.setenv("WINDOWQA_DASHBOARD_AUDIO_MARGIN_S", "3")
    return hall


def _flag_page(user: str, fid: int) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.run()
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click()
    at.run()
    at.query_params["flag"] = str(fid)
    at.switch_page("app_pages/flag.py")
    at.run()
    assert not at.exception, at.exception
    return at


def markdown_sources(at: AppTest) -> list[str]:
    """What the page hands to Streamlit's Markdown renderer (bodies, labels, metric values)."""
    out = []
    for kind in MARKDOWN_KINDS:
        for el in getattr(at, kind):
            for attr in ("body", "label", "value"):
                value = getattr(el.proto, attr, None) if hasattr(el, "proto") else None
                if isinstance(value, str):
                    out.append(value)
    return out


def rendered_link_or_image(source: str) -> bool:
    # an unescaped "](" or "![" is a link or an image for CommonMark
    return bool(re.search(r"(?<!\\)\]\((?!\\)", source) or re.search(r"(?<!\\)!\[", source) or re.search(r"(?<!\\)<(a|img)\b", source)
                or re.search(r"(?i)(https?|www)\\?[:.]", source))  # GFM links bare addresses whatever the escapes


def _flag_with_comment(hall, staff_no: str) -> int:
    with make_session_factory(make_engine(hall.url))() as s:
        return s.scalar(select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == staff_id(s, staff_no)).order_by(Flag.id))


@pytest.mark.parametrize("user", ["insp", "zhang"])
def test_a_rating_comment_with_markdown_is_plain_text(env, user):
    at = _flag_page(user, _flag_with_comment(env, "1001"))
    texts = [t.value for t in at.text]
    assert any(LINK in t and "[点此领取补贴]" in t for t in texts), texts  # shown, literally
    sources = markdown_sources(at)
    assert not [s for s in sources if rendered_link_or_image(s)]
    assert not [s for s in sources if LINK in s or IMAGE in s]
    assert COMMENT.split()[0] in "\n".join(texts)


def _clip(at: AppTest) -> tuple[bytes, float]:
    players = [el for el in at.get("html") if "wq-audio-clip" in el.proto.body]
    assert len(players) == 1
    src = re.search(r"src='data:audio/flac;base64,([A-Za-z0-9+/=]+)#t=([0-9.]+)'", players[0].proto.body)
    assert src, players[0].proto.body[:200]
    return base64.b64decode(src.group(1)), float(src.group(2))


def test_the_flag_page_plays_only_the_clip_around_the_hit_inline_and_audits_it(env):
    fid = _flag_with_comment(env, "1001")
    views = _views(env, fid)
    at = _flag_page("insp", fid)
    assert not at.get("audio")  # st.audio would serve the bytes at a /media/ address, no session needed
    data, hit_s = _clip(at)
    info = sf.info(io.BytesIO(data))
    # the hit is 143.5..146.0 s of a 450 s recording: 3 s either side
    assert 8.0 <= info.duration <= 8.6 and hit_s == 3.0
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert abs(samples[int(3.5 * rate):]).max() > 1000  # the speech placed at the hit is in the clip
    rows = _views(env, fid)
    assert len(rows) == len(views) + 1 and rows[-1].actor == "insp"
    assert rows[-1].detail["audio"] is True and rows[-1].detail["unmasked"] is True and rows[-1].detail["clip_start_s"] == 140.5
    at.run()  # a rerun of the same page in the same session is not a new view
    assert len(_views(env, fid)) == len(rows)


def _views(hall, fid: int) -> list:
    with make_session_factory(make_engine(hall.url))() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == "flag.view_pii", AuditLog.entity_id == fid).order_by(AuditLog.id)))


def test_staff_get_no_audio(env):
    at = _flag_page("zhang", _flag_with_comment(env, "1001"))
    assert not at.get("audio") and not [el for el in at.get("html") if "wq-audio-clip" in el.proto.body]


def test_clips_are_cut_from_the_recording(env):
    from scoring.access import cut_clip

    recording = next(env.archive.rglob("*.flac"))
    clip = cut_clip(recording, 143.5, 146.0, 2.0)
    assert clip.start_s == 141.5 and abs(clip.duration_s - 6.5) < 0.01 and clip.hit_s == 2.0
    assert abs(cut_clip(recording, 1.0, 2.0, 5.0).start_s) < 1e-9  # not before the recording's start
    assert cut_clip(recording, 0.0, 449.0, 5.0).duration_s <= 120.0  # a whole interaction: 2 minutes at most
    assert cut_clip(recording, 500.0, 501.0, 5.0) is None  # evidence outside the file
    assert cut_clip(env.archive / "missing.flac", 1.0, 2.0) is None
