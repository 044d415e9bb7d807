"""Helpers shared by the deployment tests: repository layout, Settings introspection, compose interpolation.

Loaded by ``conftest.py`` (the suite runs with ``--import-mode=importlib``, so siblings are not importable).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from claystream_common.settings import BaseAppSettings

REPO = Path(__file__).resolve().parents[2]
SETTINGS_VARIABLE = re.compile(r"^CLAYSTREAM_([A-Z0-9]+)_([A-Z0-9_]+)$")


def service_names() -> set[str]:
    """The services that exist in the repository: ``services/<name>/`` holding a ``claystream_<name>`` package."""
    return {
        path.name
        for path in (REPO / "services").iterdir()
        if (path / "src" / f"claystream_{path.name}" / "config.py").is_file()
    }


def deployable_names() -> set[str]:
    """What runs as its own process / container / Deployment: the services plus roles built from a service's
    package (the predict role: the trainer package's second app factory)."""
    from claystream_devstack.services import SERVICES

    return service_names() | {spec.name for spec in SERVICES if spec.settings_package in service_names()}


def settings_package(name: str) -> str:
    """The package whose Settings a service or role reads (``predict`` → ``trainer``)."""
    from claystream_devstack.services import SERVICE_BY_NAME

    return SERVICE_BY_NAME[name].settings_package if name in SERVICE_BY_NAME else name


def settings_class(service: str) -> type[BaseAppSettings]:
    service = settings_package(service)
    module = importlib.import_module(f"claystream_{service}.config")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseAppSettings) and value.__module__ == module.__name__
    ]
    assert len(found) == 1, f"claystream_{service}.config must define exactly one Settings class, found {found}"
    return found[0]


def env_prefix(service: str) -> str:
    return str(settings_class(service).model_config.get("env_prefix", ""))


def settings_variables(service: str) -> dict[str, str]:
    """Every environment variable the service's Settings read, mapped to its field name."""
    prefix = env_prefix(service)
    return {f"{prefix}{name}".upper(): name for name in settings_class(service).model_fields}


def unknown_settings_variables(service: str, environment: Mapping[str, Any]) -> list[str]:
    """``CLAYSTREAM_*`` variables in ``environment`` that no field of ``service``'s Settings reads.

    Settings ignore unknown variables (``extra="ignore"``), so a renamed field would silently fall back to
    its default in a deployment; this is the check that catches it.
    """
    known = settings_variables(service)
    services = service_names()
    problems = []
    for name in environment:
        match = SETTINGS_VARIABLE.match(name)
        if not name.startswith("CLAYSTREAM_"):
            continue
        if match is None:
            problems.append(f"{name}: not of the form CLAYSTREAM_<SERVICE>_<FIELD>")
        elif match.group(1).lower() not in services:
            problems.append(f"{name}: no service named {match.group(1).lower()!r} in services/")
        elif match.group(1).lower() != settings_package(service):
            problems.append(f"{name}: given to {service}, but it is a {match.group(1).lower()} setting")
        elif name not in known:
            problems.append(f"{name}: {settings_class(service).__name__} has no field {match.group(2).lower()!r}")
    return problems


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[Any]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document is not None]


class MissingVariable(KeyError):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, environ: Mapping[str, str]) -> Any:
    """Compose-style interpolation of every string in ``value`` (``$$``, ``${V}``, ``${V:-d}``, ``${V:?e}`` ...)."""
    if isinstance(value, dict):
        return {interpolate(key, environ): interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = environ.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":-", "-"):
            return arg if unset else str(current)
        if op in (":?", "?"):
            if unset:
                raise MissingVariable(f"{name}: {arg}")
            return str(current)
        return "" if current is None else str(current)

    return _INTERPOLATION.sub(replace, value)


def required_variables(value: Any) -> set[str]:
    """Names used with ``${VAR:?...}`` / ``${VAR?...}`` anywhere in ``value``."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= required_variables(key) | required_variables(item)
    elif isinstance(value, list):
        for item in value:
            found |= required_variables(item)
    elif isinstance(value, str):
        for match in _INTERPOLATION.finditer(value):
            if match.group("op") in (":?", "?"):
                found.add(match.group("braced"))
    return found


def environment_dict(environment: Any) -> dict[str, str]:
    """A compose ``environment`` (mapping or ``KEY=value`` list) as a dict."""
    if isinstance(environment, dict):
        return {str(key): "" if value is None else str(value) for key, value in environment.items()}
    result = {}
    for item in environment or []:
        key, _, value = str(item).partition("=")
        result[key] = value
    return result
