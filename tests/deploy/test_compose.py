"""docker-compose.yml: schema-valid offline, and in step with the code it deploys.

Compose cannot run here (no Docker engine), so these tests check what would break a `docker compose up`
silently: a service or setting renamed in code, a topic added to the registry, a required secret not
required, a missing healthcheck or dependency.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest

from claystream_common.settings import RunMode, load_settings
from claystream_common.topics import DLQ_PARTITIONS, TOPIC_PARTITIONS, topic_specs
from claystream_devstack.services import SERVICE_BY_NAME

SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
# values for the compose file's required ${VAR:?} variables: URL-safe, >= 16 characters, not "dev-..."
DEPLOY_ENV = {
    "CLAYSTREAM_SECRET_KEY": "k" * 40,
    "CLAYSTREAM_SERVICE_TOKEN": "t" * 40,
    "CLAYSTREAM_METRICS_TOKEN": "m" * 40,
    "CLAYSTREAM_MONGO_PASSWORD": "mongo-password-0123456789",
    "CLAYSTREAM_REDIS_PASSWORD": "redis-password-0123456789",
    "CLAYSTREAM_GRAFANA_PASSWORD": "grafana-password-0123456789",
    "CLAYSTREAM_OWNER_PASSWORD": "owner-password-0123456789",
}


@pytest.fixture(scope="module")
def compose_validator(repo: Path, support: ModuleType) -> jsonschema.protocols.Validator:
    path = repo / "deploy" / "schemas" / "compose-spec.json"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SCHEMA_SHA256, "update deploy/schemas/README.md too"
    schema = support.load_yaml(path)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def schema_errors(validator: jsonschema.protocols.Validator, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def test_compose_file_matches_the_compose_spec_schema(compose: dict, support: ModuleType, compose_validator) -> None:
    assert schema_errors(compose_validator, compose) == []
    # `docker compose` validates after interpolation too
    assert schema_errors(compose_validator, support.interpolate(compose, DEPLOY_ENV)) == []


def test_schema_check_rejects_a_broken_compose_file(compose: dict, compose_validator) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["annotate"]["depends_on"]["mongo"]["condition"] = "service_ready"
    broken["services"]["ingest"]["healthcheck"] = {"test": ["CMD", "true"], "intervall": "5s"}
    errors = schema_errors(compose_validator, broken)
    assert any("service_ready" in error for error in errors)
    assert any("intervall" in error for error in errors)


def test_claystream_services_are_exactly_the_services_in_the_repository(
    claystream_services: dict[str, dict], support: ModuleType
) -> None:
    assert set(claystream_services) == support.deployable_names()
    for name, service in claystream_services.items():
        assert service["environment"]["SERVICE"] == name
        port = SERVICE_BY_NAME[name].default_port
        assert service["ports"] == [f"{port}:{port}"], f"{name} listens on {port} (entrypoint.sh, devstack)"


def test_every_claystream_variable_is_a_field_of_that_services_settings(
    claystream_services: dict[str, dict], support: ModuleType
) -> None:
    problems = []
    for name, service in claystream_services.items():
        problems += support.unknown_settings_variables(name, support.environment_dict(service["environment"]))
    assert problems == []


def test_a_renamed_setting_is_reported(support: ModuleType) -> None:
    problems = support.unknown_settings_variables(
        "trainer",
        {
            "CLAYSTREAM_TRAINER_MONGO_URLS": "x",
            "CLAYSTREAM_INGEST_MONGO_URL": "x",
            "CLAYSTREAM_NOPE_MODE": "x",
            "CLAYSTREAM_TRAINER_MODE": "production",
        },
    )
    assert len(problems) == 3
    assert any("MONGO_URLS" in problem and "no field 'mongo_urls'" in problem for problem in problems)
    assert any("is a ingest setting" in problem for problem in problems)
    assert any("no service named 'nope'" in problem for problem in problems)


def test_services_run_in_production_mode_with_every_backend_configured(
    claystream_services: dict[str, dict], support: ModuleType
) -> None:
    for name, service in claystream_services.items():
        prefix = support.env_prefix(name)
        environment = support.environment_dict(service["environment"])
        assert environment[f"{prefix}MODE"] == "production"
        for field, expected in {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "OTLP_ENDPOINT": "http://otel-collector:4318",
        }.items():
            assert environment[f"{prefix}{field}"] == expected, f"{name}: {prefix}{field}"
        assert "@mongo:27017" in environment[f"{prefix}MONGO_URL"]
        assert "@redis:6379" in environment[f"{prefix}REDIS_URL"]
        assert environment[f"{prefix}SECRET_KEY"].startswith("${CLAYSTREAM_SECRET_KEY:?")
        assert environment[f"{prefix}SERVICE_TOKEN"].startswith("${CLAYSTREAM_SERVICE_TOKEN:?")


def test_cross_service_urls_point_at_the_compose_services(
    claystream_services: dict[str, dict], support: ModuleType
) -> None:
    """Every ``<other>_url`` a service's Settings declare is set, to that service's compose address."""
    for name, service in claystream_services.items():
        prefix = support.env_prefix(name)
        environment = support.environment_dict(service["environment"])
        for other in claystream_services:
            variable = f"{prefix}{other.upper()}_URL"
            if other != name and variable in support.settings_variables(name):
                port = SERVICE_BY_NAME[other].default_port
                assert environment.get(variable) == f"http://{other}:{port}", variable


def test_settings_load_from_the_interpolated_compose_environment(
    claystream_services: dict[str, dict], support: ModuleType, clean_settings_env: pytest.MonkeyPatch
) -> None:
    interpolated = support.interpolate(claystream_services, DEPLOY_ENV)
    for name, service in interpolated.items():
        environment = support.environment_dict(service["environment"])
        with clean_settings_env.context() as patch:
            for key, value in environment.items():
                patch.setenv(key, value)
            settings = load_settings(support.settings_class(name))
        assert settings.mode is RunMode.PRODUCTION
        assert settings.secret_key == DEPLOY_ENV["CLAYSTREAM_SECRET_KEY"]
        assert settings.otlp_endpoint == "http://otel-collector:4318"


def test_secrets_are_required_variables_not_defaults(compose: dict, support: ModuleType) -> None:
    assert {
        "CLAYSTREAM_SECRET_KEY",
        "CLAYSTREAM_SERVICE_TOKEN",
        "CLAYSTREAM_METRICS_TOKEN",
        "CLAYSTREAM_MONGO_PASSWORD",
        "CLAYSTREAM_REDIS_PASSWORD",
        "CLAYSTREAM_GRAFANA_PASSWORD",
    } <= support.required_variables(compose)
    assert support.required_variables(compose) <= set(DEPLOY_ENV)
    environ = dict(DEPLOY_ENV)
    del environ["CLAYSTREAM_SECRET_KEY"]
    with pytest.raises(support.MissingVariable, match="CLAYSTREAM_SECRET_KEY"):
        support.interpolate(compose, environ)
    assert "dev-" not in str(compose), "no development secrets in the production-like compose file"


def test_env_example_lists_every_required_variable(repo: Path, compose: dict, support: ModuleType) -> None:
    example = (repo / "deploy" / "compose.env.example").read_text()
    names = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert support.required_variables(compose) <= names


def test_topic_init_creates_exactly_the_registry_topics(compose: dict) -> None:
    init = compose["services"]["kafka-init-topics"]
    script = "\n".join(init["command"])
    created = dict(re.findall(r"^\s*create (\S+) (\d+)\s*$", script, flags=re.MULTILINE))
    expected = {spec.name: str(spec.partitions) for spec in topic_specs()}
    assert created == expected
    assert len(expected) == 2 * len(TOPIC_PARTITIONS)
    assert {created[f"{topic.value}.dlq"] for topic in TOPIC_PARTITIONS} == {str(DLQ_PARTITIONS)}
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert compose["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_backends_are_healthchecked_and_services_wait_for_them(
    compose: dict, claystream_services: dict[str, dict]
) -> None:
    services = compose["services"]
    for backend in ("kafka", "mongo", "redis"):
        assert "healthcheck" in services[backend], backend
    assert services["redis"]["image"].startswith("redis:7")
    assert "--appendonly" in services["redis"]["command"]
    assert services["mongo"]["image"] == "mongo:7"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    for name, service in claystream_services.items():
        depends = service["depends_on"]
        assert depends["kafka-init-topics"]["condition"] == "service_completed_successfully", name
        assert depends["mongo"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
        assert service["healthcheck"]["test"][-1] == "/readyz", name
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_trainer_keeps_models_on_a_volume(compose: dict, support: ModuleType) -> None:
    trainer = compose["services"]["trainer"]
    mounts = dict(volume.split(":", 1) for volume in trainer["volumes"])
    assert "models" in compose["volumes"]
    environment = support.environment_dict(trainer["environment"])
    assert environment.get("CLAYSTREAM_TRAINER_MODELS_DIR") == mounts["models"] == "/models"
    assert "CLAYSTREAM_TRAINER_MODELS_DIR" in support.settings_variables("trainer")


def test_mounted_config_files_exist(compose: dict, repo: Path) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (repo / source).exists(), f"{name} mounts missing {source}"
