"""The rendered manifests agree with the code: env vars are settings the app reads, ports and
probe paths are the ones each process serves, every container runs a real `seriesguard`
subcommand from the image's entrypoint, and the Istio AuthorizationPolicy gives each route of
each process exactly the roles core/authz.py gives it (public routes: no token)."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow.environment_variables
import pytest
import typer
from fastapi import FastAPI

from seriesguard.api.app import create_app
from seriesguard.api.security import api_routes, route_permission
from seriesguard.cli import app as cli_app
from seriesguard.core.authz import GRANTS, Permission, Role
from seriesguard.runtime import Role as ProcessRole
from seriesguard.runtime import build_runtime
from seriesguard.settings import SECRET_FILE_SETTINGS, Settings
from tests.deploy.k8s import (
    DOCKERFILE,
    K8S,
    REPO,
    TARGETS,
    all_documents,
    containers,
    documents,
    ident,
    pod_labels,
    runs_seriesguard,
)

APP_TARGETS = ("overlays/staging", "overlays/production")
# The server subcommands and the process roles each runs (cli_server.py).
SERVER_ROLES: dict[str, frozenset[ProcessRole]] = {
    "api": frozenset({ProcessRole.API}),
    "predictor": frozenset({ProcessRole.PREDICTOR}),
    "worker": frozenset({ProcessRole.WORKER}),
    "scheduler": frozenset({ProcessRole.SCHEDULER}),
    "serve": frozenset({ProcessRole.API, ProcessRole.PREDICTOR, ProcessRole.WORKER}),
}
GEN_AUTHZ = K8S / "tools" / "gen_authz.py"


# --- What the code offers -----------------------------------------------------------------


# Typer >= 0.2x carries its own copy of click: commands are told apart by duck typing.
@functools.cache
def cli() -> Any:
    command = typer.main.get_command(cli_app)
    assert _is_group(command)
    return command


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def subcommand(args: list[str]) -> Any | None:
    """The click command `seriesguard ARGS...` runs (``db upgrade`` included)."""
    command = cli()
    for word in args:
        if word.startswith("-") or not _is_group(command):
            break
        found = command.commands.get(word)
        if found is None:
            return None
        command = found
    return None if command is cli() else command


def option_envvars() -> set[str]:
    """Variables the command-line options read themselves (SERIESGUARD_PORT...)."""
    found: set[str] = set()
    stack = [cli()]
    while stack:
        command = stack.pop()
        if _is_group(command):
            stack.extend(command.commands.values())
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            found |= {envvar} if isinstance(envvar, str) else set(envvar or ())
    return found


@functools.cache
def app_env_names() -> frozenset[str]:
    """Every variable a seriesguard process reads: the settings (their aliases, or
    SERIESGUARD_<FIELD>), the *_FILE secrets, the options' own, and MLflow's."""
    names = set(option_envvars())
    for name, field in Settings.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None)
        names |= {str(c) for c in choices} if choices else {f"SERIESGUARD_{name.upper()}"}
    names |= {f"SERIESGUARD_{name.upper()}_FILE" for name in SECRET_FILE_SETTINGS}
    mlflow_names = {
        value.name
        for value in vars(mlflow.environment_variables).values()
        if isinstance(getattr(value, "name", None), str) and value.name.startswith("MLFLOW_")
    }
    # The app passes registry_uri = tracking URI itself, so MLflow never reads this one.
    return frozenset(names | (mlflow_names - {"MLFLOW_REGISTRY_URI"}))


@functools.cache
def app_of(subcommand_name: str) -> FastAPI:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), mlflow_tracking_uri="memory://")
        return create_app(build_runtime(settings, roles=SERVER_ROLES[subcommand_name]))


def get_paths(app: FastAPI) -> set[str]:
    """Paths the app answers to GET (a probe's request)."""
    return {r.path for r in api_routes(app) if "GET" in (r.methods or ())}


def default_port(command: Any) -> int:
    port = next(p for p in command.params if p.name == "port")
    assert isinstance(port.default, int)
    return port.default


# --- What the manifests say ---------------------------------------------------------------


def app_containers(
    targets: tuple[str, ...] = TARGETS,
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for target, document in all_documents():
        if target not in targets:
            continue
        for container in containers(document):
            if runs_seriesguard(container):
                yield target, document, container


def seriesguard_args(container: dict[str, Any]) -> list[str]:
    """The words after the entrypoint: `args`, or `command` when it names seriesguard."""
    command = [str(c) for c in container.get("command") or []]
    return command[1:] + [str(a) for a in container.get("args") or []]


def config_maps(target: str) -> dict[str, dict[str, str]]:
    return {
        d["metadata"]["name"]: dict(d.get("data") or {})
        for d in documents(target)
        if d["kind"] == "ConfigMap"
    }


def environment(target: str, container: dict[str, Any]) -> dict[str, str | None]:
    """Variables set on a container: ConfigMaps of envFrom (rendered in the same target),
    then env (None for values taken from a Secret or a field)."""
    found: dict[str, str | None] = {}
    maps = config_maps(target)
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref is not None and ref["name"] in maps:
            prefix = source.get("prefix", "")
            found.update({prefix + k: v for k, v in maps[ref["name"]].items()})
        elif ref is not None and not ref.get("optional"):
            pytest.fail(f"{target}: envFrom names ConfigMap {ref['name']}, which is not rendered")
    for variable in container.get("env") or []:
        found[variable["name"]] = variable.get("value")
    return found


def listening_port(target: str, container: dict[str, Any]) -> int:
    words = seriesguard_args(container)
    command = subcommand(words)
    assert command is not None
    for i, word in enumerate(words):
        if word == "--port":
            return int(words[i + 1])
        if word.startswith("--port="):
            return int(word.split("=", 1)[1])
    env = environment(target, container)
    return int(env["SERIESGUARD_PORT"] or 0) if "SERIESGUARD_PORT" in env else default_port(command)


# --- Entrypoints --------------------------------------------------------------------------


def test_the_image_entrypoint_is_the_seriesguard_console_script() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["seriesguard"] == "seriesguard.cli:main"
    entrypoints = re.findall(r"^ENTRYPOINT\s+(.+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert entrypoints, "the Dockerfile has no ENTRYPOINT"
    assert json.loads(entrypoints[-1]) == ["seriesguard"]


def test_every_app_container_runs_a_real_subcommand() -> None:
    found = list(app_containers())
    assert found, "no container runs the seriesguard image"
    wrong = [
        f"{ident(t, d)} {c['name']}: seriesguard {' '.join(seriesguard_args(c))}"
        for t, d, c in found
        if subcommand(seriesguard_args(c)) is None
    ]
    assert wrong == []
    roles = {seriesguard_args(c)[0] for t, d, c in found if t in APP_TARGETS}
    assert {"api", "predictor", "worker", "scheduler"} <= roles


def test_subcommand_lookup_refuses_an_unknown_command() -> None:
    assert subcommand(["predictor", "--port", "1"]) is not None
    assert subcommand(["db", "upgrade"]) is not None
    assert subcommand(["predict0r"]) is None
    assert subcommand([]) is None


# --- Environment --------------------------------------------------------------------------


def test_every_variable_set_on_the_app_is_a_setting_it_reads() -> None:
    known = app_env_names()
    unknown = []
    for target, document, container in app_containers():
        env = environment(target, container)
        for name, value in env.items():
            checked = name.startswith(("SERIESGUARD_", "MLFLOW_")) or name in known
            if name == "MLFLOW_REGISTRY_URI" and value == env.get("MLFLOW_TRACKING_URI"):
                continue  # harmless: what the app uses anyway
            if checked and name not in known:
                unknown.append(f"{ident(target, document)} {container['name']}: {name}")
    assert unknown == []


def test_the_seed_settings_are_set_on_the_predictor() -> None:
    for target in APP_TARGETS:
        predictors = [
            (d, c) for t, d, c in app_containers((target,)) if seriesguard_args(c)[0] == "predictor"
        ]
        assert predictors, f"{target}: no predictor"
        for _document, container in predictors:
            env = environment(target, container)
            assert {"MLFLOW_TRACKING_URI", "CACHE_SIZE", "FALLBACK_ENABLED"} <= set(env)


def test_known_names_come_from_the_settings() -> None:
    known = app_env_names()
    assert {
        "SERIESGUARD_DATABASE_URL",
        "CACHE_SIZE",
        "FALLBACK_ENABLED",
        "SERIESGUARD_PORT",
        "MLFLOW_TRACKING_URI",
        "SERIESGUARD_DATABASE_URL_FILE",
    } <= known
    assert "SERIESGUARD_CACHE_SIZ" not in known
    assert "MLFLOW_REGISTRY_URI" not in known


# --- Ports and probes ---------------------------------------------------------------------


def test_ports_and_probe_paths_exist_in_the_app() -> None:
    wrong = []
    for target, document, container in app_containers():
        words = seriesguard_args(container)
        if words[:1] == ["db"]:
            continue  # a migration job serves nothing
        port = listening_port(target, container)
        named = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
        where = f"{ident(target, document)} {container['name']}"
        wrong += [
            f"{where}: containerPort {p} but it listens on {port}"
            for p in named.values()
            if p != port
        ]
        paths = get_paths(app_of(words[0]))
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            http = (container.get(probe) or {}).get("httpGet")
            if http is None:
                continue
            probe_port = named.get(http["port"], http["port"])
            if probe_port != port:
                wrong.append(f"{where}: {probe} on port {http['port']}, it listens on {port}")
            if http["path"].split("?")[0] not in paths:
                wrong.append(f"{where}: {probe} path {http['path']} is not served by {words[0]}")
    assert wrong == []


# Knative's queue-proxy (http, h2c) fronts the container of a serverless InferenceService.
QUEUE_PROXY_PORTS = frozenset({8012, 8013})


def test_services_send_traffic_to_the_port_the_pods_listen_on() -> None:
    wrong = []
    for target in APP_TARGETS:
        pods = [(pod_labels(d), c, d) for t, d, c in app_containers((target,))]
        for service in (d for d in documents(target) if d["kind"] == "Service"):
            selector = (service.get("spec") or {}).get("selector") or {}
            chosen = [
                (c, d) for labels, c, d in pods if selector and selector.items() <= labels.items()
            ]
            for container, document in chosen:
                port = listening_port(target, container)
                named = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
                queue = QUEUE_PROXY_PORTS if document["kind"] == "InferenceService" else set()
                for entry in service["spec"].get("ports") or []:
                    target_port = entry.get("targetPort", entry["port"])
                    if named.get(target_port, target_port) not in {port, *queue}:
                        wrong.append(
                            f"{ident(target, service)}: targetPort {target_port} != {port}"
                        )
    assert wrong == []


# --- The AuthorizationPolicy --------------------------------------------------------------


def test_the_policy_file_is_what_gen_authz_writes_today() -> None:
    assert GEN_AUTHZ.exists()
    result = subprocess.run(
        [sys.executable, str(GEN_AUTHZ), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def istio_path_matches(pattern: str, path: str) -> bool:
    """Istio's path match: exact, `prefix*`, `*suffix`, `*`, or a URI template with `{*}`
    (one segment) and `{**}` (the rest)."""
    if pattern == "*":
        return True
    if "{*}" in pattern or "{**}" in pattern:
        regex = "".join(
            "[^/]+" if part == "{*}" else ".+" if part == "{**}" else re.escape(part)
            for part in re.split(r"(\{\*\*?\})", pattern)
        )
        return re.fullmatch(regex, path) is not None
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return pattern == path


def _claim_values(rule_when: list[dict[str, Any]], claim_key: str, roles: set[str] | None) -> bool:
    for condition in rule_when:
        key = condition["key"]
        if key != claim_key:
            pytest.fail(f"condition on {key}: the check only understands {claim_key}")
        if roles is None:
            return False
        values = set(condition.get("values") or [])
        not_values = set(condition.get("notValues") or [])
        if values and not roles & values:
            return False
        if roles & not_values:
            return False
    return True


def rule_allows(
    rule: dict[str, Any], method: str, path: str, roles: set[str] | None, claim_key: str
) -> bool:
    """Whether one ALLOW rule matches a request from the ingress gateway: ``roles`` None is a
    request without a token."""
    for source in (s.get("source") or {} for s in rule.get("from") or []):
        unknown = set(source) - {"requestPrincipals", "notRequestPrincipals"}
        if unknown:
            pytest.fail(f"source fields {unknown}: the check does not model them")
    sources = [s.get("source") or {} for s in rule.get("from") or []]
    if sources and not any(_source_matches(s, roles) for s in sources):
        return False
    operations = [t.get("operation") or {} for t in rule.get("to") or []]
    if operations and not any(_operation_matches(o, method, path) for o in operations):
        return False
    return _claim_values(rule.get("when") or [], claim_key, roles)


def _source_matches(source: dict[str, Any], roles: set[str] | None) -> bool:
    if "requestPrincipals" in source and roles is None:
        return False
    return not ("notRequestPrincipals" in source and roles is not None)


def _operation_matches(operation: dict[str, Any], method: str, path: str) -> bool:
    unknown = set(operation) - {"methods", "notMethods", "paths", "notPaths"}
    if unknown:
        pytest.fail(f"operation fields {unknown}: the check does not model them")
    if "methods" in operation and method not in operation["methods"]:
        return False
    if method in operation.get("notMethods", []):
        return False
    if "paths" in operation and not any(istio_path_matches(p, path) for p in operation["paths"]):
        return False
    return not any(istio_path_matches(p, path) for p in operation.get("notPaths", []))


def allowed(
    policies: list[dict[str, Any]], method: str, path: str, roles: set[str] | None, claim_key: str
) -> bool:
    """Istio's verdict: any matching DENY refuses; with ALLOW policies, one must match."""

    def matches(policy: dict[str, Any]) -> bool:
        rules = policy["spec"].get("rules") or []
        return any(rule_allows(r, method, path, roles, claim_key) for r in rules)

    by_action: dict[str, list[dict[str, Any]]] = {}
    for policy in policies:
        by_action.setdefault(policy["spec"].get("action", "ALLOW"), []).append(policy)
    assert set(by_action) <= {"ALLOW", "DENY"}, f"actions {set(by_action)} are not modelled"
    if any(matches(p) for p in by_action.get("DENY", [])):
        return False
    allows = by_action.get("ALLOW", [])
    return not allows or any(matches(p) for p in allows)


def concrete(path: str) -> str:
    """A path the route answers: each `{param}` as a plain segment no literal route uses."""
    return re.sub(r"\{[^}]+\}", "x-1", path)


def claim_key_of(target: str) -> str:
    claims = {
        environment(target, c).get("SERIESGUARD_AUTH_ROLES_CLAIM")
        for _t, _d, c in app_containers((target,))
    }
    claims.discard(None)
    claim = claims.pop() if claims else Settings.model_fields["auth_roles_claim"].default
    assert not claims, f"{target}: processes read roles from different claims"
    return "request.auth.claims" + "".join(f"[{p}]" for p in str(claim).split("."))


def selected(policy: dict[str, Any], labels: dict[str, str], namespace: str) -> bool:
    meta = policy["metadata"]
    if meta.get("namespace") not in (namespace, "istio-system"):
        return False
    match = ((policy["spec"].get("selector") or {}).get("matchLabels")) or {}
    return match.items() <= labels.items()


@pytest.mark.parametrize("target", APP_TARGETS)
def test_authorization_policy_matrix_equals_the_apps(target: str) -> None:
    rendered = documents(target)
    policies = [d for d in rendered if d["kind"] == "AuthorizationPolicy"]
    claim_key = claim_key_of(target)
    callers: list[set[str] | None] = [None, *({role.value} for role in Role)]
    wrong = []
    workloads = 0
    for _t, document, container in app_containers((target,)):
        words = seriesguard_args(container)
        if words[0] not in SERVER_ROLES:
            continue  # `db upgrade` (an init container or a Job) serves nothing
        namespace = document["metadata"]["namespace"]
        mine = [p for p in policies if selected(p, pod_labels(document), namespace)]
        if not mine:
            wrong.append(f"{ident(target, document)}: no AuthorizationPolicy selects its pods")
            continue
        workloads += 1
        for route in api_routes(app_of(words[0])):
            permission = route_permission(route)
            assert permission is not None
            for method in route.methods or ():
                for caller in callers:
                    expect = permission is Permission.PUBLIC or (
                        caller is not None and permission in GRANTS[Role(next(iter(caller)))]
                    )
                    got = allowed(mine, method, concrete(route.path), caller, claim_key)
                    if got != expect:
                        who = "no token" if caller is None else next(iter(caller))
                        wrong.append(
                            f"{words[0]} {method} {route.path} {who}: policy {got}, app {expect}"
                        )
    assert workloads >= 4
    assert wrong == []


def test_the_matrix_check_catches_a_widened_rule() -> None:
    policy = {
        "metadata": {"namespace": "n"},
        "spec": {
            "action": "ALLOW",
            "rules": [
                {
                    "from": [{"source": {"requestPrincipals": ["*"]}}],
                    "to": [
                        {
                            "operation": {
                                "methods": ["POST"],
                                "paths": ["/api/v1/models/{*}/promote"],
                            }
                        }
                    ],
                    "when": [
                        {"key": "request.auth.claims[roles]", "values": ["ml_engineer", "admin"]}
                    ],
                },
                {"to": [{"operation": {"methods": ["GET"], "paths": ["/health"]}}]},
            ],
        },
    }
    key = "request.auth.claims[roles]"
    assert allowed([policy], "POST", "/api/v1/models/s/promote", {"admin"}, key)
    assert not allowed([policy], "POST", "/api/v1/models/s/promote", {"viewer"}, key)
    assert not allowed([policy], "POST", "/api/v1/models/s/promote", None, key)
    assert not allowed([policy], "POST", "/api/v1/models/a/b/promote", {"admin"}, key)
    assert allowed([policy], "GET", "/health", None, key)
    assert not allowed([policy], "GET", "/metrics", {"admin"}, key)
    assert istio_path_matches("/api/v1/predict/*", "/api/v1/predict/a/b")
    assert istio_path_matches("*/promote", "/x/promote")
