"""Fixtures of the DAG tests: an isolated Airflow home and a live seriesguard API.

Run in the Airflow venv (``make test-dags``), never by the main suite. Airflow reads its
configuration when ``airflow`` is first imported, so the environment is set here, at
import time, before any test module imports it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "deploy" / "airflow" / "dags"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="seriesguard-airflow-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
)
# What Airflow does for a bundle: its folder is importable, so the DAGs find seriesguard_common.
sys.path.append(str(DAGS))
for name in [n for n in os.environ if n.startswith(("MLFLOW_", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
    del os.environ[name]

from tests_dags.live_api import LiveApi, train_version  # noqa: E402


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's own metadata DB (SQLite), migrated the way an operator does it."""
    airflow = Path(sys.executable).parent / "airflow"
    done = subprocess.run(
        [str(airflow), "db", "migrate"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path) -> Any:
    # BundleDagBag is how Airflow 3's dag processor parses a bundle: it puts the bundle's
    # folder on sys.path, which is how the DAGs import seriesguard_common.
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=DAGS, bundle_path=DAGS, bundle_name="dags-folder")


@pytest.fixture(scope="session")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    server = LiveApi(home=tmp_path_factory.mktemp("seriesguard-home")).start()
    # The Airflow-native way the DAGs find the API (see deploy/airflow/README.md).
    connection = {"conn_type": "http", "host": "127.0.0.1", "port": server.port}
    os.environ["AIRFLOW_CONN_SERIESGUARD_API"] = json.dumps(connection)
    try:
        yield server
    finally:
        os.environ.pop("AIRFLOW_CONN_SERIESGUARD_API", None)
        server.stop()


@pytest.fixture(scope="session")
def fleet(live_api: LiveApi) -> dict[str, str]:
    """Three series with a Production version: series -> production version."""
    production: dict[str, str] = {}
    with live_api.client() as client:
        for i, series_id in enumerate(("plant1_pump_radial", "plant1_pump_axial", "plant2_fan")):
            version = train_version(client, series_id, phase=float(i))
            client.promote(series_id, version)
            production[series_id] = version
    return production
