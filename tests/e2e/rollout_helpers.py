"""What the canary and shadow e2e tests share: a server with short rollout timings, two
versions of one series, and traffic that remembers when each request was sent."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import numpy as np

from tests.e2e.harness import wait_job

# Short timings: the scheduler looks every 0.5 s (its loop ticks every second), the predictor
# flushes its counts every 0.5 s; small training sets.
ROLLOUT_ENV = {
    "SERIESGUARD_PROMOTION_CHECK_SECONDS": "0.5",
    "SERIESGUARD_STATS_FLUSH_SECONDS": "0.5",
    "SERIESGUARD_MIN_TRAINING_POINTS": "500",
    "SERIESGUARD_CANARY_MIN_REQUESTS": "100",
    "SERIESGUARD_SHADOW_MIN_REQUESTS": "300",
}
TRAINING_POINTS = 2000
FIRST_TIMESTAMP = 1_900_000_000


def train(http: httpx.Client, series: str, *, sigma: float, seed: int = 7) -> str:
    """A version fitted on N(0, 1) values (the same for every call with the same seed)."""
    values = np.random.default_rng(seed).normal(0.0, 1.0, TRAINING_POINTS).tolist()
    timestamps = (1_700_000_000 + 60 * np.arange(TRAINING_POINTS)).tolist()
    answer = http.post(
        f"/api/v1/training/{series}",
        json={
            "timestamps": timestamps,
            "values": values,
            "config": {"algorithm": "statistical", "hyperparameters": {"threshold_sigma": sigma}},
        },
    )
    assert answer.status_code == 202, answer.text
    done = wait_job(http, answer.json()["job_id"])
    assert done["status"] == "completed", done
    return str(done["model_version"])


def champion_and_challenger(
    http: httpx.Client, series: str, *, challenger_sigma: float = 3.0
) -> tuple[str, str]:
    champion = train(http, series, sigma=3.0)
    promoted = http.post(f"/api/v1/models/{series}/versions/{champion}/promote", json={})
    assert promoted.status_code == 200, promoted.text
    return champion, train(http, series, sigma=challenger_sigma)


@dataclass(frozen=True)
class Answer:
    sent_at: float  # wall clock before sending
    version: str
    stage: str
    anomaly: bool


class Traffic:
    """Single predicts of one series with distinct timestamps (the canary split hashes the
    series and the timestamp), each answer kept with the moment it was sent."""

    def __init__(self, http: httpx.Client, series: str, *, seed: int = 11) -> None:
        self._http = http
        self._series = series
        self._rng = np.random.default_rng(seed)
        self._next = FIRST_TIMESTAMP
        self.answers: list[Answer] = []

    def send(self, count: int, *, quiet: bool = True) -> list[Answer]:
        """``quiet``: values well inside the training range (no model flags them);
        otherwise N(0, 1) draws like the training data."""
        sent = []
        for _ in range(count):
            value = float(self._rng.uniform(-1.0, 1.0) if quiet else self._rng.normal(0, 1))
            started = time.time()
            answer = self._http.post(
                f"/api/v1/predict/{self._series}", json={"timestamp": self._next, "value": value}
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            info = body["model_info"]
            sent.append(Answer(started, info["version"], info["stage"], body["anomaly"]))
            self._next += 1
        self.answers.extend(sent)
        return sent


def promotion(http: httpx.Client, promotion_id: str) -> dict[str, Any]:
    answer = http.get(f"/api/v1/promotions/{promotion_id}")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def wait_for_state(
    http: httpx.Client, promotion_id: str, states: set[str], *, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = promotion(http, promotion_id)
        if current["state"] in states:
            return current
        assert time.monotonic() < deadline, f"still {current['state']}: {current}"
        time.sleep(0.2)


def wait_for_routes(
    http: httpx.Client, series_id: str, *, shadow: str | None, canary: str | None, timeout: float
) -> dict[str, Any]:
    """The series once its shadow and canary routes are these: a promotion's state is saved
    before its routes are moved (the catalog last, retried on the next tick)."""
    deadline = time.monotonic() + timeout
    while True:
        model: dict[str, Any] = http.get(f"/api/v1/models/{series_id}").json()
        routes = (model["shadow_version"], model["canary_version"])
        if routes == (shadow, canary):
            return model
        assert time.monotonic() < deadline, f"routes still {routes}"
        time.sleep(0.2)
