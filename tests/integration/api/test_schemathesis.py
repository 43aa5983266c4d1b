"""schemathesis against both OpenAPI schemas (the API process and the predictor), with a real
admin token, through every layer the server runs (security, body limit, fast predict).

Bounded: a few examples per operation, so the whole module stays well under a minute. The
checks are the ones this project promises: no 5xx for any input, and every answer, errors
included, matches the schema it documents (content type, status, body).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from tests.integration.api.auth_fixtures import Keys, auth_settings, bearer, trained_version

from seriesguard.api.app import serving_app
from seriesguard.api.batch_schemas import ARROW_MEDIA_TYPE
from seriesguard.core.authz import Role
from seriesguard.runtime import Role as ProcessRole
from seriesguard.runtime import build_runtime

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.status_code_conformance,
]
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@schemathesis.serializer(ARROW_MEDIA_TYPE)
def _arrow_bytes(_context: object, value: object) -> bytes:
    """Arrow bodies are documented as binary: whatever bytes the fuzzer makes go as they are."""
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture(scope="module")
def admin_token(keys: Keys) -> str:
    return keys.token("fuzzer", Role.ADMIN.value)


def _schema_of(
    roles: frozenset[ProcessRole], home: Path, keys: Keys, token: str
) -> Iterator[schemathesis.BaseSchema]:
    runtime = build_runtime(auth_settings(home, keys), roles=roles)
    app = serving_app(runtime)
    with TestClient(app) as client:  # runs the lifespan: the runtime is started
        if ProcessRole.API in roles:
            _seed_a_production_model(client, token)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def _seed_a_production_model(client: TestClient, token: str) -> None:
    """So that operations on an existing series reach their happy path too."""
    version = trained_version(client, token, "s1")
    client.post(f"/api/v1/models/s1/versions/{version}/promote", json={}, headers=bearer(token))


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, admin_token: str
) -> Iterator[schemathesis.BaseSchema]:
    roles = frozenset({ProcessRole.API, ProcessRole.WORKER})
    yield from _schema_of(roles, tmp_path_factory.mktemp("api"), keys, admin_token)


@pytest.fixture(scope="module")
def predictor_schema(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, admin_token: str
) -> Iterator[schemathesis.BaseSchema]:
    roles = frozenset({ProcessRole.PREDICTOR})
    yield from _schema_of(roles, tmp_path_factory.mktemp("predictor"), keys, admin_token)


def _fuzz(schema: schemathesis.BaseSchema, token: str) -> list[str]:
    """Every operation, valid and invalid inputs; the failures found, one line each.

    Driven by hand rather than by schemathesis' pytest plugin, which this pytest breaks.
    """
    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 3
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @EXAMPLES
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=bearer(token), checks=CHECKS)
                calls.append(1)

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid: an operation without inputs
                continue
            except Exception as exc:
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"{len(calls)} calls over {len(operations)} operations", file=sys.stderr)
    assert len(calls) >= 3 * len(operations)
    return failures


def test_api_schema_holds(api_schema: schemathesis.BaseSchema, admin_token: str) -> None:
    assert _fuzz(api_schema, admin_token) == []


def test_predictor_schema_holds(
    predictor_schema: schemathesis.BaseSchema, admin_token: str
) -> None:
    assert _fuzz(predictor_schema, admin_token) == []
