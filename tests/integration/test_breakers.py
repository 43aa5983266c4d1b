"""Circuit breakers in the adapters, against real endpoints: a port nobody listens on, and
moto's S3 server with a bucket that appears later. The breaker's clock is a fake, so the tests
decide when the reset period is over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.services import TEST_CREDENTIALS, MotoS3, free_port

from seriesguard.core.breaker import BreakerState, CircuitBreaker
from seriesguard.core.validation import TrainingData, parse_timestamps
from seriesguard.registry.base import RegistryUnavailable
from seriesguard.registry.mlflow_registry import MlflowRegistry
from seriesguard.training.data import DataStoreUnavailable, TrainingDataNotFound
from seriesguard.training.s3_data import S3DataStore

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def data() -> TrainingData:
    import numpy as np

    return TrainingData(
        timestamps=parse_timestamps(list(range(10))), values=np.arange(10, dtype=float)
    )


def test_mlflow_breaker_opens_on_a_dead_server_and_then_refuses_without_calling() -> None:
    clock = Clock()
    breaker = CircuitBreaker("mlflow", clock=clock, failure_threshold=2, reset_seconds=30)
    dead = f"http://127.0.0.1:{free_port()}"
    registry = MlflowRegistry(
        tracking_uri=dead, artifact_root="", experiment_name="x", breaker=breaker
    )
    for _ in range(2):
        with pytest.raises(RegistryUnavailable) as raised:
            registry.get_version(series_id="s", version=1)
        assert "not asked" not in raised.value.message  # it did try
    assert breaker.snapshot().state is BreakerState.OPEN
    with pytest.raises(RegistryUnavailable) as raised:
        registry.list_versions(series_id="s")
    assert "not asked to list the versions" in raised.value.message
    assert "circuit breaker for mlflow is open" in raised.value.message
    assert raised.value.rule == "registry_unavailable"
    clock.now += 30
    assert breaker.snapshot().state is BreakerState.HALF_OPEN
    with pytest.raises(RegistryUnavailable) as raised:  # the trial goes out and fails
        registry.get_version(series_id="s", version=1)
    assert "not asked" not in raised.value.message
    assert breaker.snapshot().state is BreakerState.OPEN
    assert breaker.snapshot().opened_count == 2


@pytest.fixture()
def moto() -> Iterator[MotoS3]:
    with MotoS3() as server:
        yield server


def store_on(server: MotoS3, bucket: str, breaker: CircuitBreaker) -> S3DataStore:
    return S3DataStore(f"s3://{bucket}/data", endpoint_url=server.endpoint_url, breaker=breaker)


def test_s3_breaker_opens_then_closes_once_s3_works_again(
    moto: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    clock = Clock()
    breaker = CircuitBreaker("s3", clock=clock, failure_threshold=2, reset_seconds=10)
    store = store_on(moto, "late-bucket", breaker)
    for _ in range(2):
        with pytest.raises(DataStoreUnavailable, match="bucket does not exist"):
            store.save(job_id="j1", data=data())
    with pytest.raises(DataStoreUnavailable, match="not asked to write"):
        store.save(job_id="j1", data=data())
    moto.create_bucket("late-bucket")
    with pytest.raises(DataStoreUnavailable, match="not asked"):
        store.save(job_id="j1", data=data())  # still open: no call until the period is over
    clock.now += 10
    ref = store.save(job_id="j1", data=data())  # the trial succeeds
    assert breaker.snapshot().state is BreakerState.CLOSED
    assert store.load(ref).values.tolist() == list(range(10))


def test_s3_missing_object_is_an_answer_not_an_outage(
    moto: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    moto.create_bucket("present")
    breaker = CircuitBreaker("s3", clock=Clock(), failure_threshold=1, reset_seconds=10)
    store = store_on(moto, "present", breaker)
    for _ in range(3):
        with pytest.raises(TrainingDataNotFound):
            store.load("s3://present/data/missing.npz")
    assert breaker.snapshot().state is BreakerState.CLOSED
