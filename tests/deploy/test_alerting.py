"""deploy/prometheus/: alerting rules checked and unit-tested by the real promtool, the Alertmanager example by
amtool (Debian packages ``prometheus`` and ``prometheus-alertmanager``; ``deploy/local/setup.sh --test``), and
every metric a rule uses is one the code defines."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

PROMETHEUS = Path("deploy") / "prometheus"
ALERTS_REQUIRED = {
    "ClaystreamDriftDetected", "ClaystreamConsumerLagHigh", "ClaystreamDeadLettersGrowing",
    "ClaystreamTrainingFailures", "ClaystreamServiceNotReady",
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (deploy/local/setup.sh --test installs it)")
    return path


def _run(repo: Path, *command: str) -> str:
    done = subprocess.run(command, cwd=repo / PROMETHEUS, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_promtool_checks_the_rules_and_the_config(repo: Path) -> None:
    promtool = _tool("promtool")
    assert "SUCCESS: 7 rules found" in _run(repo, promtool, "check", "rules", "alerts.yml")
    assert "alerts.yml" in _run(repo, promtool, "check", "config", "prometheus.yml")  # the config loads the rules


def test_promtool_unit_tests_fire_each_alert(repo: Path) -> None:
    promtool = _tool("promtool")
    _run(repo, promtool, "test", "rules", "alerts.test.yml")
    tested = set(re.findall(r"alertname: (\w+)", (repo / PROMETHEUS / "alerts.test.yml").read_text()))
    defined = set(re.findall(r"- alert: (\w+)", (repo / PROMETHEUS / "alerts.yml").read_text()))
    assert ALERTS_REQUIRED <= defined and tested == defined


def test_a_broken_rule_is_caught(repo: Path, tmp_path: Path) -> None:
    promtool = _tool("promtool")
    broken = (repo / PROMETHEUS / "alerts.yml").read_text().replace("claystream_drift_alerting) == 1", "claystream_drift_alerting) ==", 1)
    (tmp_path / "alerts.yml").write_text(broken)
    done = subprocess.run([promtool, "check", "rules", str(tmp_path / "alerts.yml")], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0


def test_alertmanager_example_is_valid(repo: Path) -> None:
    amtool = _tool("amtool")
    assert "SUCCESS" in _run(repo, amtool, "check-config", "alertmanager.example.yml")


def _observability() -> ModuleType:
    name = "claystream_deploy_tests_observability"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_observability.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_rules_use_only_metrics_the_code_defines(repo: Path, support: ModuleType, compose: dict) -> None:
    defined = _observability().defined_metrics(repo, support)
    rules = support.load_yaml(repo / PROMETHEUS / "alerts.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in re.findall(r"\bclaystream_[a-z0-9_]+", rule["expr"]):
                family = name.removesuffix("_total")
                assert family in defined, f"{rule['alert']}: {name} is not defined by any service"
    volumes = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in volumes
