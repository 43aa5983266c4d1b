"""A new MLflow SQLite store appears whole or not at all (a crash mid-migration must not
leave a file that MLflow refuses for ever)."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from seriesguard.registry.mlflow_registry import MlflowRegistry
from seriesguard.registry.mlflow_store import create_sqlite_store


def test_store_is_created_under_a_temporary_name_then_renamed(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "mlflow.db"
    leftover = path.parent / f".{path.name}.999999.partial"
    path.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a database from a killed process")
    create_sqlite_store(path)
    assert path.exists()
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".partial")] == [
        leftover.name
    ]  # another pid's leftover is not ours to touch, and ours is gone
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("anomaly-detector-x")
    assert client.get_registered_model("anomaly-detector-x").name == "anomaly-detector-x"
    create_sqlite_store(path)  # an existing store is left alone
    assert client.get_registered_model("anomaly-detector-x") is not None


def test_prepare_opens_store_and_experiment_before_any_job(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry = MlflowRegistry(
        tracking_uri=uri, artifact_root=(tmp_path / "artifacts").as_uri(), experiment_name="sg"
    )
    assert not (tmp_path / "mlflow.db").exists()
    registry.prepare()
    experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name("sg")
    assert experiment is not None and experiment.lifecycle_stage == "active"
