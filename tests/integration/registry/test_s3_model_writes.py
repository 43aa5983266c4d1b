"""Model files go to S3 as plain PUTs carrying what MLflow's own uploads carry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from tests.services import MotoS3, moto_s3_in_env

from seriesguard.registry.mlflow_writes import put_objects

pytestmark = pytest.mark.integration

BUCKET = "seriesguard-writes"
FILES = {"MLmodel": b"flavors: {}\n", "requirements.txt": b"numpy\n", "data/model.json": b"{}"}


@pytest.fixture()
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoS3]:
    yield from moto_s3_in_env(monkeypatch, BUCKET)


def test_files_land_under_the_relative_path_with_mlflow_upload_arguments(
    s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "MLFLOW_S3_UPLOAD_EXTRA_ARGS", json.dumps({"ServerSideEncryption": "AES256"})
    )
    repository = get_artifact_repository(f"s3://{BUCKET}/mlflow/1")
    assert put_objects(repository, "models/s1/j1/model", FILES)
    client = s3.client()
    for name, content in FILES.items():
        key = f"mlflow/1/models/s1/j1/model/{name}"
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == content
        head = client.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
    text = client.head_object(Bucket=BUCKET, Key="mlflow/1/models/s1/j1/model/requirements.txt")
    assert text["ContentType"] == "text/plain"  # what MLflow's upload_file would have set


def test_other_repositories_are_left_to_log_artifacts(tmp_path: Path) -> None:
    local = get_artifact_repository(tmp_path.as_uri())
    assert not put_objects(local, "model", FILES)
    assert list(tmp_path.iterdir()) == []
