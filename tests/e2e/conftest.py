from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Server


@pytest.fixture()
def make_server(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    def factory(home: Path | None = None, **env: str) -> Server:
        server = Server(home=home or tmp_path / "home", env=env)
        started.append(server)
        return server.start()

    yield factory  # type: ignore[misc]
    for server in started:
        server.kill()
