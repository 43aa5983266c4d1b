"""Canary and shadow promotions over HTTP (in-process app, tokens required): start (202),
follow, list, pause, resume, roll back; who may do which; what is audited."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, bearer, trained_version


def _two_versions(client: TestClient, token: str, series: str) -> tuple[str, str]:
    champion = trained_version(client, token, series, level=10)
    promoted = client.post(
        f"/api/v1/models/{series}/versions/{champion}/promote", json={}, headers=bearer(token)
    )
    assert promoted.status_code == 200, promoted.text
    return champion, trained_version(client, token, series, level=11)


def _start(client: TestClient, token: str, series: str, version: str, body: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/models/{series}/versions/{version}/promote", json=body, headers=bearer(token)
    )


def _error(answer: Any) -> tuple[str, list[Any]]:
    detail = answer.json()["error"]["details"][0]
    return str(detail["type"]), list(detail["loc"])


def test_a_canary_starts_with_202_and_is_followed_paused_resumed_and_rolled_back(
    secured: TestClient, keys: Keys
) -> None:
    eve, admin = keys.token("eve", "ml_engineer"), keys.token("root", "admin")
    viewer = keys.token("vic", "viewer")
    champion, challenger = _two_versions(secured, eve, "s1")
    config = {"initial_percentage": 5, "increment_percentage": 15, "increment_interval_hours": 2}

    started = _start(
        secured, eve, "s1", challenger, {"strategy": "canary", "canary_config": config}
    )
    assert started.status_code == 202, started.text
    body = started.json()
    assert {k: body[k] for k in ("series_id", "version", "strategy", "state")} == {
        "series_id": "s1",
        "version": challenger,
        "strategy": "canary",
        "state": "canary",
    }
    assert body["current_percentage"] == 5 and body["champion_version"] == champion
    assert body["next_increment_at"].endswith("+00:00") and body["verdict_at"] is None
    promotion_id = body["promotion_id"]
    assert started.headers["location"] == body["status_url"] == f"/api/v1/promotions/{promotion_id}"

    model = secured.get("/api/v1/models/s1", headers=bearer(viewer)).json()
    assert (model["canary_version"], model["canary_percentage"]) == (challenger, 5)
    assert model["active_promotion_id"] == promotion_id

    shown = secured.get(body["status_url"], headers=bearer(viewer))
    assert shown.status_code == 200
    record = shown.json()
    assert record["config"] == {"canary_config": config}
    assert [e["kind"] for e in record["events"]] == ["started"]
    listed = secured.get("/api/v1/promotions?series_id=s1&active=true", headers=bearer(viewer))
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["events"] is None

    assert secured.post(f"{body['status_url']}/pause", headers=bearer(viewer)).status_code == 403
    paused = secured.post(f"{body['status_url']}/pause", json={}, headers=bearer(eve))
    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    assert paused.json()["paused_from"] == "canary"
    resumed = secured.post(f"{body['status_url']}/resume", headers=bearer(eve))
    assert (resumed.status_code, resumed.json()["state"]) == (200, "canary")

    ended = secured.post(
        f"{body['status_url']}/rollback", json={"reason": "latency"}, headers=bearer(eve)
    )
    assert ended.status_code == 200, ended.text
    assert (ended.json()["state"], ended.json()["reason"]) == ("rolled_back", "latency")
    after = secured.get("/api/v1/models/s1", headers=bearer(viewer)).json()
    stages = {v["version"]: v["stage"] for v in after["versions"]}
    assert stages == {champion: "Production", challenger: "Archived"}
    assert (after["canary_version"], after["active_promotion_id"]) == (None, None)
    again = secured.post(f"{body['status_url']}/rollback", headers=bearer(eve))
    assert (again.status_code, _error(again)[0]) == (409, "promotion_finished")

    audit = secured.get("/api/v1/admin/audit", headers=bearer(admin)).json()["items"]
    operations = [
        (e["action"], e["details"].get("operation") or e["details"].get("strategy"))
        for e in audit
        if e["details"].get("promotion_id") == promotion_id
    ]
    assert operations == [
        ("rollback", "rollback"),
        ("promote", "resume"),
        ("promote", "pause"),
        ("promote", "canary"),
    ]


def test_a_shadow_answers_its_verdict_time_and_holds_the_series(
    secured: TestClient, keys: Keys
) -> None:
    eve = keys.token("eve", "ml_engineer")
    _, challenger = _two_versions(secured, eve, "s2")
    started = _start(
        secured,
        eve,
        "s2",
        challenger,
        {"strategy": "shadow", "shadow_config": {"duration_hours": 48, "then": "canary"}},
    )
    assert started.status_code == 202, started.text
    body = started.json()
    assert (body["state"], body["current_percentage"], body["next_increment_at"]) == (
        "shadow",
        0,
        None,
    )
    assert body["verdict_at"].endswith("+00:00")
    model = secured.get("/api/v1/models/s2", headers=bearer(eve)).json()
    assert (model["shadow_version"], model["canary_version"]) == (challenger, None)

    busy = _start(secured, eve, "s2", challenger, {"strategy": "canary"})
    assert (busy.status_code, _error(busy)[0]) == (409, "promotion_in_progress")
    direct = _start(secured, eve, "s2", challenger, {"strategy": "direct"})
    assert (direct.status_code, _error(direct)[0]) == (409, "promotion_in_progress")
    listed = secured.get("/api/v1/promotions?state=shadow", headers=bearer(eve)).json()
    assert [p["promotion_id"] for p in listed["items"]] == [body["promotion_id"]]


def test_refusals_name_the_rule_and_the_field(secured: TestClient, keys: Keys) -> None:
    eve = keys.token("eve", "ml_engineer")
    dana = keys.token("dana", "data_scientist")
    champion, challenger = _two_versions(secured, eve, "s3")
    cases = [
        (
            {"strategy": "canary", "canary_config": {"increment_interval_hours": 0}},
            422,
            "interval_positive",
            ["body", "canary_config", "increment_interval_hours"],
        ),
        (
            {"strategy": "canary", "canary_config": {"initial_pct": 5}},
            422,
            "unknown_field",
            ["body", "canary_config", "initial_pct"],
        ),
        (
            {"strategy": "shadow", "shadow_config": {"then": "moon"}},
            422,
            "shadow_then",
            ["body", "shadow_config", "then"],
        ),
    ]
    for body, status, rule, loc in cases:
        answer = _start(secured, eve, "s3", challenger, body)
        assert (answer.status_code, *_error(answer)) == (status, rule, loc), answer.text
    production = _start(secured, eve, "s3", champion, {"strategy": "canary"})
    assert (production.status_code, _error(production)[0]) == (409, "version_not_in_staging")
    assert _start(secured, dana, "s3", challenger, {"strategy": "canary"}).status_code == 403
    missing = secured.get("/api/v1/promotions/nope", headers=bearer(eve))
    assert (missing.status_code, _error(missing)[0]) == (404, "promotion_not_found")
    bad_state = secured.get("/api/v1/promotions?state=flying", headers=bearer(eve))
    assert (bad_state.status_code, *_error(bad_state)) == (
        422,
        "promotion_state",
        ["query", "state"],
    )


def test_the_scheduler_task_moves_a_due_canary_over_http_state(
    secured: TestClient, keys: Keys
) -> None:
    """advance_due (the scheduler's task) on the app's own runtime: with no traffic the
    due step waits, and says so."""
    eve = keys.token("eve", "ml_engineer")
    _, challenger = _two_versions(secured, eve, "s4")
    started = _start(
        secured,
        eve,
        "s4",
        challenger,
        {"strategy": "canary", "canary_config": {"increment_interval_hours": 0.0001}},
    )
    promotion_id = started.json()["promotion_id"]
    service = secured.app.state.runtime.promotions  # type: ignore[attr-defined]
    time.sleep(0.5)  # the step (0.36 s) is due
    service.advance_due()
    shown = secured.get(f"/api/v1/promotions/{promotion_id}", headers=bearer(eve)).json()
    assert shown["state"] == "canary" and shown["current_percentage"] == 5
    assert shown["last_gate"]["outcome"] == "wait"
    assert [e["kind"] for e in shown["events"]] == ["started", "waiting"]
