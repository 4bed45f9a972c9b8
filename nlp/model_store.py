"""The site's phrase classifiers, versioned: every retrained model is kept and the previous one can be restored.

Layout under the store's folder (``<data dir>/models``)::

    phrase-classifier.joblib (+ .json)          the current model, read by every command
    phrase-classifier-versions/<version>.joblib  every model ever saved, with its metadata (.json)
    phrase-classifier-versions/history.json      which version became current when, in order

A version id is ``<UTC time>-<hash of the model file>``; ``shipped`` stands for the classifier
trained on the shipped corpus (no site model: the current files are absent). Restoring a
version copies it back as the current model; nothing is ever deleted, so a restore can be undone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SHIPPED = "shipped"
CURRENT_NAME = "phrase-classifier.joblib"
VERSIONS_DIR = "phrase-classifier-versions"


class ModelStoreError(ValueError):
    """No such version, or nothing to restore."""


@dataclass(frozen=True)
class SavedVersion:
    version: str
    trained_at: str
    metadata: dict
    current: bool


def _atomic_copy(source: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)


class ClassifierStore:
    """Versioned phrase classifiers in ``root`` (see the module docstring)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.current_path = self.root / CURRENT_NAME
        self.versions_dir = self.root / VERSIONS_DIR
        self._history = self.versions_dir / "history.json"

    # ------------------------------------------------------------------ reading

    def current_version(self) -> str:
        """The current model's version id, ``shipped`` when there is no site model."""
        meta = self.current_path.with_suffix(".json")
        if not self.current_path.exists() or not meta.exists():
            return SHIPPED
        try:
            return json.loads(meta.read_text(encoding="utf-8")).get("version") or "unversioned"
        except (OSError, ValueError):
            return "unversioned"

    def history(self) -> list[dict]:
        try:
            return json.loads(self._history.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []

    def versions(self) -> list[SavedVersion]:
        """Every saved version, oldest first."""
        current = self.current_version()
        out = []
        for meta_path in sorted(self.versions_dir.glob("*.json")):
            if meta_path.name == self._history.name:
                continue
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            out.append(SavedVersion(meta_path.stem, meta.get("trained_at", ""), meta, meta_path.stem == current))
        return sorted(out, key=lambda v: (v.trained_at, v.version))

    def previous_version(self) -> str:
        """The version that was current before the current one (``shipped`` at the start)."""
        current = self.current_version()
        before = [h["version"] for h in self.history()]
        while before and before[-1] == current:
            before.pop()
        return before[-1] if before else SHIPPED

    # ------------------------------------------------------------------ writing

    def save(self, classifier, metadata: dict, *, activate: bool = True) -> str:
        """Keep a fitted classifier as a new version (and make it current); returns its version id."""
        from nlp.classifier import save_classifier

        self.versions_dir.mkdir(parents=True, exist_ok=True)
        staging = self.versions_dir / "incoming.joblib"
        save_classifier(classifier, staging, metadata)
        digest = hashlib.sha256(staging.read_bytes()).hexdigest()[:10]
        version = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{digest}"
        k = 1
        while (self.versions_dir / f"{version}.joblib").exists():  # the same model saved twice within a second
            version, k = f"{version.split('.')[0]}.{k}", k + 1
        meta = json.loads(staging.with_suffix(".json").read_text(encoding="utf-8"))
        meta["version"] = version
        staging.replace(self.versions_dir / f"{version}.joblib")
        (self.versions_dir / f"{version}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        staging.with_suffix(".json").unlink(missing_ok=True)
        classifier.version_ = version
        if activate:
            self.activate(version, "retrain")
        return version

    def activate(self, version: str, action: str) -> None:
        """Make a saved version (or ``shipped``) the current model and record it in the history."""
        if version == SHIPPED:
            self.current_path.unlink(missing_ok=True)
            self.current_path.with_suffix(".json").unlink(missing_ok=True)
        else:
            model = self.versions_dir / f"{version}.joblib"
            if not model.exists():
                known = ", ".join(v.version for v in self.versions()) or "none"
                raise ModelStoreError(f"no classifier version {version!r} in {self.versions_dir} (saved: {known})")
            self.root.mkdir(parents=True, exist_ok=True)
            # metadata first: a reader never sees a new model with the old version's metadata
            _atomic_copy(model.with_suffix(".json"), self.current_path.with_suffix(".json"))
            _atomic_copy(model, self.current_path)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        history = self.history()
        history.append({"version": version, "action": action, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        tmp = self._history.with_suffix(".tmp")
        tmp.write_text(json.dumps(history, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self._history)

    def restore(self, version: str | None = None) -> str:
        """Make ``version`` (default: the previous one) current again; returns the version restored.

        Raises:
            ModelStoreError: no such version, or the previous model is the current one already.
        """
        target = version or self.previous_version()
        if target == self.current_version():
            raise ModelStoreError(f"{target} is the current classifier already")
        self.activate(target, "restore")
        return target


__all__ = ["SHIPPED", "ClassifierStore", "ModelStoreError", "SavedVersion"]
