"""Seed flow 3 against a real ``seriesguard serve``: a canary walks 5 -> 20 -> ... -> 100 % of
a series' traffic and becomes Production; a canary that flags far more anomalies than
production is rolled back by the gate, and the alert reaches a webhook."""

from __future__ import annotations

import time

import pytest

from tests.e2e.rollout_helpers import (
    ROLLOUT_ENV,
    Answer,
    Traffic,
    champion_and_challenger,
    epoch,
    promotion,
    wait_for_state,
)
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e
SERIES = "pump-7-x"
MIN_PER_STEP = 2000
TOLERANCE = 3.0  # percentage points
MARGIN = 0.3  # seconds around a step change whose answers are not attributed to a step


def _steps(document: dict[str, object]) -> list[tuple[float, float, float]]:
    """(percentage, from, until) of each canary step, from the promotion's events."""
    events = document["events"]
    assert isinstance(events, list)
    changes = [
        (float(e["percentage"]), epoch(e["at"]))
        for e in events
        if e["kind"] in ("started", "step_passed")
    ]
    end = next(epoch(e["at"]) for e in events if e["kind"] == "completing")
    bounds = [at for _, at in changes[1:]] + [end]
    return [(pct, at, until) for (pct, at), until in zip(changes, bounds, strict=True)]


def _share(answers: list[Answer], since: float, until: float) -> tuple[int, float]:
    inside = [a for a in answers if since + MARGIN <= a.sent_at <= until - MARGIN]
    canary = sum(a.stage == "canary" for a in inside)
    return len(inside), (100.0 * canary / len(inside) if inside else 0.0)


def test_a_canary_walks_every_step_with_its_share_and_becomes_production(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(**ROLLOUT_ENV)
    with server.client() as http:
        champion, challenger = champion_and_challenger(http, SERIES)
        traffic = Traffic(http, SERIES)
        warm = time.monotonic()
        traffic.send(400)
        rate = 400 / (time.monotonic() - warm)
        # Each step lasts long enough for about twice the requests it is measured on (the
        # rate varies on a shared machine; a step is also a little longer than its interval).
        interval = max(4.0, 2.0 * MIN_PER_STEP / rate)
        started = http.post(
            f"/api/v1/models/{SERIES}/versions/{challenger}/promote",
            json={
                "strategy": "canary",
                "canary_config": {
                    "initial_percentage": 5,
                    "increment_percentage": 15,
                    "increment_interval_hours": interval / 3600,
                },
            },
        )
        assert started.status_code == 202, started.text
        promotion_id = started.json()["promotion_id"]
        deadline = time.monotonic() + 80
        while promotion(http, promotion_id)["state"] not in ("completed", "rolled_back"):
            assert time.monotonic() < deadline, promotion(http, promotion_id)
            traffic.send(200)
        final = wait_for_state(http, promotion_id, {"completed"}, timeout=5)

        steps = _steps(final)
        assert [pct for pct, _, _ in steps] == [5, 20, 35, 50, 65, 80, 95, 100]
        for pct, since, until in steps:
            count, share = _share(traffic.answers, since, until)
            assert count >= MIN_PER_STEP, (pct, count, rate)
            assert abs(share - pct) <= TOLERANCE, (pct, share, count)
        model = http.get(f"/api/v1/models/{SERIES}").json()
        stages = {v["version"]: v["stage"] for v in model["versions"]}
        assert stages == {champion: "Archived", challenger: "Production"}
        assert (model["canary_version"], model["active_promotion_id"]) == (None, None)
        (after,) = traffic.send(1)
        assert (after.version, after.stage) == (challenger, "production")


def test_a_canary_flagging_far_more_anomalies_is_rolled_back_with_an_alert(make_server) -> None:  # type: ignore[no-untyped-def]
    with WebhookReceiver() as receiver:
        server = make_server(**ROLLOUT_ENV, SERIESGUARD_ALERT_WEBHOOK_URL=receiver.url)
        with server.client() as http:
            # the same data, a lower threshold: ~1.2 % of N(0, 1) flagged against ~0.27 %
            champion, challenger = champion_and_challenger(http, SERIES, challenger_sigma=2.5)
            started = http.post(
                f"/api/v1/models/{SERIES}/versions/{challenger}/promote",
                json={
                    "strategy": "canary",
                    "canary_config": {"initial_percentage": 50, "increment_interval_hours": 1},
                },
            )
            assert started.status_code == 202, started.text
            promotion_id = started.json()["promotion_id"]
            traffic = Traffic(http, SERIES)
            deadline = time.monotonic() + 60
            while promotion(http, promotion_id)["state"] in ("canary", "rolling_back"):
                assert time.monotonic() < deadline, promotion(http, promotion_id)
                traffic.send(250, quiet=False)
            ended = promotion(http, promotion_id)

            assert ended["state"] == "rolled_back", ended
            assert "anomaly rate" in ended["reason"], ended["reason"]
            gate = ended["last_gate"]
            assert gate["outcome"] == "fail" and "anomaly_deviation" in gate["checks_failed"]
            assert gate["figures"]["anomaly_rate"] > gate["figures"]["champion_anomaly_rate"]
            assert [e["kind"] for e in ended["events"]][-2:] == ["gate_failed", "rolled_back"]
            model = http.get(f"/api/v1/models/{SERIES}").json()
            stages = {v["version"]: v["stage"] for v in model["versions"]}
            assert stages == {champion: "Production", challenger: "Archived"}
            (after,) = traffic.send(1)
            assert (after.version, after.stage) == (champion, "production")

            alert = receiver.wait_for(
                lambda body: body["seriesguard"]["kind"] == "canary_rolled_back", timeout=15
            )
            assert alert["seriesguard"]["severity"] == "error"
            assert alert["seriesguard"]["series_id"] == SERIES
            assert "anomaly rate" in alert["text"]
            assert alert["seriesguard"]["details"]["promotion_id"] == promotion_id
