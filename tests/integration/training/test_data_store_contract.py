"""One contract for every TrainingDataStore (a folder, S3 on moto's server), plus how the S3
store fails when S3 is down, hangs or answers 5xx: always ``DataStoreUnavailable``, quickly.

The moto server is shared by the module (it starts in about a second); every test uses its own
job ids, so tests stay independent.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from tests.services import TEST_CREDENTIALS, MotoS3

from seriesguard.core.validation import TrainingData
from seriesguard.training.data import (
    DataStoreUnavailable,
    LocalDataStore,
    TrainingDataNotFound,
    TrainingDataStore,
)
from seriesguard.training.data_factory import create_data_store
from seriesguard.training.s3_data import S3DataStore

pytestmark = pytest.mark.integration

BUCKET = "seriesguard-data"
PREFIX = "training/jobs"
FAIL_FAST_SECONDS = 15  # a bound on "fails fast", not a performance figure


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    with MotoS3() as server, pytest.MonkeyPatch.context() as patch:
        for name, value in TEST_CREDENTIALS.items():
            patch.setenv(name, value)
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture()
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TrainingDataStore:
    if request.param == "local":
        return LocalDataStore(tmp_path / "data")
    server: MotoS3 = request.getfixturevalue("moto")
    return S3DataStore(f"s3://{BUCKET}/{PREFIX}", endpoint_url=server.endpoint_url)


def job() -> str:
    return str(uuid.uuid4())


def sample(n: int = 1000, seed: int = 0) -> TrainingData:
    """Values no text format keeps exactly: subnormals, -0.0, huge and tiny magnitudes."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 1.0, n) * 10.0 ** rng.integers(-300, 300, n)
    values[:4] = [5e-324, -0.0, np.finfo(np.float64).max, 0.1 + 0.2]
    timestamps = 1.7e9 + np.cumsum(rng.uniform(0.001, 60.0, n))
    return TrainingData(timestamps=timestamps, values=values)


def assert_bit_equal(loaded: TrainingData, data: TrainingData) -> None:
    for got, want in ((loaded.timestamps, data.timestamps), (loaded.values, data.values)):
        assert got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


# -- the contract ---------------------------------------------------------------------------


def test_round_trip_is_bit_exact(store: TrainingDataStore) -> None:
    first, second = sample(seed=1), sample(n=10, seed=2)
    ref_1 = store.save(job_id=job(), data=first)
    ref_2 = store.save(job_id=job(), data=second)
    assert isinstance(ref_1, str) and ref_1 != ref_2
    assert_bit_equal(store.load(ref_1), first)
    assert_bit_equal(store.load(ref_2), second)


def test_saving_a_job_again_replaces_its_data(store: TrainingDataStore) -> None:
    job_id = job()
    ref = store.save(job_id=job_id, data=sample(seed=1))
    assert store.save(job_id=job_id, data=sample(seed=3)) == ref  # a retried submit
    assert_bit_equal(store.load(ref), sample(seed=3))


def test_delete_is_final_and_idempotent(store: TrainingDataStore) -> None:
    keep = store.save(job_id=job(), data=sample(seed=1))
    ref = store.save(job_id=job(), data=sample(seed=2))
    store.delete(ref)
    with pytest.raises(TrainingDataNotFound):
        store.load(ref)
    store.delete(ref)  # deleting what is gone is not an error
    assert_bit_equal(store.load(keep), sample(seed=1))


def test_missing_and_foreign_references_are_not_found(
    store: TrainingDataStore, tmp_path: Path
) -> None:
    ref = store.save(job_id=job(), data=sample(n=5))
    never_written = ref.replace(".npz", "-never.npz")
    foreign = [str(tmp_path / "elsewhere" / "x.npz"), f"s3://{BUCKET}/{PREFIX}/nope.npz", ""]
    for missing in [never_written, *foreign]:
        with pytest.raises(TrainingDataNotFound) as caught:
            store.load(missing)
        assert caught.value.rule == "training_data_not_found"


@pytest.mark.parametrize("job_id", ["../escape", "a/b", "", ".hidden"])
def test_job_ids_that_could_escape_are_refused(store: TrainingDataStore, job_id: str) -> None:
    with pytest.raises(ValueError):
        store.save(job_id=job_id, data=sample(n=5))


# -- where each store puts things -----------------------------------------------------------


