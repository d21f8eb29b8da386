"""A small kustomize renderer for machines without ``kubectl kustomize``: exactly the features the manifests of
Deploy/kubernetes use (resources as files or directories, configMapGenerator with files, secretGenerator with
literals, generatorOptions.disableNameSuffixHash, replicas, and JSON 6902 patches with a kind/name target).
Anything else is refused, so a manifest using more cannot be validated by the wrong renderer. When kubectl is
present the tests check that both renderers agree."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any, Dict, List

import yaml

KNOWN = {"apiVersion", "kind", "resources", "generatorOptions", "configMapGenerator", "secretGenerator",
         "replicas", "patches"}


class Unsupported(Exception):
    pass


def render(directory: Path) -> List[Dict[str, Any]]:
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - KNOWN
    if unknown:
        raise Unsupported(f"{directory}: kustomization keys not supported here: {sorted(unknown)}")
    if not (spec.get("generatorOptions") or {}).get("disableNameSuffixHash", False) and (
            spec.get("configMapGenerator") or spec.get("secretGenerator")):
        raise Unsupported(f"{directory}: generated names need disableNameSuffixHash: true")
    documents: List[Dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            documents += render(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for generator in spec.get("configMapGenerator", []):
        documents.append(config_map(directory, generator))
    for generator in spec.get("secretGenerator", []):
        documents.append(secret(generator))
    for change in spec.get("replicas", []):
        for document in matching(documents, None, change["name"]):
            document["spec"]["replicas"] = change["count"]
    for patch in spec.get("patches", []):
        target = patch["target"]
        for document in matching(documents, target.get("kind"), target["name"]):
            for operation in yaml.safe_load(patch["patch"]):
                apply(document, operation)
    return documents


def config_map(directory: Path, generator: Dict[str, Any]) -> Dict[str, Any]:
    if set(generator) - {"name", "files"}:
        raise Unsupported(f"configMapGenerator keys: {sorted(generator)}")
    data = {Path(name).name: (directory / name).read_text() for name in generator.get("files", [])}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]}, "data": data}


def secret(generator: Dict[str, Any]) -> Dict[str, Any]:
    if set(generator) - {"name", "literals"}:
        raise Unsupported(f"secretGenerator keys: {sorted(generator)}")
    data = {}
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = base64.b64encode(value.encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": generator["name"]}, "type": "Opaque",
            "data": data}


def matching(documents, kind, name):
    found = [d for d in documents if d["metadata"]["name"] == name and (kind is None or d["kind"] == kind)]
    if not found:
        raise Unsupported(f"no resource {kind or ''}/{name} to change")
    return found


def apply(document: Dict[str, Any], operation: Dict[str, Any]) -> None:
    if operation.get("op") != "replace":
        raise Unsupported(f"JSON patch operation {operation.get('op')!r}")
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in operation["path"].split("/")[1:]]
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = copy.deepcopy(operation["value"])
    else:
        if last not in node:
            raise Unsupported(f"replace of a missing member {operation['path']}")
        node[last] = copy.deepcopy(operation["value"])
