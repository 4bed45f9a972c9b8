"""Shared fixtures: paths to the small real data in tests/data, and engines built once."""

from __future__ import annotations

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