def test_local_leaves_one_file_per_job_and_no_partial(tmp_path: Path) -> None:
    store = LocalDataStore(tmp_path / "data")
    job_id = job()
    ref = store.save(job_id=job_id, data=sample(n=5))
    assert ref == str((tmp_path / "data" / f"{job_id}.npz").resolve())
    assert [p.name for p in (tmp_path / "data").iterdir()] == [f"{job_id}.npz"]


def test_s3_writes_one_object_under_the_prefix(moto: MotoS3) -> None:
    store = S3DataStore(f"s3://{BUCKET}/{PREFIX}/", endpoint_url=moto.endpoint_url)
    job_id = job()
    ref = store.save(job_id=job_id, data=sample(n=5))
    key = f"{PREFIX}/{job_id}.npz"
    assert ref == f"s3://{BUCKET}/{key}"
    listed = moto.client().list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{job_id}")
    assert [o["Key"] for o in listed["Contents"]] == [key]


def test_s3_bucket_is_created_only_when_asked(moto: MotoS3) -> None:
    bucket = f"fresh-{uuid.uuid4().hex[:12]}"
    store = S3DataStore(f"s3://{bucket}", endpoint_url=moto.endpoint_url)
    with pytest.raises(DataStoreUnavailable, match="bucket does not exist"):
        store.save(job_id=job(), data=sample(n=5))
    assert store.ensure_bucket() is True
    assert store.ensure_bucket() is False
    ref = store.save(job_id="j1", data=sample(n=5))
    assert ref == f"s3://{bucket}/j1.npz"
    assert_bit_equal(store.load(ref), sample(n=5))


def test_factory_picks_the_store_by_url(tmp_path: Path) -> None:
    made = create_data_store(url=str(tmp_path / "a"), s3_endpoint_url=None)
    assert isinstance(made, LocalDataStore)
    ref = made.save(job_id="j", data=sample(n=5))
    assert ref == str((tmp_path / "a" / "j.npz").resolve())
    from_uri = create_data_store(url=(tmp_path / "b").as_uri(), s3_endpoint_url=None)
    assert isinstance(from_uri, LocalDataStore)
    s3 = create_data_store(url="s3://bucket/p", s3_endpoint_url="http://127.0.0.1:9")
    assert isinstance(s3, S3DataStore) and s3.url == "s3://bucket/p"
    for bad in ("", "http://example.com/data", "file://otherhost/x"):
        with pytest.raises(ValueError):
            create_data_store(url=bad, s3_endpoint_url=None)


# -- S3 outages: DataStoreUnavailable, within a bounded time ---------------------------------


def assert_unavailable_quickly(store: S3DataStore, ref: str) -> None:
    calls = [
        lambda: store.load(ref),
        lambda: store.save(job_id=job(), data=sample(n=5)),
        lambda: store.delete(ref),
        store.ensure_bucket,
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(DataStoreUnavailable) as caught:
            call()
        assert time.monotonic() - started < FAIL_FAST_SECONDS
        assert caught.value.rule == "data_store_unavailable"
        assert "failed to" in caught.value.message


@pytest.mark.usefixtures("credentials")
def test_s3_server_stopped_is_unavailable() -> None:
    with MotoS3() as server:
        server.create_bucket(BUCKET)
        store = S3DataStore(f"s3://{BUCKET}/{PREFIX}", endpoint_url=server.endpoint_url)
        ref = store.save(job_id=job(), data=sample(n=5))
    assert_unavailable_quickly(store, ref)


@pytest.mark.usefixtures("credentials")
def test_s3_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        store = S3DataStore(
            f"s3://{BUCKET}", endpoint_url=endpoint, read_timeout_seconds=0.5, max_attempts=2
        )
        assert_unavailable_quickly(store, f"s3://{BUCKET}/x.npz")


class _Failing(BaseHTTPRequestHandler):
    """An S3 endpoint in trouble: every request gets 503 Slow Down."""

    def _fail(self) -> None:
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your rate</Message></Error>"
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _fail

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.usefixtures("credentials")
def test_s3_answering_5xx_is_unavailable() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        store = S3DataStore(f"s3://{BUCKET}", endpoint_url=endpoint, max_attempts=2)
        assert_unavailable_quickly(store, f"s3://{BUCKET}/x.npz")
        with pytest.raises(DataStoreUnavailable, match="SlowDown"):
            store.load(f"s3://{BUCKET}/x.npz")
    finally:
        server.shutdown()
        server.server_close()
