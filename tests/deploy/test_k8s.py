"""deploy/k8s/: the kustomize base and overlays render, validate against the Kubernetes schemas offline
(PyPI kubernetes-validate), and agree with the code (services, ports, Settings fields, topics)."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import jsonschema
import kubernetes_validate
import pytest
import yaml

from claystream_common.settings import RunMode, load_settings
from claystream_common.topics import TOPIC_PARTITIONS, Topic
from claystream_devstack.services import SERVICE_BY_NAME

OVERLAYS = ("dev", "prod")
# the oldest and newest Kubernetes minor versions the manifests are checked against
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
EXTERNAL_SECRET = "claystream-secrets"
AUTOSCALED = {"ingest", "predict"}  # plain CPU HPAs: HTTP-only workloads
LAG_SCALED = {"annotate", "monitor"}  # KEDA ScaledObjects: consumer lag (base/keda.yaml)
CUSTOM_RESOURCES = {"ScaledObject"}  # CRDs: checked against deploy/schemas/, not kubernetes-validate


@pytest.fixture(scope="module")
def k8s_dir(repo: Path) -> Path:
    return repo / "deploy" / "k8s"


@pytest.fixture(scope="module")
def rendered(kustomize: ModuleType, k8s_dir: Path) -> dict[str, list[dict]]:
    return {overlay: kustomize.render(k8s_dir / "overlays" / overlay) for overlay in OVERLAYS}


def resource_key(resource: dict) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


def by_kind(resources: list[dict], kind: str) -> dict[str, dict]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def container_of(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def service_of(deployment: dict) -> str:
    return next(e["value"] for e in container_of(deployment)["env"] if e["name"] == "SERVICE")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_kubernetes(version: str, k8s_dir: Path, rendered: dict, kustomize: ModuleType) -> None:
    documents = [
        (path.name, doc)
        for path in sorted((k8s_dir / "base").glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in kustomize.read_documents(path)
    ]
    documents += [(f"overlays/{overlay}", doc) for overlay, docs in rendered.items() for doc in docs]
    assert len(documents) > 20
    errors = []
    for origin, document in documents:
        if document["kind"] in CUSTOM_RESOURCES:
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{origin} {document['kind']}/{document['metadata']['name']}: {error.message}")
    assert errors == []


def test_validation_rejects_a_misspelled_field(rendered: dict) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(by_kind(rendered["prod"], "Deployment")["claystream-ingest"]))
    container_of(deployment)["readynessProbe"] = container_of(deployment).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_agrees_with_kubectl_kustomize(overlay: str, k8s_dir: Path, rendered: dict) -> None:
    output = subprocess.run(
        ["kubectl", "kustomize", str(k8s_dir / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    theirs = [doc for doc in yaml.safe_load_all(output) if doc]
    assert sorted(rendered[overlay], key=resource_key) == sorted(theirs, key=resource_key)


def test_renderer_refuses_a_patch_without_target(kustomize: ModuleType, k8s_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{(k8s_dir / 'base').as_posix()}]\npatches:\n  - path: p.yaml\n"
    )
    (tmp_path / "p.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: claystream-annotator}\n")
    with pytest.raises(kustomize.KustomizeError, match="matches 0 resources"):
        kustomize.render(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_four_services_with_probes_resources_and_a_service(overlay: str, rendered: dict, support: ModuleType) -> None:
    resources = rendered[overlay]
    deployments = by_kind(resources, "Deployment")
    services = by_kind(resources, "Service")
    assert {service_of(d) for d in deployments.values()} == support.deployable_names()
    for name, deployment in deployments.items():
        service = service_of(deployment)
        port = SERVICE_BY_NAME[service].default_port
        pod = deployment["spec"]["template"]["spec"]
        container = container_of(deployment)
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}], name
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and "memory" in container["resources"][
            "limits"
        ]
        assert pod["enableServiceLinks"] is False, f"{name}: service links would inject CLAYSTREAM_<SVC>_* variables"
        assert pod["securityContext"]["runAsNonRoot"] is True
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert services[name]["spec"]["selector"] == selector
        assert services[name]["spec"]["ports"][0]["port"] == port
        mounted = {m["name"] for m in container.get("volumeMounts", [])}
        assert mounted <= {v["name"] for v in pod.get("volumes", [])}, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cpu_autoscaling_for_ingest_and_predict(overlay: str, rendered: dict) -> None:
    deployments = by_kind(rendered[overlay], "Deployment")
    autoscalers = by_kind(rendered[overlay], "HorizontalPodAutoscaler")
    scaled = {service_of(deployments[hpa["spec"]["scaleTargetRef"]["name"]]) for hpa in autoscalers.values()}
    assert scaled == AUTOSCALED
    for hpa in autoscalers.values():
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    for deployment in deployments.values():
        if service_of(deployment) in AUTOSCALED | LAG_SCALED:
            assert "replicas" not in deployment["spec"], "the HPA owns replicas; a fixed count fights it on apply"


@pytest.fixture(scope="module")
def keda_validator(repo: Path) -> jsonschema.protocols.Validator:
    schema = json.loads((repo / "deploy" / "schemas" / "keda-scaledobject.json").read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def consumer_groups(service: str) -> dict[str, str]:
    """topic → the consumer group the service really consumes it with (from its bootstrap's wiring)."""
    if service == "monitor":
        return {"predictions": "claystream-monitor-predictions", "feedback": "claystream-monitor",
                "models": "claystream-monitor"}
    if service == "annotate":
        return {"records": "claystream-annotate", "suggestions": "claystream-annotate", "models": "claystream-annotate"}
    return {}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_lag_autoscaling_with_keda(overlay: str, rendered: dict, keda_validator) -> None:
    resources = rendered[overlay]
    deployments = by_kind(resources, "Deployment")
    scaled_objects = by_kind(resources, "ScaledObject")
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind(resources, "HorizontalPodAutoscaler").values()}
    scaled = {}
    for name, scaled_object in scaled_objects.items():
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in keda_validator.iter_errors(scaled_object)]
        assert errors == [], name
        target = scaled_object["spec"]["scaleTargetRef"]["name"]
        assert target in deployments and target not in hpa_targets, f"{name}: one autoscaler per Deployment"
        service = service_of(deployments[target])
        scaled[service] = scaled_object
        spec = scaled_object["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        kafka = [t["metadata"] for t in spec["triggers"] if t["type"] == "kafka"]
        assert kafka, f"{name}: no lag trigger"
        environment = {e["name"] for e in container_of(deployments[target])["env"]}
        for trigger in kafka:
            assert trigger["consumerGroup"] == consumer_groups(service).get(trigger["topic"]), (name, trigger)
            assert trigger["bootstrapServersFromEnv"] in environment
        if not any(t["type"] == "cpu" for t in spec["triggers"]):  # lag only: no point past the partitions
            assert spec["maxReplicaCount"] <= min(TOPIC_PARTITIONS[Topic(t["topic"])] for t in kafka), name
    assert set(scaled) == LAG_SCALED


def test_keda_schema_rejects_a_misspelled_trigger_field(rendered: dict, keda_validator) -> None:
    scaled_object = copy.deepcopy(by_kind(rendered["prod"], "ScaledObject")["claystream-monitor"])
    scaled_object["spec"]["triggers"][0]["metadata"]["lagTreshold"] = "10"
    scaled_object["spec"]["maxReplicas"] = 3
    errors = list(keda_validator.iter_errors(scaled_object))
    assert any("maxReplicas" in e.message for e in errors)
    assert any("lagTreshold" in str(e.instance) or "lagTreshold" in e.message for e in errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_trainer_is_a_singleton_with_a_models_volume(overlay: str, rendered: dict) -> None:
    resources = rendered[overlay]
    trainer = by_kind(resources, "Deployment")["claystream-trainer"]
    assert trainer["spec"]["replicas"] == 1 and trainer["spec"]["strategy"]["type"] == "Recreate"
    volumes = {v["name"]: v for v in trainer["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["models"]["persistentVolumeClaim"]["claimName"]
    assert claim in by_kind(resources, "PersistentVolumeClaim")
    mount = next(m["mountPath"] for m in container_of(trainer)["volumeMounts"] if m["name"] == "models")
    environment = resolved_environment(resources, trainer, external_secret(rendered))
    assert environment["CLAYSTREAM_TRAINER_MODELS_DIR"] == mount


def resolved_environment(resources: list[dict], deployment: dict, external_secret: dict[str, str]) -> dict[str, str]:
    """The container's environment with ConfigMap / Secret references resolved (as the kubelet would)."""
    config_maps = by_kind(resources, "ConfigMap")
    secrets = {
        name: {k: base64.b64decode(v).decode() for k, v in s.get("data", {}).items()}
        for name, s in by_kind(resources, "Secret").items()
    }
    secrets.setdefault(EXTERNAL_SECRET, external_secret)
    environment = {}
    for entry in container_of(deployment)["env"]:
        if "value" in entry:
            environment[entry["name"]] = entry["value"]
            continue
        source = entry["valueFrom"]
        if "configMapKeyRef" in source:
            ref, values = (
                source["configMapKeyRef"],
                config_maps.get(source["configMapKeyRef"]["name"], {}).get("data", {}),
            )
        else:
            ref, values = source["secretKeyRef"], secrets.get(source["secretKeyRef"]["name"], {})
        if ref["key"] in values:
            environment[entry["name"]] = values[ref["key"]]
        else:
            assert ref.get("optional"), f"{deployment['metadata']['name']}: {entry['name']} -> missing {ref}"
    return environment


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_claystream_variable_is_a_settings_field(overlay: str, rendered: dict, support: ModuleType) -> None:
    problems = []
    for deployment in by_kind(rendered[overlay], "Deployment").values():
        names = {entry["name"]: "" for entry in container_of(deployment)["env"]}
        problems += support.unknown_settings_variables(service_of(deployment), names)
    assert problems == []


def external_secret(rendered: dict) -> dict[str, str]:
    """Stand-in values for the Secret prod expects from outside; its keys are those the dev overlay generates."""
    keys = by_kind(rendered["dev"], "Secret")[EXTERNAL_SECRET]["data"]
    values = {key: "s" * 32 for key in keys}
    values.update({"mongo-url": "mongodb://u:p@mongo:27017", "redis-url": "redis://:p@redis:6379/0"})
    assert set(values) == set(keys)
    return values


def test_prod_takes_its_secret_from_outside(rendered: dict, k8s_dir: Path) -> None:
    assert by_kind(rendered["prod"], "Secret") == {}
    documentation = (k8s_dir / "base" / "configmap.yaml").read_text()
    for key in external_secret(rendered):
        assert f"#   {key} " in documentation, f"secret key {key} is not documented in base/configmap.yaml"


@pytest.mark.parametrize(("overlay", "mode"), [("dev", RunMode.DEVELOPMENT), ("prod", RunMode.PRODUCTION)])
def test_settings_load_from_the_rendered_environment(
    overlay: str, mode: RunMode, rendered: dict, support: ModuleType, clean_settings_env: pytest.MonkeyPatch
) -> None:
    external = external_secret(rendered)
    for deployment in by_kind(rendered[overlay], "Deployment").values():
        service = service_of(deployment)
        environment = resolved_environment(rendered[overlay], deployment, external)
        with clean_settings_env.context() as patch:
            for key, value in environment.items():
                patch.setenv(key, value)
            settings = load_settings(support.settings_class(service))
        assert settings.mode is mode, service
        for other in SERVICE_BY_NAME:
            if other != service and f"{other}_url" in type(settings).model_fields:
                expected = f"http://claystream-{other}:{SERVICE_BY_NAME[other].default_port}"
                assert getattr(settings, f"{other}_url") == expected, f"{service}.{other}_url"


def test_scaling_doc_lists_the_current_partition_counts(repo: Path) -> None:
    """Replicas past a topic's partition count consume nothing; the docs must say so with today's numbers."""
    scaling = (repo / "docs" / "SCALING.md").read_text()
    for topic in Topic:
        assert f"| `{topic.value}` | {TOPIC_PARTITIONS[topic]} |" in scaling, f"docs/SCALING.md: partitions of {topic}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_predict_replicas_read_the_shared_store_not_the_trainer_volume(overlay: str, rendered: dict) -> None:
    resources = rendered[overlay]
    deployments = by_kind(resources, "Deployment")
    predict, trainer = deployments["claystream-predict"], deployments["claystream-trainer"]
    for deployment in (predict, trainer):
        environment = resolved_environment(resources, deployment, external_secret(rendered))
        assert environment["CLAYSTREAM_TRAINER_MODEL_STORE"] == "gridfs", deployment["metadata"]["name"]
    volumes = predict["spec"]["template"]["spec"]["volumes"]
    assert not any("persistentVolumeClaim" in v for v in volumes), "a ReadWriteOnce claim cannot serve N replicas"
