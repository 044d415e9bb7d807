"""Model artifacts in MongoDB GridFS: the shared model store of a cluster (trainer writes, predict replicas read).

An artifact is the same tree as on the filesystem (``head.joblib``, optional ``body/``).  Every file is stored
as parts of at most ``part_bytes`` (GridFS files named ``<ref>/<relative path>#<part>``, metadata ``artifact``,
``path``, ``part``): one GridFS download stays far below the embedded server's ~45 MB limit whatever the body
size.  The registry keeps ``gridfs://<workspace>/<dataset>/<version>`` as the artifact path and the SHA-256 of
the tree.  A reader materialises the tree in its local cache (staging folder, then rename) and recomputes the
SHA-256 there: a mismatch raises :class:`ArtifactError` after one fresh download, so a corrupt artifact is
never loaded.  Paths without the ``gridfs://`` scheme are read from the filesystem (registries written before).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import gridfs
import joblib
from pymongo.database import Database

from claystream_trainer.adapters.file_artifacts import FileArtifactStore, tree_sha256
from claystream_trainer.domain.ports import ArtifactError, DatasetKey

SCHEME = "gridfs://"


class GridFSArtifactStore:
    def __init__(self, db: Database[dict[str, Any]], cache_dir: Path, *, part_bytes: int = 16 << 20,
                 bucket: str = "model_artifacts") -> None:
        self._bucket = gridfs.GridFSBucket(db, bucket_name=bucket)
        self._cache = Path(cache_dir) / "store-cache"
        self._part_bytes = part_bytes
        self._local = FileArtifactStore(Path(cache_dir) / "store-staging")

    # --- writing (trainer)
    def save(self, dataset: DatasetKey, version: str, head: Any, body_dir: str | None) -> tuple[str, str]:
        local_path, sha256 = self._local.save(dataset, version, head, body_dir)
        ref = f"{SCHEME}{dataset.workspace}/{dataset.dataset}/{version}"
        self._delete(ref)  # a re-save of the same version replaces it
        root = Path(local_path)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = str(path.relative_to(root))
            with path.open("rb") as handle:
                part = 0
                while True:
                    block = handle.read(self._part_bytes)
                    if not block and part > 0:
                        break
                    self._bucket.upload_from_stream(f"{ref}/{relative}#{part:05d}", block, metadata={
                        "artifact": ref, "path": relative, "part": part})
                    part += 1
                    if len(block) < self._part_bytes:
                        break
        cached = self._cache_path(ref)
        shutil.rmtree(cached, ignore_errors=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        root.rename(cached)  # the writer's own copy is already in its cache
        return ref, sha256

    def _delete(self, ref: str) -> None:
        for grid_out in self._bucket.find({"metadata.artifact": ref}):
            self._bucket.delete(grid_out._id)

    # --- reading (predict replicas, the trainer's own champion cache)
    def _cache_path(self, ref: str) -> Path:
        return self._cache / ref[len(SCHEME):]

    def _download(self, ref: str) -> Path:
        target = self._cache_path(ref)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        parts = sorted((g.metadata["path"], int(g.metadata["part"]), g._id)
                       for g in self._bucket.find({"metadata.artifact": ref}))
        if not parts:
            raise ArtifactError(f"artifact missing: {ref}")
        try:
            for relative, part, file_id in parts:
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with destination.open("ab" if part else "wb") as handle:
                    self._bucket.download_to_stream(file_id, handle)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def local_path(self, path: str, sha256: str) -> Path:
        """The verified local tree of an artifact (downloaded once; downloaded again if the cache is bad)."""
        if not path.startswith(SCHEME):
            self._local.verify(path, sha256)
            return Path(path)
        cached = self._cache_path(path)
        if (cached / "head.joblib").is_file() and tree_sha256(cached) == sha256:
            return cached
        fresh = self._download(path)
        actual = tree_sha256(fresh)
        if actual != sha256:
            raise ArtifactError(f"artifact corrupt: {path} has sha256 {actual[:12]}…, registry says {sha256[:12]}…")
        return fresh

    def verify(self, path: str, sha256: str) -> None:
        self.local_path(path, sha256)

    def load_head(self, path: str, sha256: str) -> Any:
        root = self.local_path(path, sha256)
        try:
            return joblib.load(root / "head.joblib")
        except Exception as error:
            raise ArtifactError(f"artifact unreadable: {path}: {error!r}") from error

    def body_dir(self, path: str) -> str:
        root = self._cache_path(path) if path.startswith(SCHEME) else Path(path)
        return str(root / "body")
