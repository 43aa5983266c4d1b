"""The audit log through the API, and the per-principal request rate, in process."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, auth_settings, bearer, trained_version

from seriesguard.api.app import create_app
from seriesguard.runtime import build_runtime


def _trained(secured: TestClient, token: str, series: str) -> str:
    """The id of a completed training job of ``series``."""
    trained_version(secured, token, series)
    jobs = secured.get(f"/api/v1/training/jobs?series_id={series}", headers=bearer(token))
    return str(jobs.json()["items"][0]["job_id"])


def test_promotions_reloads_and_cancels_are_on_record(secured: TestClient, keys: Keys) -> None:
    eve, admin = keys.token("eve", "ml_engineer"), keys.token("root", "admin")
    job_id = _trained(secured, eve, "s1")
    headers = {**bearer(eve), "X-Forwarded-For": "10.1.2.3"}
    assert secured.post("/api/v1/models/s1/versions/1/promote", json={}, headers=headers).is_success
    assert secured.post("/api/v1/admin/reload/s1", headers=bearer(eve)).is_success
    refused = secured.delete(f"/api/v1/training/jobs/{job_id}", headers=bearer(eve))
    assert refused.status_code == 409  # finished: a refused action is not recorded

    page = secured.get("/api/v1/admin/audit", headers=bearer(admin)).json()
    actions = [(e["action"], e["series_id"], e["version"]) for e in page["items"]]
    assert actions == [("reload", "s1", None), ("promote", "s1", "v1")]
    promote = page["items"][1]
    assert promote["subject"] == "eve" and promote["roles"] == ["ml_engineer"]
    assert promote["client"] == "testclient"  # the peer address as this server saw it
    assert promote["details"]["forwarded_for"] == "10.1.2.3"
    assert promote["details"]["strategy"] == "direct"
    assert page["next_before_id"] is None


def test_audit_pages_filters_and_admin_only(secured: TestClient, keys: Keys) -> None:
    eve, admin = keys.token("eve", "ml_engineer"), keys.token("root", "admin")
    _trained(secured, eve, "s2")
    secured.post("/api/v1/models/s2/versions/1/promote", json={}, headers=bearer(eve))
    for _ in range(3):
        secured.post("/api/v1/admin/reload/s2", headers=bearer(eve))

    first = secured.get("/api/v1/admin/audit?limit=2", headers=bearer(admin)).json()
    assert len(first["items"]) == 2 and first["next_before_id"] is not None
    rest = secured.get(
        f"/api/v1/admin/audit?limit=10&before_id={first['next_before_id']}", headers=bearer(admin)
    ).json()
    assert [e["action"] for e in first["items"] + rest["items"]] == ["reload"] * 3 + ["promote"]
    only = secured.get("/api/v1/admin/audit?action=promote", headers=bearer(admin)).json()
    assert [e["action"] for e in only["items"]] == ["promote"]

    assert secured.get("/api/v1/admin/audit", headers=bearer(eve)).status_code == 403
    bad = secured.get("/api/v1/admin/audit?series_id=../../etc/passwd", headers=bearer(admin))
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "series_id_pattern"
    assert bad.json()["error"]["details"][0]["loc"] == ["query", "series_id"]


def test_each_principal_has_its_own_request_rate(tmp_path: Path, keys: Keys) -> None:
    settings = auth_settings(tmp_path, keys, rate_limit_per_second=0.5, rate_limit_burst=3)
    ana, bob = keys.token("ana", "viewer"), keys.token("bob", "viewer")
    with TestClient(create_app(build_runtime(settings))) as secured:
        answers = [secured.get("/api/v1/training/jobs", headers=bearer(ana)) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert secured.get("/api/v1/training/jobs", headers=bearer(bob)).status_code == 200
        for _ in range(5):  # the probes are never limited
            assert secured.get("/api/v1/liveness").status_code == 200
