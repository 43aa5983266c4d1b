"""Shared by the tests of deploy/k8s: rendering with `kubectl kustomize`, the documents of a
render, the containers of every workload, and the offline validators' locations.

The Node validator (deploy/k8s/validate/node_modules) and the kserve venv (.venv-kserve) are
installed by `make test-k8s`; without them the tests that need them skip, naming that target,
except when SERIESGUARD_K8S_TOOLING=required (set by `make test-k8s`), where they fail.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
VALIDATE = K8S / "validate"
NODE_VALIDATOR = VALIDATE / "validate.mjs"
NODE_MODULES = VALIDATE / "node_modules"
KSERVE_VALIDATOR = VALIDATE / "kserve_validate.py"
KSERVE_PYTHON = REPO / ".venv-kserve" / "bin" / "python"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"

# Everything a user applies: the two app overlays, the ml-infra stack, the Argo CD apps.
TARGETS = ("overlays/staging", "overlays/production", "infra", "argocd")
# Kubernetes version the core kinds are checked against (kubernetes-validate ships 1.25-1.37).
KUBERNETES_VERSION = "1.32.0"

ISTIO_GROUPS = frozenset(
    {"networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"}
)
ARGO_GROUPS = frozenset({"argoproj.io"})
KSERVE_GROUPS = frozenset({"serving.kserve.io"})
KEDA_GROUPS = frozenset({"keda.sh"})
CRD_GROUPS = ISTIO_GROUPS | ARGO_GROUPS | KSERVE_GROUPS | KEDA_GROUPS
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"})

TOOLING_REQUIRED = os.environ.get("SERIESGUARD_K8S_TOOLING") == "required"


def need(path: Path, what: str) -> None:
    """Skip (or, under `make test-k8s`, fail) when a validator's tooling is not installed."""
    if path.exists():
        return
    message = f"{what} not installed at {path.relative_to(REPO)}: run `make test-k8s`"
    if TOOLING_REQUIRED:
        pytest.fail(message)
    pytest.skip(message)


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        message = "kubectl is not on PATH (it renders the Kustomize trees)"
        if TOOLING_REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    return found


@functools.cache
def render_text(target: str) -> str:
    """`kubectl kustomize deploy/k8s/<target>`; the error text on failure."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize deploy/k8s/{target} failed:\n{result.stderr}")
    return result.stdout


@functools.cache
def _documents(target: str) -> tuple[dict[str, Any], ...]:
    return tuple(d for d in yaml.safe_load_all(render_text(target)) if isinstance(d, dict))


def documents(target: str) -> list[dict[str, Any]]:
    return list(_documents(target))


def all_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for target in TARGETS:
        for document in _documents(target):
            yield target, document


def group_of(document: dict[str, Any]) -> str:
    """The API group ('' for the core group)."""
    api_version = str(document.get("apiVersion", ""))
    return api_version.split("/")[0] if "/" in api_version else ""


def ident(target: str, document: dict[str, Any]) -> str:
    meta = document.get("metadata") or {}
    where = f"{meta.get('namespace', '-')}/{meta.get('name', '?')}"
    return f"{target}: {document.get('apiVersion')} {document.get('kind')} {where}"


def pod_spec(document: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload, or of a KServe predictor (its containers, probes)."""
    kind = document.get("kind")
    spec = document.get("spec") or {}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec")
    if kind in WORKLOAD_KINDS:
        return (spec.get("template") or {}).get("spec")
    if kind == "InferenceService":
        return spec.get("predictor")
    return None


def pod_labels(document: dict[str, Any]) -> dict[str, str]:
    """Labels the workload's pods carry (for a KServe predictor, those it passes on)."""
    spec = document.get("spec") or {}
    if document.get("kind") == "InferenceService":
        predictor = spec.get("predictor") or {}
        labels = dict((document.get("metadata") or {}).get("labels") or {})
        labels.update(predictor.get("labels") or {})
        return labels
    template = spec.get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(document) or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def runs_seriesguard(container: dict[str, Any]) -> bool:
    """A container running `seriesguard ...`: the image's entrypoint, or a command naming it
    (not PostgreSQL, RabbitMQ, nor `mlflow server` run from the same image)."""
    command = [str(c) for c in container.get("command") or []]
    if command:
        return command[0] == "seriesguard"
    repository = str(container.get("image", "")).split("@")[0]
    head, _, last = repository.rpartition("/")
    return "seriesguard" in f"{head}/{last.split(':')[0]}"  # without the tag
