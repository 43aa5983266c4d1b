"""Fixtures of the in-process API tests that run with authentication on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, auth_settings

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
