"""Fixtures for the deployment tests (compose, image, observability config, Kubernetes manifests)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def _load_sibling(name: str) -> ModuleType:
    qualified = f"claystream_deploy_tests_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def support() -> ModuleType:
    """tests/deploy/deploy_support.py"""
    return _load_sibling("deploy_support")


@pytest.fixture(scope="session")
def kustomize() -> ModuleType:
    """tests/deploy/kustomize_lite.py"""
    return _load_sibling("kustomize_lite")


@pytest.fixture(scope="session")
def repo(support: ModuleType) -> Path:
    return support.REPO


@pytest.fixture(scope="session")
def compose(support: ModuleType) -> dict:
    return support.load_yaml(support.REPO / "docker-compose.yml")


@pytest.fixture(scope="session")
def claystream_services(compose: dict, repo: Path) -> dict[str, dict]:
    """Compose services built from our Dockerfile, by name."""
    return {
        name: service
        for name, service in compose["services"].items()
        if (service.get("build") or {}).get("dockerfile") == "deploy/docker/Dockerfile"
    }


@pytest.fixture
def clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CLAYSTREAM_* variables from the outer process leak into Settings built by a test."""
    import os

    for name in list(os.environ):
        if name.startswith("CLAYSTREAM_"):
            monkeypatch.delenv(name)
    return monkeypatch
