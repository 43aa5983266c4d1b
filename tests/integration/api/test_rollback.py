"""Rolling a series back to the version its current production replaced (ml_engineer)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, bearer, trained_version


def _promote(secured: TestClient, token: str, series: str, version: str) -> None:
    answer = secured.post(
        f"/api/v1/models/{series}/versions/{version}/promote", json={}, headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text


def _stages(secured: TestClient, token: str, series: str) -> dict[str, str]:
    detail = secured.get(f"/api/v1/models/{series}", headers=bearer(token)).json()
    return {v["version"]: v["stage"] for v in detail["versions"]}


def _predicted_version(secured: TestClient, token: str, series: str) -> str:
    answer = secured.post(
        f"/api/v1/predict/{series}", json={"timestamp": 1, "value": 10.0}, headers=bearer(token)
    )
    return str(answer.json()["model_info"]["version"])


def test_rollback_restores_the_replaced_version_and_is_audited(
    secured: TestClient, keys: Keys
) -> None:
    eve, admin = keys.token("eve", "ml_engineer"), keys.token("root", "admin")
    first = trained_version(secured, eve, "s1", level=10)
    _promote(secured, eve, "s1", first)
    second = trained_version(secured, eve, "s1", level=20)
    _promote(secured, eve, "s1", second)
    assert _predicted_version(secured, eve, "s1") == second

    answer = secured.post("/api/v1/models/s1/rollback", json={}, headers=bearer(eve))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "version": first,
        "stage": "Production",
        "previous_version": second,
        "archived": True,
    }
    assert _stages(secured, eve, "s1") == {first: "Production", second: "Archived"}
    assert _predicted_version(secured, eve, "s1") == first  # the predictor serves it at once

    events = secured.get("/api/v1/admin/audit?action=rollback", headers=bearer(admin)).json()
    (event,) = events["items"]
    assert (event["subject"], event["series_id"], event["version"]) == ("eve", "s1", first)
    assert event["details"]["previous_version"] == int(second.lstrip("v"))


def test_rollback_to_a_named_version_and_the_refusals(secured: TestClient, keys: Keys) -> None:
    eve = keys.token("eve", "ml_engineer")
    scientist = keys.token("dana", "data_scientist")
    nothing = secured.post("/api/v1/models/s2/rollback", json={}, headers=bearer(eve))
    assert nothing.status_code == 404  # no versions at all

    versions = [trained_version(secured, eve, "s2", level=level) for level in (10, 20, 30)]
    for version in versions:
        _promote(secured, eve, "s2", version)
    # v1 and v2 are archived; v3 serves. Back to v1 by name:
    named = secured.post(
        "/api/v1/models/s2/rollback", json={"to_version": versions[0]}, headers=bearer(eve)
    )
    assert named.status_code == 200, named.text
    assert _stages(secured, eve, "s2")[versions[0]] == "Production"

    same = secured.post(
        "/api/v1/models/s2/rollback", json={"to_version": versions[0]}, headers=bearer(eve)
    )
    assert same.status_code == 409
    assert same.json()["error"]["code"] == "already_in_production"
    forbidden = secured.post("/api/v1/models/s2/rollback", json={}, headers=bearer(scientist))
    assert forbidden.status_code == 403
    bad = secured.post("/api/v1/models/s2/rollback", json={"to_version": "v0"}, headers=bearer(eve))
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == ["body", "to_version"]


def test_nothing_to_roll_back_to(secured: TestClient, keys: Keys) -> None:
    eve = keys.token("eve", "ml_engineer")
    only = trained_version(secured, eve, "s3", level=10)
    _promote(secured, eve, "s3", only)
    answer = secured.post("/api/v1/models/s3/rollback", json={}, headers=bearer(eve))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "nothing_to_roll_back_to"
