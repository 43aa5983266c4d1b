"""``seriesguard models import``: a summary line on success, one error line on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from seriesguard.cli import app

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(autouse=True)
def own_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)


def test_import_prints_a_summary(tmp_path: Path) -> None:
    path = tmp_path / "fleet.csv"
    path.write_text("series_id,mean,std\na,1,1\nb,2,1\nc,3,1\n")
    args = ["models", "import", str(path), "--home", str(tmp_path / "home")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "imported 3 model(s) (3 in bulk), 0 already there" in result.stdout

    again = runner.invoke(app, args)
    assert "imported 0 model(s), 3 already there" in again.stdout


def test_bad_line_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "fleet.csv"
    path.write_text("series_id,mean,std\na,1,1\nb b,2,1\n")
    result = runner.invoke(app, ["models", "import", str(path), "--home", str(tmp_path / "h")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: series_id_pattern at line[3].series_id: ")
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["models", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "file_not_found" in missing.stderr
