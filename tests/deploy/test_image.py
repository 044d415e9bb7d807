"""deploy/docker/: the one image for all four services (Dockerfile, .dockerignore, entrypoint, health probe).

No Docker engine here: the Dockerfile is checked structurally against the repository it copies from, and
the entrypoint and health probe are run for real (with a stub ``uvicorn`` and a throwaway HTTP server).
"""

from __future__ import annotations

import ast
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from claystream_devstack.services import SERVICE_BY_NAME

DEVELOPMENT_ONLY = ("claystream_devstack", "calfkit", "nx_27017")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerignore_patterns(path: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def is_ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore matching for plain patterns (no ``!`` exceptions): a path or any parent matches."""

    def to_regex(pattern: str) -> re.Pattern[str]:
        out = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
            out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        return re.compile(out)

    regexes = [to_regex(pattern) for pattern in patterns]
    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    return any(regex.fullmatch(prefix) for regex in regexes for prefix in prefixes)


@pytest.fixture(scope="module")
def instructions(repo: Path) -> list[tuple[str, str]]:
    return dockerfile_instructions(repo / "deploy" / "docker" / "Dockerfile")


@pytest.fixture(scope="module")
def ignore_patterns(repo: Path) -> list[str]:
    patterns = dockerignore_patterns(repo / ".dockerignore")
    assert not any(pattern.startswith("!") for pattern in patterns), "is_ignored() does not model exceptions"
    return patterns


def test_dockerignore_matching() -> None:
    patterns = [".venv", "**/__pycache__", "services/*/tests"]
    assert is_ignored(".venv/bin/python", patterns)
    assert is_ignored("libs/common/src/x/__pycache__/a.pyc", patterns)
    assert is_ignored("services/ingest/tests/unit/test_a.py", patterns)
    assert not is_ignored("services/ingest/src/claystream_ingest/main.py", patterns)


def test_image_is_python_311_slim_with_cpu_torch(instructions: list[tuple[str, str]], repo: Path) -> None:
    args = dict(rest.split("=", 1) for keyword, rest in instructions if keyword == "ARG" and "=" in rest)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    stages = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert stages and all(stage.startswith("${PYTHON_IMAGE} AS ") for stage in stages)
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert any('--index-url "${TORCH_INDEX_URL}"' in run and "grep -E '^torch=='" in run for run in runs)
    torch_pins = [line for line in (repo / "requirements.txt").read_text().splitlines() if line.startswith("torch==")]
    assert torch_pins == ["torch==2.13.0"], "the Dockerfile installs requirements.txt's torch pin from the CPU index"


def repository_packages(repo: Path) -> dict[str, str]:
    """``{top-level module: package folder}`` for every installable package in libs/ and services/."""
    found = {}
    for folder in sorted(repo.glob("libs/*")) + sorted(repo.glob("services/*")):
        for module in (folder / "src").glob("*/__init__.py"):
            found[module.parent.name] = folder.relative_to(repo).as_posix()
    return found


def image_packages(repo: Path, support: ModuleType) -> set[str]:
    """The services plus every repository package their code imports, transitively."""
    packages = repository_packages(repo)
    pending = [f"services/{name}" for name in support.service_names()]
    needed: set[str] = set()
    while pending:
        folder = pending.pop()
        if folder in needed:
            continue
        needed.add(folder)
        for path in (repo / folder / "src").rglob("*.py"):
            source = path.read_text(errors="replace")
            for module in re.findall(r"^\s*(?:from|import)\s+(claystream\w*)", source, re.MULTILINE):
                if module in packages:
                    pending.append(packages[module])
    return needed


def test_every_package_the_services_import_is_copied_and_installed(
    instructions: list[tuple[str, str]], ignore_patterns: list[str], repo: Path, support: ModuleType
) -> None:
    copies = [rest.split() for keyword, rest in instructions if keyword == "COPY" and "--from=" not in rest]
    sources = [part for words in copies for part in words[:-1] if not part.startswith("--")]
    for source in sources:
        assert (repo / source).exists(), f"COPY {source}: no such path"
        assert not is_ignored(source, ignore_patterns), f"COPY {source}: excluded by .dockerignore"
    declared = next(rest for keyword, rest in instructions if keyword == "ARG" and rest.startswith("PACKAGES="))
    packages = set(declared.removeprefix("PACKAGES=").strip('"').split())
    assert {"libs/common"} | {f"services/{name}" for name in support.service_names()} <= packages
    assert packages == image_packages(repo, support), "ARG PACKAGES must list exactly what the services import"
    assert packages <= set(sources), f"not copied: {packages - set(sources)}"
    install = next(rest for keyword, rest in instructions if keyword == "RUN" and "for package in ${PACKAGES}" in rest)
    assert "graft src" in install and "pip install" in install
    for package in packages:
        for source_file in (repo / package / "src").rglob("*"):
            relative = source_file.relative_to(repo).as_posix()
            if source_file.is_file() and "egg-info" not in relative and "__pycache__" not in relative:
                assert not is_ignored(relative, ignore_patterns), f"{relative} would be missing from the image"
    for local in (".venv", ".state", ".git", "services/ingest/tests", "libs/common/src/x.egg-info"):
        assert is_ignored(local, ignore_patterns), f"{local} belongs outside the build context"


def test_runtime_code_needs_no_development_packages(repo: Path, support: ModuleType) -> None:
    """The image leaves out libs/devstack and the embedded servers; production code must not import them."""
    roots = [repo / package / "src" for package in image_packages(repo, support)]
    offenders = []
    for root in roots:
        for path in root.rglob("*.py"):
            for line in path.read_text(errors="replace").splitlines():
                if re.match(rf"\s*(from|import)\s+({'|'.join(DEVELOPMENT_ONLY)})\b", line):
                    offenders.append(f"{path.relative_to(repo)}: {line.strip()}")
    assert offenders == []


def test_runs_as_non_root_with_a_liveness_healthcheck(instructions: list[tuple[str, str]]) -> None:
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthcheck = next(rest for keyword, rest in instructions if keyword == "HEALTHCHECK")
    assert '"/healthz"' in healthcheck
    entrypoint = next(rest for keyword, rest in instructions if keyword == "ENTRYPOINT")
    assert entrypoint == '["/usr/local/bin/claystream-entrypoint"]'


@pytest.fixture
def stub_uvicorn(tmp_path: Path) -> dict[str, str]:
    stub = tmp_path / "uvicorn"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(0o755)
    return {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("service", sorted(SERVICE_BY_NAME))
def test_entrypoint_starts_the_selected_service(service: str, repo: Path, stub_uvicorn: dict[str, str]) -> None:
    result = subprocess.run(
        ["sh", str(repo / "deploy" / "docker" / "entrypoint.sh")],
        env={**stub_uvicorn, "SERVICE": service},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    args = result.stdout.split()
    factory = args[args.index("--factory") + 1]
    assert factory == SERVICE_BY_NAME[service].app_factory
    assert args[args.index("--port") + 1] == str(SERVICE_BY_NAME[service].default_port)
    module_name, _, attribute = factory.partition(":")
    package, _, module = module_name.partition(".")
    source = repo / "services" / SERVICE_BY_NAME[service].settings_package / "src" / package / f"{module}.py"
    functions = {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
    assert attribute in functions, f"{source} defines no {attribute}()"


def test_entrypoint_refuses_an_unknown_service(repo: Path, stub_uvicorn: dict[str, str]) -> None:
    result = subprocess.run(
        ["sh", str(repo / "deploy" / "docker" / "entrypoint.sh")],
        env={**stub_uvicorn, "SERVICE": "annotator"},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode == 64
    assert "SERVICE must be one of annotate, ingest, trainer, monitor, predict (got 'annotator')" in result.stderr


@pytest.fixture
def probe_target() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_probe(repo: Path, path: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(repo / "deploy" / "docker" / "healthcheck.py"), path],
        env={**env, "HEALTHCHECK_TIMEOUT_S": "2"},
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )


def test_health_probe_exit_codes(repo: Path, probe_target: int) -> None:
    assert run_probe(repo, "/healthz", {"PORT": str(probe_target)}).returncode == 0
    not_ready = run_probe(repo, "/readyz", {"PORT": str(probe_target)})
    assert not_ready.returncode == 1 and "503" in not_ready.stderr
    probe_target_closed = run_probe(repo, "/healthz", {"SERVICE": "ingest", "PORT": "1"})
    assert probe_target_closed.returncode == 1
    assert "set PORT or SERVICE" in run_probe(repo, "/healthz", {}).stderr
