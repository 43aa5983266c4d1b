"""The role matrix, route by route, with real RS256 tokens, over both OpenAPI schemas.

Every operation of the API process and of the predictor process must carry a policy
(``x-permission``); each is then called with no token and with a token of each role, and the
answer must be 401, 403 or "let through" exactly as the matrix in core/authz.py says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import (
    Keys,
    auth_settings,
    bearer,
    unsigned_token,
)

from seriesguard.api.app import create_app
from seriesguard.core.authz import GRANTS, Permission, Role
from seriesguard.runtime import Role as ProcessRole
from seriesguard.runtime import build_runtime

PROCESSES = {
    "api": frozenset({ProcessRole.API, ProcessRole.WORKER}),
    "predictor": frozenset({ProcessRole.PREDICTOR}),
}
PLACEHOLDERS = {
    "series_id": "s1",
    "version": "1",
    "job_id": "no-such-job",
    "run_id": "no-run",
    "promotion_id": "no-promotion",
}
CALLERS = [None, *Role]


@pytest.fixture(scope="module", params=sorted(PROCESSES))
def process(
    request: pytest.FixtureRequest, keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp(request.param)
    runtime = build_runtime(auth_settings(home, keys), roles=PROCESSES[request.param])
    with TestClient(create_app(runtime)) as client:
        yield client


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.get("/openapi.json").json()
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "delete", "patch"}
    ]


def test_every_operation_of_both_schemas_has_a_policy(process: TestClient) -> None:
    found = operations(process)
    assert len(found) >= 4
    missing = [f"{m.upper()} {p}" for m, p, op in found if "x-permission" not in op]
    assert missing == []
    for _method, _path, operation in found:
        permission = Permission(operation["x-permission"])
        if permission is Permission.PUBLIC:
            assert operation["security"] == []
        else:
            assert operation["security"] == [{"bearerAuth": []}]
            assert {"401", "403", "429"} <= set(operation["responses"])


def test_schema_names_the_predictor_and_api_routes(process: TestClient) -> None:
    paths = {path for _m, path, _op in operations(process)}
    assert "/api/v1/liveness" in paths
    assert ("/api/v1/predict/{series_id}" in paths) or ("/api/v1/training/{series_id}" in paths)


def _call(client: TestClient, method: str, path: str, token: str | None) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS[m.group(1)], path)
    headers = bearer(token) if token else {}
    body = {} if method in {"post", "put", "patch"} else None
    return client.request(method.upper(), url, headers=headers, json=body)


def test_role_matrix_route_by_route(process: TestClient, keys: Keys) -> None:
    tokens = {role: keys.token(f"user-{role.value}", role.value) for role in Role}
    checked = 0
    for method, path, operation in operations(process):
        permission = Permission(operation["x-permission"])
        for role in CALLERS:
            answer = _call(process, method, path, tokens[role] if role else None)
            where = f"{method.upper()} {path} as {role}: {answer.status_code} {answer.text[:200]}"
            if permission is Permission.PUBLIC:
                assert answer.status_code not in (401, 403), where
            elif role is None:
                assert answer.status_code == 401, where
                assert answer.json()["error"]["code"] == "missing_token", where
                assert answer.headers["www-authenticate"].startswith("Bearer"), where
            elif permission in GRANTS[role]:
                assert answer.status_code not in (401, 403), where
            else:
                assert answer.status_code == 403, where
                assert answer.json()["error"]["code"] == "forbidden", where
            assert answer.status_code < 500, where
            checked += 1
    assert checked >= 5 * 4


def test_a_token_without_a_known_role_may_only_reach_the_probes(
    process: TestClient, keys: Keys
) -> None:
    token = keys.token("nobody", "operator", "superuser")
    for method, path, operation in operations(process):
        answer = _call(process, method, path, token)
        if operation["x-permission"] == "public":
            assert answer.status_code not in (401, 403)
        else:
            assert answer.status_code == 403, f"{method} {path}"


TOKEN_CASES = {
    "valid": (lambda k: k.token("ana", "viewer"), 200, None),
    "expired": (lambda k: k.token("ana", "viewer", exp=1_000_000_000), 401, "token_expired"),
    "wrong issuer": (
        lambda k: k.token("ana", "viewer", iss="https://evil.test"),
        401,
        "wrong_issuer",
    ),
    "wrong audience": (lambda k: k.token("ana", "viewer", aud="other-api"), 401, "wrong_audience"),
    "wrong key": (
        lambda k: Keys.create(Path(k.public_file.parent / "other")).token("ana", "viewer"),
        401,
        "bad_signature",
    ),
    "alg none": (lambda _k: unsigned_token("ana", "admin"), 401, "algorithm_not_allowed"),
    "HS256 with the RSA public key": (
        lambda k: k.confused_token("ana", "admin"),
        401,
        "algorithm_not_allowed",
    ),
    "1 MB token": (lambda _k: "a" * 1_000_000, 401, "token_too_large"),
    "not a JWT": (lambda _k: "not-a-jwt", 401, "malformed_token"),
    "no subject": (lambda k: k.token(None, "viewer"), 401, "missing_subject"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", sorted(TOKEN_CASES))
def test_each_kind_of_token_gets_its_documented_answer(
    secured: TestClient, keys: Keys, case: str
) -> None:
    make, status, rule = TOKEN_CASES[case]
    answer = secured.get("/api/v1/training/jobs", headers=bearer(make(keys)))
    assert answer.status_code == status, answer.text[:300]
    if rule is not None:
        error = answer.json()["error"]
        assert error["code"] == rule
        assert error["details"][0]["loc"] == ["header", "authorization"]
        assert "invalid_token" in answer.headers["www-authenticate"]


def test_probes_answer_without_a_token_and_other_routes_do_not(secured: TestClient) -> None:
    assert secured.get("/api/v1/liveness").status_code == 200
    assert secured.get("/openapi.json").status_code == 200
    refused = secured.post("/api/v1/predict/s1", json={"timestamp": 1, "value": 1.0})
    assert refused.status_code == 401
    assert secured.get("/api/v1/no-such-route").status_code == 401  # nothing leaks


def _train(client: TestClient, token: str, series: str) -> str:
    values = np.random.default_rng(3).normal(10, 1, 200).tolist()
    answer = client.post(
        f"/api/v1/training/{series}",
        json={"timestamps": list(range(200)), "values": values},
        headers=bearer(token),
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["submitted_by"] == series.split("-")[0]
    return str(answer.json()["job_id"])


def test_data_scientists_cancel_only_their_own_jobs(secured: TestClient, keys: Keys) -> None:
    ana, bob = keys.token("ana", "data_scientist"), keys.token("bob", "data_scientist")
    engineer = keys.token("eve", "ml_engineer")
    ana_job, bob_job = _train(secured, ana, "ana-1"), _train(secured, bob, "bob-1")

    refused = secured.delete(f"/api/v1/training/jobs/{bob_job}", headers=bearer(ana))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_job_owner"

    own = secured.delete(f"/api/v1/training/jobs/{ana_job}", headers=bearer(ana))
    other = secured.delete(f"/api/v1/training/jobs/{bob_job}", headers=bearer(engineer))
    for answer in (own, other):  # cancelled, or 409 if the worker had already finished it
        assert answer.status_code in (200, 409), answer.text


DOCS = Path(__file__).resolve().parents[3] / "docs" / "security.md"


def test_the_documented_route_matrix_is_the_apps(secured: TestClient) -> None:
    text = DOCS.read_text()
    table = text.split("<!-- route-matrix:start -->")[1].split("<!-- route-matrix:end -->")[0]
    documented = {
        (cells[0], cells[1].strip("`"), cells[2], cells[3])
        for line in table.strip().splitlines()[2:]
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    actual = {
        (method.upper(), path, op["x-permission"], op["x-minimum-role"] or "—")
        for method, path, op in operations(secured)
    }
    assert documented == actual
