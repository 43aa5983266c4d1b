"""deploy/k8s renders with `kubectl kustomize`, and every rendered resource validates offline
against a schema that rejects unknown fields: core kinds with kubernetes-validate --strict,
Istio and Argo CD with the @kubernetes-models classes made strict (deploy/k8s/validate),
the InferenceService through the kserve SDK's models (.venv-kserve), the KEDA ScaledObject by a
structural check (no offline KEDA schema is packaged on npm or PyPI). The CI workflow passes
check-jsonschema's GitHub workflow schema."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.k8s import (
    ARGO_GROUPS,
    CRD_GROUPS,
    ISTIO_GROUPS,
    KEDA_GROUPS,
    KSERVE_PYTHON,
    KSERVE_VALIDATOR,
    KUBERNETES_VERSION,
    NODE_MODULES,
    NODE_VALIDATOR,
    REPO,
    TARGETS,
    WORKFLOW,
    all_documents,
    documents,
    group_of,
    ident,
    need,
    render_text,
)

# --- Rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_target_renders(target: str) -> None:
    found = documents(target)
    assert found, f"deploy/k8s/{target} renders no resource"
    for document in found:
        assert document.get("apiVersion") and document.get("kind"), document
        assert (document.get("metadata") or {}).get("name"), ident(target, document)


@pytest.mark.parametrize(
    ("target", "namespace"),
    [
        ("overlays/staging", "ml-staging"),
        ("overlays/production", "ml-production"),
        ("infra", "ml-infra"),
    ],
)
def test_every_namespaced_resource_lands_in_its_namespace(target: str, namespace: str) -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}
    wrong = [
        ident(target, d)
        for d in documents(target)
        if d["kind"] not in cluster_scoped
        and (d.get("metadata") or {}).get("namespace") != namespace
    ]
    assert wrong == []


# --- Core kinds: kubernetes-validate --strict ----------------------------------------------


def test_core_kinds_pass_kubernetes_validate_strict() -> None:
    errors = []
    checked = 0
    for target, document in all_documents():
        if group_of(document) in CRD_GROUPS:
            continue
        checked += 1
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(
                f"{ident(target, document)}: {'.'.join(map(str, exc.path))}: {exc.message}"
            )
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{ident(target, document)}: {exc}")
    assert checked > 0
    assert errors == []


def test_kubernetes_validate_strict_refuses_a_misspelled_field() -> None:
    deployment = next(d for _t, d in all_documents() if d["kind"] == "Deployment")
    bad = copy.deepcopy(deployment)
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


# --- Istio and Argo CD: the Node validator ------------------------------------------------


def run_validator(command: list[str], text: str) -> tuple[int, list[dict[str, Any]]]:
    """Feed the rendered YAML to a validator on stdin: its exit code and its JSON lines."""
    result = subprocess.run(
        [*command, "-"], input=text, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


def node_validate(text: str) -> tuple[int, list[dict[str, Any]]]:
    need(NODE_MODULES, "the Node validator's packages")
    return run_validator(["node", str(NODE_VALIDATOR)], text)


def test_istio_and_argo_cd_resources_validate_strictly() -> None:
    text = "---\n".join(render_text(target) for target in TARGETS)
    code, results = node_validate(text)
    checked = [r for r in results if r["status"] != "skipped"]
    invalid = [r for r in checked if r["status"] != "ok"]
    assert invalid == []
    assert code == 0
    groups = {r["apiVersion"].split("/")[0] for r in checked}
    expected = {
        group_of(d) for _t, d in all_documents() if group_of(d) in ISTIO_GROUPS | ARGO_GROUPS
    }
    assert groups == expected
    assert {"security.istio.io", "networking.istio.io", "argoproj.io"} <= groups


@pytest.mark.parametrize(
    ("kind", "misspell"),
    [
        ("AuthorizationPolicy", lambda d: d["spec"]["rules"][0].update(too=[])),
        ("VirtualService", lambda d: d["spec"]["http"][0].update(rout=[])),
        ("Application", lambda d: d["spec"]["source"].update(targetRevison="main")),
        ("Gateway", lambda d: d["metadata"].update(lables={})),
    ],
)
def test_node_validator_rejects_a_misspelled_field(kind: str, misspell: Any) -> None:
    found = next((d for _t, d in all_documents() if d["kind"] == kind), None)
    assert found is not None, f"no {kind} rendered"
    bad = copy.deepcopy(found)
    misspell(bad)
    code, results = node_validate(yaml.safe_dump_all([found, bad]))
    assert [r["status"] for r in results] == ["ok", "invalid"]
    assert "must NOT have additional properties" in " ".join(results[1]["errors"])
    assert code == 1


# --- The InferenceService: the kserve SDK's models ----------------------------------------


def kserve_validate(text: str) -> tuple[int, list[dict[str, Any]]]:
    need(KSERVE_PYTHON, "the kserve venv")
    return run_validator([str(KSERVE_PYTHON), str(KSERVE_VALIDATOR)], text)


def inference_services() -> list[dict[str, Any]]:
    return [d for _t, d in all_documents() if d["kind"] == "InferenceService"]


def test_inference_services_validate_through_the_kserve_models() -> None:
    found = inference_services()
    assert len(found) >= 2, "each overlay renders the predictor InferenceService"
    code, results = kserve_validate(yaml.safe_dump_all(found))
    assert [r for r in results if r["status"] != "ok"] == []
    assert len(results) == len(found)
    assert code == 0


def test_kserve_validator_rejects_a_misspelled_field_and_a_wrong_type() -> None:
    good = inference_services()[0]
    misspelled = copy.deepcopy(good)
    misspelled["spec"]["predictor"]["minReplica"] = 3
    wrong_type = copy.deepcopy(good)
    wrong_type["spec"]["predictor"]["containers"][0]["ports"] = [{"containerPort": "8080"}]
    code, results = kserve_validate(yaml.safe_dump_all([good, misspelled, wrong_type]))
    assert [r["status"] for r in results] == ["ok", "invalid", "invalid"]
    assert "minReplica: not a field of V1beta1PredictorSpec" in results[1]["errors"][0]
    assert "containerPort: expected int" in results[2]["errors"][0]
    assert code == 1


# --- KEDA: structural ---------------------------------------------------------------------

# keda.sh/v1alpha1 ScaledObject fields (KEDA 2.x CRD); nested maps listed by path.
KEDA_FIELDS: dict[str, set[str]] = {
    "": {"apiVersion", "kind", "metadata", "spec"},
    "spec": {
        "scaleTargetRef",
        "pollingInterval",
        "cooldownPeriod",
        "initialCooldownPeriod",
        "idleReplicaCount",
        "minReplicaCount",
        "maxReplicaCount",
        "fallback",
        "advanced",
        "triggers",
    },
    "spec.scaleTargetRef": {"name", "apiVersion", "kind", "envSourceContainerName"},
    "spec.fallback": {"failureThreshold", "replicas", "behavior"},
    "spec.advanced": {
        "restoreToOriginalReplicaCount",
        "horizontalPodAutoscalerConfig",
        "scalingModifiers",
    },
    "spec.triggers[]": {
        "type",
        "name",
        "metadata",
        "authenticationRef",
        "metricType",
        "useCachedMetrics",
    },
    "spec.triggers[].authenticationRef": {"name", "kind"},
}


def keda_unknown_fields(document: dict[str, Any]) -> list[str]:
    found = []
    for path, allowed in KEDA_FIELDS.items():
        for node in _at(document, path):
            found += [f"{path}.{k}" for k in node if k not in allowed]
    return found


def _at(node: Any, path: str) -> list[dict[str, Any]]:
    nodes = [node]
    for part in [p for p in path.split(".") if p]:
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        nodes = [n.get(key) for n in nodes if isinstance(n, dict) and n.get(key) is not None]
        if many:
            nodes = [item for n in nodes for item in n]
    return [n for n in nodes if isinstance(n, dict)]


@pytest.mark.parametrize("target", ["overlays/staging", "overlays/production"])
def test_keda_scaled_object_scales_the_worker_deployment_on_rabbitmq(target: str) -> None:
    rendered = documents(target)
    scaled = [d for d in rendered if group_of(d) in KEDA_GROUPS and d["kind"] == "ScaledObject"]
    assert len(scaled) == 1
    so = scaled[0]
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    assert keda_unknown_fields(so) == []
    ref = so["spec"]["scaleTargetRef"]
    deployments = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Deployment"}
    assert ref.get("kind", "Deployment") == "Deployment" and ref["name"] in deployments
    worker_args = deployments[ref["name"]]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert worker_args[0] == "worker"
    bounds = (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"])
    if target == "overlays/production":
        assert bounds == (5, 20)  # the seed's 5-20 workers
    assert 1 <= bounds[0] <= bounds[1]
    assert {t["type"] for t in so["spec"]["triggers"]} == {"rabbitmq"}
    other_kinds = {d["kind"] for d in rendered if group_of(d) in KEDA_GROUPS}
    assert other_kinds <= {"ScaledObject", "TriggerAuthentication"}


def test_keda_structural_check_refuses_a_misspelled_field() -> None:
    so = next(d for _t, d in all_documents() if d["kind"] == "ScaledObject")
    bad = copy.deepcopy(so)
    bad["spec"]["maxReplicas"] = 20
    assert keda_unknown_fields(so) == []
    assert keda_unknown_fields(bad) == ["spec.maxReplicas"]


# --- The CI workflow ---------------------------------------------------------------------


def check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ci_workflow_passes_the_github_workflow_schema() -> None:
    assert WORKFLOW.exists(), f"{WORKFLOW.relative_to(REPO)} is missing"
    result = check_workflow(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_schema_refuses_a_misspelled_key(tmp_path: Path) -> None:
    text = WORKFLOW.read_text()
    assert "runs-on:" in text
    bad = tmp_path / "ci.yml"
    bad.write_text(text.replace("runs-on:", "runs_on:", 1))
    assert check_workflow(bad).returncode == 1
