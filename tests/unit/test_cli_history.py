"""``seriesguard send-data`` and ``train --window-hours``, against a stand-in client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seriesguard import cli, cli_history
from seriesguard.cli import app

runner = CliRunner()


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def send_data(self, series_id: str, **body: Any) -> dict[str, Any]:
        self.calls.append(("send_data", {"series_id": series_id, **body}))
        return {"accepted": len(body["values"]) - 1, "duplicates": 1}

    def train(self, series_id: str, **body: Any) -> dict[str, Any]:
        self.calls.append(("train", {"series_id": series_id, **body}))
        return {"job_id": "j1", "status": "queued", "training_points": 6000}


@pytest.fixture()
def client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    fake = FakeClient()

    @contextmanager
    def api(url: str, token: str | None) -> Iterator[FakeClient]:
        yield fake

    monkeypatch.setattr(cli, "api", api)
    monkeypatch.setattr(cli_history, "api", api)
    monkeypatch.setattr(cli_history, "MAX_POINTS_PER_REQUEST", 2)
    return fake


def test_send_data_sends_the_csv_in_chunks_and_sums_up(client: FakeClient, tmp_path: Path) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text("timestamp,value\n1,1.5\n2,2.5\n3,3.5\n")
    result = runner.invoke(app, ["send-data", "s1", "--csv", str(csv), "--json"])
    assert result.exit_code == 0, result.output
    assert [call["values"] for _, call in client.calls] == [[1.5, 2.5], [3.5]]
    assert '"accepted": 1' in result.stdout and '"duplicates": 2' in result.stdout


def test_train_on_a_window_sends_no_points(client: FakeClient) -> None:
    result = runner.invoke(app, ["train", "s1", "--window-hours", "168"])
    assert result.exit_code == 0, result.output
    assert "job j1 queued: s1, 6000 points" in result.stdout
    (name, call), *_ = client.calls
    assert name == "train" and call["window_hours"] == 168 and call["timestamps"] is None


def test_train_wants_exactly_one_source(client: FakeClient, tmp_path: Path) -> None:
    neither = runner.invoke(app, ["train", "s1"])
    both = runner.invoke(app, ["train", "s1", "--csv", "x.csv", "--window-hours", "2"])
    assert neither.exit_code == both.exit_code == 1
    assert "error: points_or_window" in neither.stderr and client.calls == []
