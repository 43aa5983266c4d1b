"""The shadow pipeline against a real ``seriesguard serve``: the challenger scores every
request unseen, its verdict is recorded, and a passed shadow goes on as a canary."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.rollout_helpers import (
    ROLLOUT_ENV,
    Traffic,
    champion_and_challenger,
    promotion,
    wait_for_routes,
    wait_for_state,
)

pytestmark = pytest.mark.e2e
SERIES = "fan-3-radial"
REQUESTS = 600
SHADOW_SECONDS = 12.0


def _per_version(http: httpx.Client) -> dict[str, int]:
    metrics: dict[str, Any] = http.get(
        f"/api/v1/models/{SERIES}/metrics", params={"window": "24h"}
    ).json()
    return {f"v{row['version']}": int(row["requests"]) for row in metrics["versions"]}


def test_a_shadow_scores_every_request_unseen_then_goes_on_as_a_canary(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**ROLLOUT_ENV)
    with server.client() as http:
        champion, challenger = champion_and_challenger(http, SERIES)
        started = http.post(
            f"/api/v1/models/{SERIES}/versions/{challenger}/promote",
            json={
                "strategy": "shadow",
                "shadow_config": {
                    "duration_hours": SHADOW_SECONDS / 3600,
                    "then": "canary",
                    "canary_config": {"initial_percentage": 20, "increment_interval_hours": 1},
                },
            },
        )
        assert started.status_code == 202, started.text
        body = started.json()
        assert (body["state"], body["current_percentage"]) == ("shadow", 0)
        promotion_id = body["promotion_id"]

        traffic = Traffic(http, SERIES)
        answers = traffic.send(REQUESTS, quiet=False)
        assert {(a.version, a.stage) for a in answers} == {(champion, "production")}
        deadline = time.monotonic() + 15
        while (counts := _per_version(http)) != {champion: REQUESTS, challenger: REQUESTS}:
            assert time.monotonic() < deadline, counts  # both scored the same requests
            time.sleep(0.3)
        assert promotion(http, promotion_id)["state"] == "shadow"  # not before its time

        passed = wait_for_state(
            http, promotion_id, {"canary", "rejected", "rejecting"}, timeout=SHADOW_SECONDS + 20
        )
        assert passed["state"] == "canary", passed
        verdict = passed["last_gate"]
        assert verdict["outcome"] == "pass"
        assert verdict["figures"]["agreement"] == 1.0  # same data, same threshold
        assert verdict["figures"]["requests"] == REQUESTS
        kinds = [e["kind"] for e in passed["events"]]
        assert kinds == ["started", "shadow_passed"]
        assert passed["current_percentage"] == 20
        assert "canary_config" in passed["config"]

        model = wait_for_routes(http, SERIES, shadow=None, canary=challenger, timeout=15)
        assert model["canary_percentage"] == 20
        onward = traffic.send(300)
        canary = sum(a.stage == "canary" for a in onward)
        assert 0 < canary < 300 and all(
            a.version == (challenger if a.stage == "canary" else champion) for a in onward
        )
