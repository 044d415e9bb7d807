"""Telemetry wiring for docker-compose.yml: OTel collector -> Jaeger, Prometheus scrape config, Grafana.

The dashboard is checked against the metrics the code defines (found by parsing libs/common and services/),
so a renamed metric or label shows up here instead of as an empty panel.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import ModuleType
from urllib.parse import urlparse

import pytest

from claystream_devstack.services import SERVICE_BY_NAME

# Service-specific metrics the dashboard charts, with the type and labels it assumes. While a service does
# not define one yet this is what it should define; once it does, its definition must agree (checked below).
EXPECTED_SERVICE_METRICS = {
    "claystream_outbox_backlog": ("gauge", {"service"}),
    "claystream_training_duration_seconds": ("histogram", set()),
    "claystream_training_runs_total": ("counter", {"result"}),
    "claystream_drift_score": ("gauge", {"model", "check"}),
}
METRIC_CLASSES = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}
PANEL_TOPICS = (
    "Requests",
    "Error",
    "duration",
    "lag",
    "Handler duration",
    "retries",
    "Dead-lettered",
    "Outbox backlog",
    "Training duration",
    "Training runs",
    "Drift",
)


def defined_metrics(repo: Path, support: ModuleType) -> dict[str, tuple[str, set[str]]]:
    """``{family name: (type, labels)}`` of every ``claystream_*`` metric created in libs/common or services/."""
    roots = [repo / "libs" / "common" / "src"] + [repo / "services" / n / "src" for n in support.service_names()]
    found: dict[str, tuple[str, set[str]]] = {}
    for root in roots:
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(errors="replace"))):
                if not (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) in METRIC_CLASSES
                ):
                    continue
                if not (
                    node.args
                    and isinstance(node.args[0], ast.Constant)
                    and str(node.args[0].value).startswith("claystream_")
                ):
                    continue
                kind = METRIC_CLASSES[getattr(node.func, "id", None) or node.func.attr]
                labels_node = (
                    node.args[2]
                    if len(node.args) > 2
                    else next((kw.value for kw in node.keywords if kw.arg == "labelnames"), None)
                )
                labels = {elt.value for elt in getattr(labels_node, "elts", []) if isinstance(elt, ast.Constant)}
                name = str(node.args[0].value)
                if kind == "counter":
                    name = name.removesuffix("_total")
                found[name] = (kind, labels)
    return found


@pytest.fixture(scope="module")
def metric_samples(repo: Path, support: ModuleType) -> dict[str, tuple[str, str, set[str]]]:
    """``{sample name: (family, type, labels)}`` for defined metrics plus the expected service-specific ones."""
    families = {
        (name.removesuffix("_total") if kind == "counter" else name): (kind, labels)
        for name, (kind, labels) in EXPECTED_SERVICE_METRICS.items()
    }
    families.update(defined_metrics(repo, support))
    samples = {}
    for family, (kind, labels) in families.items():
        for suffix in SAMPLE_SUFFIXES[kind]:
            samples[family + suffix] = (family, kind, labels)
    return samples


@pytest.fixture(scope="module")
def dashboard(repo: Path) -> dict:
    return json.loads((repo / "deploy" / "grafana" / "dashboards" / "claystream.json").read_text())


def dashboard_targets(dashboard: dict) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_service_specific_metrics_agree_with_the_dashboard(repo: Path, support: ModuleType) -> None:
    defined = defined_metrics(repo, support)
    assert "claystream_http_requests" in defined and "claystream_consumer_lag" in defined  # the parser works
    for name, (kind, labels) in EXPECTED_SERVICE_METRICS.items():
        family = name.removesuffix("_total") if kind == "counter" else name
        if family in defined:
            defined_kind, defined_labels = defined[family]
            assert defined_kind == kind, f"{name} is a {defined_kind}; the dashboard charts a {kind}"
            assert labels <= defined_labels, f"{name} lacks labels {labels - defined_labels} the dashboard uses"


def test_dashboard_queries_only_metrics_and_labels_that_exist(dashboard: dict, metric_samples: dict) -> None:
    problems = []
    for title, expr in dashboard_targets(dashboard):
        names = set(re.findall(r"\bclaystream_[a-z0-9_]+", expr))
        assert names, f"{title}: query without a claystream metric: {expr}"
        used_labels = set()
        for group in re.findall(r"\bby \(([^)]*)\)", expr):
            used_labels |= {label.strip() for label in group.split(",")}
        for matchers in re.findall(r"\{([^}]*)\}", expr):
            used_labels |= set(re.findall(r"([a-z_]+)\s*=~?", matchers))
        used_labels -= {"le"}
        for name in names:
            if name not in metric_samples:
                problems.append(f"{title}: unknown metric {name}")
                continue
            missing = used_labels - metric_samples[name][2]
            if missing:
                problems.append(f"{title}: {name} has no label(s) {sorted(missing)}")
    assert problems == []


def test_dashboard_covers_what_operators_watch(dashboard: dict) -> None:
    titles = " | ".join(panel["title"] for panel in dashboard["panels"])
    for topic in PANEL_TOPICS:
        assert topic.lower() in titles.lower(), f"no panel about {topic!r}"
    exprs = " ".join(expr for _, expr in dashboard_targets(dashboard))
    for metric in (
        "claystream_http_requests_total",
        "claystream_http_request_duration_seconds_bucket",
        "claystream_consumer_lag",
        "claystream_handler_duration_seconds_bucket",
        "claystream_handler_retries_total",
        "claystream_dlq_published_total",
        *EXPECTED_SERVICE_METRICS,
    ):
        assert metric in exprs, f"{metric} is not charted"


def test_grafana_provisioning_matches_the_dashboard(
    repo: Path, dashboard: dict, compose: dict, support: ModuleType
) -> None:
    provisioning = repo / "deploy" / "grafana" / "provisioning"
    sources = support.load_yaml(provisioning / "datasources" / "claystream.yaml")["datasources"]
    uids = {source["uid"]: source for source in sources}
    used = {panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel}
    used |= {variable["datasource"]["uid"] for variable in dashboard["templating"]["list"]}
    assert used and used <= set(uids)
    for source in sources:
        assert urlparse(source["url"]).hostname in compose["services"], source["name"]
    provider = support.load_yaml(provisioning / "dashboards" / "claystream.yaml")["providers"][0]
    mounts = dict(
        volume.rsplit(":", 1)[0].split(":", 1)
        for volume in compose["services"]["grafana"]["volumes"]
        if volume.startswith("./")
    )
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids))


def test_prometheus_scrapes_every_service(
    repo: Path, compose: dict, claystream_services: dict, support: ModuleType
) -> None:
    config = support.load_yaml(repo / "deploy" / "prometheus" / "prometheus.yml")
    targets: dict[str, str] = {}
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert host == "localhost" or host in compose["services"], f"{job['job_name']}: unknown host {host}"
                targets[host] = port
                if host in claystream_services:
                    assert job.get("metrics_path", "/metrics") == "/metrics"
                    # production mode wants the metrics token (issue 17): the file compose mounts from CLAYSTREAM_METRICS_TOKEN
                    mounted = {c["target"] for c in compose["services"]["prometheus"].get("configs", [])}
                    assert job["authorization"]["credentials_file"] in mounted, job["job_name"]
    for name in claystream_services:
        assert targets.get(name) == str(SERVICE_BY_NAME[name].default_port), f"{name} is not scraped"


def test_collector_receives_otlp_and_exports_traces_to_jaeger(
    repo: Path, compose: dict, claystream_services: dict, support: ModuleType
) -> None:
    config = support.load_yaml(repo / "deploy" / "otel" / "collector.yaml")
    for pipeline in config["service"]["pipelines"].values():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                assert component in config[section], f"pipeline uses undefined {section[:-1]} {component}"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]
    traces = config["service"]["pipelines"]["traces"]
    assert "otlp" in traces["receivers"]
    jaeger = config["exporters"]["otlp/jaeger"]
    assert "otlp/jaeger" in traces["exporters"]
    assert jaeger["endpoint"].split(":")[0] == "jaeger"
    assert compose["services"]["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    http_port = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rsplit(":", 1)[1]
    for name, service in claystream_services.items():
        endpoint = urlparse(
            support.environment_dict(service["environment"])[f"{support.env_prefix(name)}OTLP_ENDPOINT"]
        )
        assert (endpoint.hostname, str(endpoint.port)) == ("otel-collector", http_port), name
    mounted = {volume.split(":")[1] for volume in compose["services"]["otel-collector"]["volumes"]}
    config_flag = next(arg for arg in compose["services"]["otel-collector"]["command"] if arg.startswith("--config="))
    assert config_flag.removeprefix("--config=") in mounted
