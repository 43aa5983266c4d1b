"""Fixtures of the in-process API tests that run with authentication on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, auth_settings
from tests.integration.api.detector_rig import backend_uri, detector_api

from seriesguard.api.app import create_app
from seriesguard.runtime import build_runtime


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """One RSA key pair (and its files) for every test that signs tokens."""
    return Keys.create(tmp_path_factory.mktemp("keys"))


@pytest.fixture()
def secured(tmp_path: Path, keys: Keys) -> Iterator[TestClient]:
    """The all-in-one app with bearer tokens required, started."""
    with TestClient(create_app(build_runtime(auth_settings(tmp_path, keys)))) as client:
        yield client


# The detector tests run on the in-memory registry and on the real MLflow one (SQLite): large
# params travel as a model version tag or in the model file, and the predictor reads them back.
@pytest.fixture(params=["memory", "mlflow"])
def registry_api(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    with detector_api(tmp_path, monkeypatch, uri=backend_uri(request.param, tmp_path)) as client:
        yield client
