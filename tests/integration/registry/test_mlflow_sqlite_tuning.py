"""MLflow's own SQLite store runs in WAL with synchronous=NORMAL, like the metadata DB."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from mlflow import MlflowClient

from seriesguard.registry.mlflow_defaults import tune_sqlite_engines
from seriesguard.registry.mlflow_registry import MlflowRegistry


def pragmas(engine: sa.Engine) -> tuple[str, int]:
    with engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
    return str(journal), int(synchronous)


def test_every_mlflow_connection_gets_wal_and_normal_sync(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry = MlflowRegistry(
        tracking_uri=uri, artifact_root=(tmp_path / "artifacts").as_uri(), experiment_name="sg"
    )
    registry.prepare()
    client = registry._client()
    stores = (client._tracking_client.store, client._get_registry_client().store)
    for engine in {id(s.engine): s.engine for s in stores}.values():
        assert pragmas(engine) == ("wal", 1)  # 1 = NORMAL (FULL is 2)
    assert tune_sqlite_engines(client) == 0  # once per engine, however many clients
    # The journal mode is kept in the file: a plain MLflow client sees the same database.
    plain = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert plain.get_experiment_by_name("sg") is not None


def test_stores_without_a_sqlite_engine_are_left_alone() -> None:
    class NotSqlite:  # a REST store has no engine; another object is not ours to touch
        engine = object()

    class Client:
        _tracking_client = type("T", (), {"store": NotSqlite()})()

        def _get_registry_client(self) -> object:
            return type("R", (), {"store": NotSqlite()})()

    assert tune_sqlite_engines(Client()) == 0
