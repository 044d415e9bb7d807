"""A small, strict subset of ``kustomize build`` so the overlays can be rendered and validated offline.

Supports what deploy/k8s uses and refuses anything else (so a new kustomize feature in the manifests fails
loudly here instead of being rendered wrongly): ``resources`` (files and directories), ``namespace``,
``labels`` (without selectors), ``images``, ``replicas``, ``patches`` (strategic merge, by kind + name),
``secretGenerator`` / ``configMapGenerator`` with ``literals`` and ``disableNameSuffixHash``.
When ``kubectl`` is on PATH, tests/deploy/test_k8s.py checks this renderer against ``kubectl kustomize``.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "patches",
    "secretGenerator",
    "configMapGenerator",
    "generatorOptions",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
}
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# strategic-merge keys of the lists the manifests patch (everything else is replaced, like kustomize does)
LIST_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}

Resource = dict[str, Any]


class KustomizeError(ValueError):
    pass


def read_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def render(directory: Path) -> list[Resource]:
    """Render the kustomization in ``directory`` (and its bases) into a list of resources."""
    directory = Path(directory)
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    config = yaml.safe_load(path.read_text()) or {}
    unknown = set(config) - SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: unsupported fields {sorted(unknown)}")

    resources: list[Resource] = []
    for entry in config.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            resources += render(target)
        elif target.is_file():
            resources += read_documents(target)
        else:
            raise KustomizeError(f"{path}: resource {entry!r} does not exist")
    resources += generated(config, path)
    for patch in config.get("patches", []):
        apply_patch(resources, patch, directory)
    apply_labels(resources, config.get("labels", []), path)
    if "namespace" in config:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = config["namespace"]
    apply_images(resources, config.get("images", []))
    apply_replicas(resources, config.get("replicas", []), path)
    check_unique(resources, path)
    return resources


def generated(config: dict[str, Any], path: Path) -> list[Resource]:
    options = config.get("generatorOptions", {})
    out: list[Resource] = []
    for field, kind in (("secretGenerator", "Secret"), ("configMapGenerator", "ConfigMap")):
        for generator in config.get(field, []):
            extra = set(generator) - {"name", "literals", "type"}
            if extra:
                raise KustomizeError(f"{path}: {field} fields {sorted(extra)} not supported")
            if not options.get("disableNameSuffixHash"):
                raise KustomizeError(f"{path}: generators need generatorOptions.disableNameSuffixHash here")
            values = {}
            for literal in generator.get("literals", []):
                key, sep, value = literal.partition("=")
                if not sep:
                    raise KustomizeError(f"{path}: literal {literal!r} is not key=value")
                values[key] = value
            resource: Resource = {"apiVersion": "v1", "kind": kind, "metadata": {"name": generator["name"]}}
            if kind == "Secret":
                resource["type"] = generator.get("type", "Opaque")
                resource["data"] = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
            else:
                resource["data"] = values
            out.append(resource)
    return out


def apply_patch(resources: list[Resource], patch: dict[str, Any], directory: Path) -> None:
    if set(patch) != {"path"}:
        raise KustomizeError(f"{directory}: only `patches: - path: <file>` is supported, got {patch}")
    documents = read_documents(directory / patch["path"])
    if len(documents) != 1:
        raise KustomizeError(f"{directory / patch['path']}: one strategic-merge document per patch file")
    document = documents[0]
    kind, name = document.get("kind"), document.get("metadata", {}).get("name")
    matches = [r for r in resources if r.get("kind") == kind and r.get("metadata", {}).get("name") == name]
    if len(matches) != 1:
        raise KustomizeError(
            f"{directory / patch['path']}: patch target {kind}/{name} matches {len(matches)} resources"
        )
    merge(matches[0], document)


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Strategic merge (the subset used here): maps merge, keyed lists merge by key, other lists are replaced."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list) and key in LIST_MERGE_KEYS:
            # like kustomize (kyaml): the patch's items first, in its order, then the untouched originals
            merge_key = LIST_MERGE_KEYS[key]
            existing = {item.get(merge_key): item for item in target[key]}
            merged = []
            for item in value:
                if item.get(merge_key) in existing:
                    merge(existing[item[merge_key]], item)
                    merged.append(existing.pop(item[merge_key]))
                else:
                    merged.append(copy.deepcopy(item))
            target[key] = merged + [item for item in target[key] if item.get(merge_key) in existing]
        else:
            target[key] = copy.deepcopy(value)


def apply_labels(resources: list[Resource], labels: list[dict[str, Any]], path: Path) -> None:
    for entry in labels:
        if entry.get("includeSelectors") or entry.get("includeTemplates") or set(entry) - {"pairs", "includeSelectors"}:
            raise KustomizeError(f"{path}: only labels with includeSelectors: false are supported")
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(entry["pairs"])


def pod_containers(resource: Resource) -> list[dict[str, Any]]:
    if resource.get("kind") not in POD_OWNERS:
        return []
    spec = resource["spec"]["template"]["spec"]
    return list(spec.get("containers", [])) + list(spec.get("initContainers", []))


def apply_images(resources: list[Resource], images: list[dict[str, Any]]) -> None:
    for image in images:
        for resource in resources:
            for container in pod_containers(resource):
                reference = container["image"]
                name = reference.split("@", 1)[0]
                tag = ""
                if ":" in name.rsplit("/", 1)[-1]:
                    name, tag = name.rsplit(":", 1)
                if name != image["name"]:
                    continue
                new_name = image.get("newName", name)
                new_tag = str(image["newTag"]) if "newTag" in image else tag
                container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def apply_replicas(resources: list[Resource], replicas: list[dict[str, Any]], path: Path) -> None:
    for entry in replicas:
        matches = [r for r in resources if r["kind"] in POD_OWNERS and r["metadata"]["name"] == entry["name"]]
        if not matches:
            raise KustomizeError(f"{path}: replicas for unknown workload {entry['name']!r}")
        for resource in matches:
            resource["spec"]["replicas"] = entry["count"]


def check_unique(resources: list[Resource], path: Path) -> None:
    seen = set()
    for resource in resources:
        key = (
            resource.get("kind"),
            resource.get("metadata", {}).get("namespace"),
            resource.get("metadata", {}).get("name"),
        )
        if key in seen:
            raise KustomizeError(f"{path}: duplicate resource {key}")
        seen.add(key)
