from __future__ import annotations

import json
import logging

import pytest

from seriesguard.observability.logging import configure_logging


def test_json_lines_carry_extras_and_the_role(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", fmt="json", process_role="worker")
    try:
        logging.getLogger("seriesguard.test").info(
            "job %s done", "j1", extra={"job_id": "j1", "points": 10}
        )
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("failed")
    finally:
        logging.getLogger().handlers.clear()
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["msg"] == "job j1 done" and first["level"] == "info"
    assert first["role"] == "worker" and first["job_id"] == "j1" and first["points"] == 10
    assert second["logger"] == "uvicorn.error" and "ValueError: boom" in second["exc"]


def test_text_format_for_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="WARNING", fmt="text", process_role="api")
    try:
        logging.getLogger("x").info("hidden")
        logging.getLogger("x").warning("shown")
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    assert "hidden" not in err and "WARNING [api] x: shown" in err
