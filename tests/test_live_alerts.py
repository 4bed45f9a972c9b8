"""The live path: capture from a played file into segments closed at pauses, each handed to the
workers (``capture --publish``); alerts raised once by the worker after the window-day rebuild,
read role-scoped, shown by the dashboard, posted to a real local webhook server; and end to end
through a real Redis broker and a real ``windowqa worker`` transcribing with Whisper, the
latency from the end of each forbidden phrase to its alert in the dashboard's data layer."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import func, select, update

import _live_support as live
from _store_support import RecordedMatcher, RecordedTranscriber, add_site, day_files, rulebook  # noqa: F401
from audio_capture import CaptureDeviceError
from audio_capture.live import CaptureOptions, FileSource, SegmentWriter
from models.alert_db import AlertRow, WebhookState
from models.db import Flag, FlagKind, IngestJob, JobState, UserRole, init_db, make_engine, make_session_factory
from scoring.access import AccessPolicy, alert_count, live_alerts
from scoring.accounts import Actor
from windowqa.queue_ingest import Engines, QueueOptions, enqueue, rebuild_window_day, run_job

DAY = datetime(2026, 3, 2, 9)
PHONE = "13812345678"
INSPECTOR = Actor(1, "insp", UserRole.INSPECTOR)
MANAGER = Actor(2, "mgr", UserRole.MANAGER)


# ---------------------------------------------------------------------------- capture from a file


def _play(path: Path, tmp_path: Path, *, speed: float = 0, **options) -> tuple[list[Path], float]:
    opts = CaptureOptions(window="B01", channels=2, archive_dir=tmp_path / "archive", **options)
    closed: list[Path] = []
    source = FileSource(opts, path, speed=speed)
    started = time.monotonic()
    source.start()
    writer = SegmentWriter(opts, source.started_at, on_close=closed.append)
    for _ in source.blocks(writer, timeout_s=0.05):
        pass
    return closed, time.monotonic() - started


def test_segments_close_at_the_pause_after_each_phrase_and_lose_nothing(tmp_path):
    recording = tmp_path / "in.wav"
    phrases = live.build_recording(recording, live.forbidden_lines(3), lead_s=1.0, gap_s=3.0)
    closed, _ = _play(recording, tmp_path, segment_s=30.0, cut_silence_s=0.8, min_segment_s=2.0)
    assert all(p.suffix == ".flac" and p.exists() for p in closed) and not list((tmp_path / "archive").glob("*.part"))
    lengths = [sf.info(str(p)).frames for p in closed]
    bounds = np.cumsum(lengths) / live.SR
    for phrase in phrases:  # every phrase whole in one segment, which closes within a second of its end
        after = bounds[bounds > phrase.start_s]
        assert after[0] >= phrase.end_s and after[0] - phrase.end_s <= 1.2, (phrase, bounds)
    played = np.concatenate([sf.read(str(p), dtype="int16")[0] for p in closed])
    original = sf.read(str(recording), dtype="int16")[0]
    assert played.shape == original.shape and np.abs(played.astype(int) - original).max() <= 1  # nothing lost


def test_a_quiet_stretch_is_no_reason_to_cut_and_fixed_segments_stay_fixed(tmp_path):
    recording = tmp_path / "quiet.wav"
    sf.write(str(recording), np.random.default_rng(0).normal(0, 0.001, (12 * live.SR, 2)).astype(np.float32), live.SR)
    closed, _ = _play(recording, tmp_path / "a", segment_s=5.0, cut_silence_s=0.8, min_segment_s=1.0)
    assert [sf.info(str(p)).frames for p in closed] == [5 * live.SR, 5 * live.SR, 2 * live.SR]


def test_a_file_plays_in_real_time_and_must_match_the_channels(tmp_path):
    recording = tmp_path / "two.wav"
    sf.write(str(recording), np.zeros((2 * live.SR, 2), np.float32), live.SR)
    _, elapsed = _play(recording, tmp_path, speed=4.0)
    assert 0.45 <= elapsed < 30.0  # 2 s of audio at 4x: never faster than that; the bound only catches a hang (16 s seen at load 10)
    with pytest.raises(CaptureDeviceError, match="2 channel"):
        FileSource(CaptureOptions(window="B01", channels=1, archive_dir=tmp_path), recording).start()


# ---------------------------------------------------------------------------- alerts in the store


def _store(tmp_path: Path, rulebook):
    factory = make_session_factory(init_db(make_engine(f"sqlite:///{tmp_path / 'store.db'}")))
    with factory() as s, s.begin():
        add_site(s, day=DAY)
    return factory


def _run(factory, rulebook, files, window: str, *, live_: bool) -> list:
    engines = Engines(factory, rulebook, RecordedTranscriber(), RecordedMatcher(rulebook), None, None, None)
    sent: list = []
    enqueue(files, QueueOptions(window=window, archive=False, roles=False, live=live_), session_factory=factory, rulebook=rulebook,
            archive_dir=None, send=lambda job_id, args: sent.append((job_id, args)))
    return [run_job(job_id, args, engines) for job_id, args in sent], sent, engines


def test_a_live_recording_raises_each_alert_once_and_each_role_reads_its_own(tmp_path, rulebook):
    factory = _store(tmp_path, rulebook)
    a03 = day_files(tmp_path / "a03", [DAY], window="A03")
    outcomes, sent, engines = _run(factory, rulebook, a03, "A03", live_=True)
    with factory() as s:
        wanted = s.scalar(select(func.count()).select_from(Flag).where(Flag.kind.in_([FlagKind.FORBIDDEN, FlagKind.CITIZEN_ABUSE])))
    assert wanted == 2 and sorted(outcomes[0].alerts) == [1, 2]  # the forbidden phrase and the citizen's abuse
    # a second delivery, a worker killed after storing (job left running), another rebuild: nothing twice
    assert run_job(*sent[0], engines).alerts == []
    with factory() as s, s.begin():
        s.execute(update(IngestJob).values(state=JobState.RUNNING))
    assert run_job(*sent[0], engines).alerts == []
    with factory() as s:
        window_id = s.scalar(select(Flag.window_id))
    rebuild_window_day(factory, rulebook, window_id, DAY.date())
    # a batch of old recordings (not live) raises none
    b01 = day_files(tmp_path / "b01", [DAY.replace(hour=10)], window="B01")
    assert [o.alerts for o in _run(factory, rulebook, b01, "B01", live_=False)[0]] == [[]]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(AlertRow)) == 2
        alerts = s.scalars(select(AlertRow).order_by(AlertRow.id)).all()
        zhang = alerts[0].staff_id
        assert {a.kind for a in alerts} == {FlagKind.FORBIDDEN, FlagKind.CITIZEN_ABUSE}
        forbidden = next(a for a in alerts if a.kind is FlagKind.FORBIDDEN)
        assert forbidden.rule_id == "forbidden.already_told" and forbidden.text.startswith("刚才和你说过了")
        assert (forbidden.spoken_at, forbidden.ended_at) == (DAY.replace(minute=2, second=23, microsecond=500000),
                                                              DAY.replace(minute=2, second=26))
        assert all(a.webhook_state is WebhookState.NONE for a in alerts)
    with factory() as s, s.begin():
        s.execute(update(AlertRow).where(AlertRow.id == forbidden.id).values(text=f"刚才和你说过了，怎么还问？电话{PHONE}"))
    staff_zhang = Actor(3, "zhang", UserRole.STAFF, staff_id=zhang, staff_no="1001")
    staff_other = Actor(4, "wang", UserRole.STAFF, staff_id=zhang + 2, staff_no="1003")
    with factory() as s:
        assert alert_count(s, INSPECTOR) == alert_count(s, MANAGER) == 2
        assert alert_count(s, staff_zhang) == 2 and alert_count(s, staff_other) == 0 and live_alerts(s, staff_other) == []
        assert alert_count(s, INSPECTOR, since=datetime.now().replace(year=2100)) == 0
        shown = {a.kind: a for a in live_alerts(s, INSPECTOR)}
        assert PHONE in shown["forbidden"].text and shown["forbidden"].kind_label == "服务禁语" and shown["forbidden"].window == "A03"
        assert PHONE not in live_alerts(s, MANAGER)[-1].text + live_alerts(s, MANAGER)[0].text
        assert PHONE in "".join(a.text for a in live_alerts(s, MANAGER, policy=AccessPolicy(pii_roles=frozenset({UserRole.MANAGER}))))


# ---------------------------------------------------------------------------- the webhook


class _Robot(BaseHTTPRequestHandler):
    """A 企业微信/钉钉-like robot: fails the first ``fail_first`` posts, sleeps ``delay_s`` before answering."""

    received: list = []
    fail_first = 0
    delay_s = 0.0

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
        type(self).received.append(body)
        time.sleep(self.delay_s)
        failing = len(type(self).received) <= self.fail_first
        reply = json.dumps({"errcode": 310000 if failing else 0, "errmsg": "busy" if failing else "ok"}).encode()
        try:
            self.send_response(500 if failing and len(type(self).received) == 1 else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the slow robot)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def robot():
    handler = type("Robot", (_Robot,), {"received": [], "fail_first": 0, "delay_s": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send?key=test"
    server.shutdown()
    server.server_close()


def _pending_alerts(tmp_path, rulebook) -> tuple:
    factory = _store(tmp_path, rulebook)
    engines = Engines(factory, rulebook, RecordedTranscriber(), RecordedMatcher(rulebook), None, None, None, alert_webhook=True)
    sent: list = []
    enqueue(day_files(tmp_path / "in", [DAY]), QueueOptions(window="A03", archive=False, roles=False, live=True), session_factory=factory,
            rulebook=rulebook, archive_dir=None, send=lambda *a: sent.append(a))
    ids = run_job(*sent[0], engines).alerts
    with factory() as s, s.begin():
        s.execute(update(AlertRow).where(AlertRow.kind == FlagKind.FORBIDDEN).values(text=f"刚才和你说过了，电话{PHONE}"))
        assert {a.webhook_state for a in s.scalars(select(AlertRow))} == {WebhookState.PENDING}
    return factory, ids


def test_webhook_posts_redacted_robot_json_and_retries(tmp_path, rulebook, robot):
    from windowqa.alert_webhook import WebhookOptions, deliver

    handler, url = robot
    handler.fail_first = 2  # a 500, then a robot's errcode: both retried
    factory, ids = _pending_alerts(tmp_path, rulebook)
    assert deliver(factory, ids, WebhookOptions(url, timeout_s=2, retries=3, pause_s=0.01)) == {i: True for i in ids}
    assert len(handler.received) == len(ids) + 2
    texts = [m["text"]["content"] for m in handler.received]
    assert all(m["msgtype"] == "text" for m in handler.received)
    assert any("服务禁语" in t and "窗口：A03" in t and "工号 1001 张敏" in t for t in texts), texts
    assert any("群众辱骂" in t for t in texts) and not any(PHONE in t for t in texts) and any("电话＊＊＊＊＊＊＊＊＊＊＊" in t for t in texts)
    with factory() as s:
        rows = {a.id: a for a in s.scalars(select(AlertRow))}
    assert {i: (rows[i].webhook_state, rows[i].webhook_attempts) for i in ids} == {ids[0]: (WebhookState.SENT, 3), ids[1]: (WebhookState.SENT, 1)}


def test_a_dead_or_slow_webhook_fails_each_alert_with_its_reason_and_never_blocks(tmp_path, rulebook, robot, caplog):
    from windowqa.alert_webhook import WebhookOptions, deliver, deliver_in_background

    handler, url = robot
    handler.delay_s = 1.5  # longer than the timeout
    factory, ids = _pending_alerts(tmp_path, rulebook)
    started = time.monotonic()
    thread = deliver_in_background(factory, ids, WebhookOptions(url, timeout_s=0.3, retries=2, pause_s=0.01))
    assert time.monotonic() - started < 0.2  # the caller goes on at once
    thread.join(30)
    assert not thread.is_alive() and time.monotonic() - started < 10  # bounded: timeout x tries per alert
    with factory() as s:
        rows = s.scalars(select(AlertRow).order_by(AlertRow.id)).all()
    assert [(a.webhook_state, a.webhook_attempts) for a in rows] == [(WebhookState.FAILED, 2)] * 2
    assert all("timed out" in a.webhook_error for a in rows), [a.webhook_error for a in rows]
    with caplog.at_level(logging.WARNING, logger="windowqa.alerts"):  # nothing listening at all
        closed = deliver(factory, ids[:1], WebhookOptions("http://127.0.0.1:9/robot", timeout_s=0.5, retries=2, pause_s=0.01))
    assert closed == {ids[0]: False} and f"alert {ids[0]}: webhook failed after 2 tries" in caplog.text


# ---------------------------------------------------------------------------- publishing


def test_a_segment_is_published_once_even_when_the_broker_was_away(tmp_path, rulebook):
    from windowqa.live_publish import SegmentPublisher

    factory = _store(tmp_path, rulebook)
    tasks: list = []
    broker_up = threading.Event()

    def send(job_id, args):
        if not broker_up.is_set():
            raise ConnectionError("redis at 127.0.0.1:6379: connection refused")
        tasks.append((job_id, args))

    def register(path, sender):
        return enqueue([path], QueueOptions(window="A03", archive=False, live=True), session_factory=factory, rulebook=rulebook,
                       archive_dir=None, send=sender, clean_partial=False)

    publisher = SegmentPublisher(register, send, retry_s=0.2)
    files = day_files(tmp_path / "in", [DAY, DAY.replace(hour=10)])
    publisher.submit(files[0])
    time.sleep(0.5)
    broker_up.set()
    publisher.submit(files[1])
    publisher.submit(files[0])  # the same segment again: already queued, not sent twice
    report = publisher.close()
    assert sorted(job for job, _ in tasks) == [1, 2] and all(args["live"] for _, args in tasks)
    assert not report.unsent and not report.unregistered
    assert [r.status for r in report.results] == ["queued", "queued", "skipped"]


# ---------------------------------------------------------------------------- the dashboard


def test_the_inspector_sees_the_alert_badge_and_list(tmp_path, monkeypatch):
    from sqlalchemy import select as sel

    from _dashboard_support import build_hall, set_env
    from models.db import Recording
    from scoring.store.alerts import raise_alerts
    from test_dashboard_pages import login, page, text_of

    hall = build_hall(tmp_path / "hall")
    set_env(hall, monkeypatch)
    at = page(login("insp"), "alerts")
    assert "暂无实时提醒" in text_of(at)
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s, s.begin():
        for recording_id in s.scalars(sel(Recording.id)):
            raise_alerts(s, recording_id, now=datetime.now(), webhook=False)
        n = s.scalar(select(func.count()).select_from(AlertRow))
    assert n >= 2
    at.run()
    shown = text_of(at)
    assert f"实时提醒 {n} 条" in shown and "刚才和你说过了，怎么还问" in shown and "服务禁语" in shown, shown
    headers = json.loads(at.dataframe[0].proto.columns)
    assert headers["text"]["label"] == "原话" and headers["spoken_at"]["label"] == "说话时间"
    queue = page(at, "queue")
    assert f"实时提醒 {n} 条" in text_of(queue)


# ---------------------------------------------------------------------------- end to end


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_live_forbidden_phrases_reach_the_dashboard_and_the_webhook_within_a_minute(tmp_path, redis_url, whisper_model_dir, rulebook,
                                                                                      robot, seed_classifier_cache):
    """Three synthesised forbidden phrases played in real time through ``capture --publish``, a real
    worker transcribing with Whisper: each alert in the data layer within 60 s of the phrase's end,
    each posted to the webhook."""
    handler, url = robot
    env = live.live_env(tmp_path, redis_url, whisper_model_dir, WINDOWQA_ALERT_WEBHOOK_URL=url)
    live.run_cli(env, "site", "load", str(live.SITE))
    seed_classifier_cache(tmp_path / "data")  # every process loads the session's fit instead of training its own
    phrases = live.build_recording(tmp_path / "in" / "live.flac", live.forbidden_lines(3, seed=1))
    log = tmp_path / "worker.log"
    worker = live.start_worker(env, log)
    try:
        live.warm_up(env, tmp_path, worker, log)
        result = live.run_live(env, tmp_path / "in" / "live.flac", phrases, settle_s=90)
    finally:
        live.stop_worker(worker)
    assert not result.missed, (result.missed, [(a.text, a.rule_id) for a in result.alerts], log.read_text()[-3000:])
    assert max(result.latencies_s.values()) <= 60, result.latencies_s
    assert {a.rule_id for a in result.alerts if a.rule_id} >= {p.rule_id for p in phrases}
    assert '"status": "queued"' in result.capture_output and "0 not published" in result.capture_output, result.capture_output
    deadline = time.monotonic() + 30
    while len(handler.received) < len(result.alerts) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(handler.received) == len(result.alerts) and all(m["msgtype"] == "text" for m in handler.received)


def test_capture_publish_stops_before_recording_for_an_unknown_window_or_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from windowqa.cli import app as cli_app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    recording = tmp_path / "one.wav"
    sf.write(str(recording), np.zeros((live.SR, 2), np.float32), live.SR)
    unknown = CliRunner().invoke(cli_app, ["capture", "--publish", "--window", "ZZ9", "--from-file", str(recording)])
    assert unknown.exit_code == 2 and "unknown window 'ZZ9'" in unknown.output, unknown.output
    assert not (tmp_path / "data" / "archive" / "ZZ9").exists()
    missing = CliRunner().invoke(cli_app, ["capture", "--window", "B01", "--from-file", str(tmp_path / "nope.wav")])
    assert missing.exit_code == 1 and "nope.wav" in missing.output, missing.output
