"""Deploy/kubernetes rendered and validated offline: every manifest against the Kubernetes schemas
(kubernetes-validate, strict), the restricted security profile and probes of every container, the configuration
templates against hubd --check-config, and a rendered fleet of 3 whose members each list the two others as VXLAN
remotes. Rendering: ``kubectl kustomize`` when kubectl is installed, else tests/kustomize_lite.py (and when both
exist they must agree)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from handsethub import deploy
from handsethub.pytest_plugin import find_hubd

kubernetes_validate = pytest.importorskip("kubernetes_validate",
                                          reason="kubernetes-validate (PyPI) is not installed (Tools/hub test installs it)")
import yaml  # noqa: E402  (PyYAML comes with kubernetes-validate)

import kustomize_lite  # noqa: E402

REPO = next(p for p in Path(__file__).resolve().parents if (p / "Package.swift").exists())
KUBE = REPO / "Deploy/kubernetes"
TARGETS = sorted(p.parent.name for p in KUBE.glob("*/kustomization.yaml"))
KUBECTL = shutil.which("kubectl")
SECRETS = {"HANDSETHUB_CONTROL_TOKEN": "t" * 24, "HANDSETHUB_VNC_PASSWORD": "pw"}


def kubectl_render(name: str):
    answer = subprocess.run([KUBECTL, "kustomize", str(KUBE / name)], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    return [d for d in yaml.safe_load_all(answer.stdout) if d]


def rendered(name: str):
    return kubectl_render(name) if KUBECTL else kustomize_lite.render(KUBE / name)


def by_key(documents):
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def test_there_is_a_handset_a_fleet_and_a_fleet_of_three():
    assert {"handset", "fleet", "fleet-3"} <= set(TARGETS)


@pytest.mark.parametrize("name", TARGETS)
def test_every_rendered_manifest_is_valid_against_the_kubernetes_schemas(name):
    version = kubernetes_validate.latest_version()
    documents = rendered(name)
    assert documents
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{name}: {document['kind']}/{document['metadata']['name']}: {error.message} "
                                 f"at {list(error.path)}")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: only tests/kustomize_lite.py renders here")
@pytest.mark.parametrize("name", TARGETS)
def test_the_fallback_renderer_agrees_with_kubectl_kustomize(name):
    assert by_key(kustomize_lite.render(KUBE / name)) == by_key(kubectl_render(name))


def workloads(documents):
    return [d for d in documents if d["kind"] in ("Deployment", "StatefulSet")]


@pytest.mark.parametrize("name", TARGETS)
def test_pods_are_restricted_bounded_and_probed(name):
    for workload in workloads(rendered(name)):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert context["runAsNonRoot"] is True and context["readOnlyRootFilesystem"] is True
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}
        hub = next(c for c in pod["containers"] if c["name"] == "hub")
        http = next(p for p in hub["ports"] if p["name"] == "http")["containerPort"]
        assert hub["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert hub["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        config = config_map_text(rendered(name), pod)
        assert f"httpEndpoints: [tcp:0.0.0.0:{http}]" in config
        mounts = {m["mountPath"]: m["name"] for m in hub["volumeMounts"]}
        assert mounts["/run/secrets/handsethub"] == "secrets" and mounts["/etc/handsethub"] == "config"


def config_map_text(documents, pod):
    name = next(v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v)
    return by_key(documents)[("ConfigMap", name)]["data"]["hubd.yaml"]


def test_services_cover_control_web_and_rfb():
    documents = rendered("handset")
    ports = {p["name"] for d in documents if d["kind"] == "Service" for p in d["spec"]["ports"]}
    assert {"control", "web", "rfb", "http"} <= ports
    workload = workloads(documents)[0]
    labels = workload["spec"]["template"]["metadata"]["labels"]
    for service in (d for d in documents if d["kind"] == "Service"):
        assert service["spec"]["selector"].items() <= labels.items()


def test_templates_are_the_container_template(tmp_path):
    container = (REPO / "Deploy/container/hubd.yaml").read_text()
    assert (KUBE / "handset/hubd.yaml").read_text() == container
    fleet = (KUBE / "fleet/hubd.yaml").read_text()
    without_port = re.sub(r"        - name: fleet\n          vxlan: .*\n", "", fleet)
    without_port = without_port.replace("# In a fleet (Deploy/kubernetes/fleet) lan0 reaches the other handsets' lan0 "
                                        "over VXLAN (port fleet).\n", "")
    assert without_port == container


@pytest.mark.parametrize("template", ["handset", "fleet"])
def test_the_rendered_configuration_is_accepted_by_hubd(template):
    """The template with its placeholders filled passes hubd --check-config (without hub.httpEndpoints when
    this hubd does not know the key yet); the fleet's with its members' host names as VXLAN remotes."""
    hubd = str(find_hubd())
    known = {**SECRETS, "HANDSETHUB_VXLAN_REMOTES": '["handset-1.handset-fleet:4789", "handset-2.handset-fleet:4789"]'}
    text = deploy.render((KUBE / template / "hubd.yaml").read_text(), known)
    if not deploy.hub_knows_http_endpoints(hubd):
        text = deploy.without_http_endpoints(text)
    answer = deploy.check(hubd, text)
    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_a_rendered_fleet_of_three_lists_the_two_others_as_remotes():
    documents = rendered("fleet-3")
    objects = by_key(documents)
    statefulset = objects[("StatefulSet", "handset")]
    assert statefulset["spec"]["replicas"] == 3
    headless = objects[("Service", statefulset["spec"]["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    pod = statefulset["spec"]["template"]["spec"]
    hub = next(c for c in pod["containers"] if c["name"] == "hub")
    env = {e["name"]: e["value"] for e in hub["env"]}
    assert env["HANDSETHUB_FLEET_SIZE"] == str(statefulset["spec"]["replicas"])
    vxlan_port = next(p for p in hub["ports"] if p["name"] == "vxlan")
    assert vxlan_port["protocol"] == "UDP"
    assert any(p["port"] == vxlan_port["containerPort"] and p["protocol"] == "UDP" for p in headless["spec"]["ports"])
    template = config_map_text(documents, pod)
    members = [f"{statefulset['metadata']['name']}-{i}.{headless['metadata']['name']}:{vxlan_port['containerPort']}"
               for i in range(3)]
    for ordinal in range(3):
        known = deploy.values({**env, **SECRETS}, hostname=f"{statefulset['metadata']['name']}-{ordinal}")
        config = yaml.safe_load(deploy.render(template, known))
        ports = [p for segment in config["devices"]["ethernet"] for p in segment["ports"] if "vxlan" in p]
        assert len(ports) == 1
        vxlan = ports[0]["vxlan"]
        assert vxlan["local"] == f"0.0.0.0:{vxlan_port['containerPort']}"
        assert sorted(vxlan["remotes"]) == sorted(m for i, m in enumerate(members) if i != ordinal), ordinal


def test_render_refuses_missing_values_and_makes_generated_ones(tmp_path):
    with pytest.raises(deploy.RenderError, match="HANDSETHUB_CONTROL_TOKEN"):
        deploy.render("controlToken: ${HANDSETHUB_CONTROL_TOKEN}\n", {}, tmp_path)
    (tmp_path / "HANDSETHUB_CONTROL_TOKEN").write_text("from-a-secret-file\n")
    assert deploy.render("t: ${HANDSETHUB_CONTROL_TOKEN}", {}, tmp_path) == "t: from-a-secret-file"
    text = deploy.render("a: ${GENERATED_A}\nb: ${GENERATED_A}\nc: ${GENERATED_C}", {})
    values = [line.split(": ")[1] for line in text.splitlines()]
    assert values[0] == values[1] != values[2] and len(values[0]) >= 24


def test_fleet_ordinals_and_sizes_are_checked():
    assert deploy.ordinal("handset-12", {}) == 12
    with pytest.raises(deploy.RenderError, match="ordinal"):
        deploy.ordinal("handset", {})
    with pytest.raises(deploy.RenderError, match="outside"):
        deploy.fleet_remotes(3, 3, "h-{i}:4789")
    with pytest.raises(deploy.RenderError, match="fleet size"):
        deploy.fleet_remotes(0, 66, "h-{i}:4789")
    assert deploy.fleet_remotes(1, 3, "h-{i}:4789") == ["h-0:4789", "h-2:4789"]
