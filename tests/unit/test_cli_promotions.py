"""``seriesguard models promote --strategy ...`` and ``seriesguard promotions ...`` against a
small real HTTP server that answers fixed JSON and records what it was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from seriesguard.cli import app

runner = CliRunner()
PROMOTION = {
    "promotion_id": "p-1",
    "series_id": "s1",
    "version": "v2",
    "champion_version": "v1",
    "strategy": "canary",
    "state": "canary",
    "current_percentage": 20.0,
    "next_increment_at": "2026-11-28T12:00:00+00:00",
    "verdict_at": None,
    "created_at": "2026-11-28T10:00:00+00:00",
    "status_url": "/api/v1/promotions/p-1",
    "last_gate": {"outcome": "pass", "reasons": ["all checks passed"], "figures": {}},
    "events": [
        {
            "at": "2026-11-28T10:00:00+00:00",
            "kind": "started",
            "state": "canary",
            "percentage": 5.0,
            "details": {},
        }
    ],
}
ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/models/s1/versions/v2/promote"): PROMOTION,
    ("GET", "/api/v1/promotions"): {"items": [PROMOTION], "total": 1, "limit": 50, "offset": 0},
    ("GET", "/api/v1/promotions/p-1"): PROMOTION,
    ("POST", "/api/v1/promotions/p-1/rollback"): {**PROMOTION, "state": "rolled_back"},
    ("POST", "/api/v1/promotions/p-1/pause"): {**PROMOTION, "state": "paused"},
}


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, Any]]] = []

    def _answer(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Handler.seen.append((self.command, self.path, json.loads(raw) if raw else None))
        body = ROUTES[(self.command, urlsplit(self.path).path)]
        data = json.dumps(body).encode()
        self.send_response(202 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep pytest output clean."""


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_models_promote_sends_the_canary_config(url: str) -> None:
    result = runner.invoke(
        app,
        [
            "models",
            "promote",
            "s1",
            "v2",
            "--url",
            url,
            "--strategy",
            "canary",
            "--initial-percentage",
            "5",
            "--increment-interval-hours",
            "0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "p-1: s1 v2 canary canary at 20%" in result.output
    _, _, body = Handler.seen[-1]
    assert body["strategy"] == "canary"
    assert body["canary_config"] == {"initial_percentage": 5.0, "increment_interval_hours": 0.5}
    assert "shadow_config" not in body


def test_models_promote_nests_a_shadows_canary_config(url: str) -> None:
    result = runner.invoke(
        app,
        [
            "models",
            "promote",
            "s1",
            "v2",
            "--url",
            url,
            "--strategy",
            "shadow",
            "--duration-hours",
            "48",
            "--then",
            "canary",
            "--increment-percentage",
            "25",
        ],
    )
    assert result.exit_code == 0, result.output
    _, _, body = Handler.seen[-1]
    assert body["shadow_config"] == {
        "duration_hours": 48.0,
        "then": "canary",
        "canary_config": {"increment_percentage": 25.0},
    }
    assert "canary_config" not in body


def test_promotions_list_show_and_actions(url: str) -> None:
    listed = runner.invoke(app, ["promotions", "list", "--url", url, "--active"])
    assert listed.exit_code == 0, listed.output
    assert "p-1" in listed.output
    _, path, _ = Handler.seen[-1]
    assert parse_qs(urlsplit(path).query)["active"] == ["true"]
    shown = runner.invoke(app, ["promotions", "show", "p-1", "--url", url])
    assert shown.exit_code == 0 and "last gate: pass" in shown.output
    ended = runner.invoke(app, ["promotions", "rollback", "p-1", "--url", url, "--reason", "p99"])
    assert ended.exit_code == 0 and "rolled_back" in ended.output
    assert Handler.seen[-1] == ("POST", "/api/v1/promotions/p-1/rollback", {"reason": "p99"})
    paused = runner.invoke(app, ["promotions", "pause", "p-1", "--url", url])
    assert paused.exit_code == 0 and "paused at 20%" in paused.output
