"""Engines built the same way by every command and the demo: the transcriber and the matcher."""

from __future__ import annotations

from pathlib import Path

from models.rulebook import Rulebook
from models.settings import Settings


def classifier_store(settings: Settings):
    """The site's versioned phrase classifiers (``windowqa nlp retrain | restore | versions``)."""
    from nlp.model_store import ClassifierStore

    return ClassifierStore(settings.data_dir / "models")


def retrained_classifier_path(settings: Settings) -> Path:
    """The current retrained classifier (absent: the shipped corpus is trained instead)."""
    return classifier_store(settings).current_path


def site_matcher(settings: Settings, rulebook: Rulebook):
    """The phrase matcher with the site's retrained classifier when there is a current one.

    Otherwise the classifier is trained on the shipped corpus, cached under the data directory.
    """
    from nlp import build_matcher
    from nlp.classifier import load_saved_classifier

    classifier = load_saved_classifier(retrained_classifier_path(settings), rulebook)
    return build_matcher(rulebook, classifier=classifier, cache_dir=settings.data_dir / "cache")


def site_transcriber(settings: Settings, *, beam_size: int | None = None, rescore: bool = True):
    """The default Transcriber from settings (model folder, threads) with the word-frequency
    rescorer; installs nothing.

    Raises:
        asr.transcriber.TranscriberError: the model folder is missing or unusable.
    """
    from asr.rescoring import WordFrequencyLM
    from asr.transcriber import DecodeOptions, Transcriber

    options = DecodeOptions() if beam_size is None else DecodeOptions(beam_size=beam_size)
    return Transcriber(
        settings.resolved_whisper_model_dir,
        options=options,
        cpu_threads=settings.cpu_threads,
        rescorer=WordFrequencyLM() if rescore else None,
    )
