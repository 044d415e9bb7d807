"""Model artifacts on the models volume: ``<models_dir>/<workspace>/<dataset>/<version>/``.

``head.joblib`` (the classification head) and, for fine-tunes, ``body/`` (a sentence-transformers
directory).  The registry stores one SHA-256 over every file (relative path + content, sorted), and
loading recomputes it: a missing or altered artifact raises :class:`ArtifactError`.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import joblib

from claystream_trainer.domain.ports import ArtifactError, DatasetKey


def tree_sha256(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class FileArtifactStore:
    def __init__(self, models_dir: Path) -> None:
        self._root = Path(models_dir)

    def save(self, dataset: DatasetKey, version: str, head: Any, body_dir: str | None) -> tuple[str, str]:
        target = self._root / dataset.workspace / dataset.dataset / version
        staging = target.with_name(f".{version}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        joblib.dump(head, staging / "head.joblib")
        if body_dir is not None:
            shutil.copytree(body_dir, staging / "body")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # readers never see a half-written artifact
        return str(target), tree_sha256(target)

    def verify(self, path: str, sha256: str) -> None:
        root = Path(path)
        if not (root / "head.joblib").is_file():
            raise ArtifactError(f"artifact missing: {path}")
        actual = tree_sha256(root)
        if actual != sha256:
            raise ArtifactError(f"artifact corrupt: {path} has sha256 {actual[:12]}…, registry says {sha256[:12]}…")

    def load_head(self, path: str, sha256: str) -> Any:
        self.verify(path, sha256)
        try:
            return joblib.load(Path(path) / "head.joblib")
        except Exception as error:
            raise ArtifactError(f"artifact unreadable: {path}: {error!r}") from error

    def drop_dataset(self, dataset: DatasetKey) -> None:
        shutil.rmtree(self._root / dataset.workspace / dataset.dataset, ignore_errors=True)

    def body_dir(self, path: str) -> str:
        return str(Path(path) / "body")
