"""The ``seriesguard`` CLI: help texts, the CSV reader on real NAB data, and error output.

Client commands run against a small real HTTP server on 127.0.0.1 that answers fixed JSON,
so what is tested is the whole path: options -> client -> socket -> output and exit code.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from seriesguard.api.error_body import errors_content
from seriesguard.cli import InputError, app, read_points
from seriesguard.settings import Settings

NAB = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "nab"
COMMANDS = ["serve", "train", "jobs", "job", "cancel", "models", "promote", "predict", "reload"]
runner = CliRunner()


def job_body(job_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "series_id": "s1",
        "status": status,
        "priority": 5,
        "algorithm": "statistical",
        "hyperparameters": {},
        "training_points": 3,
        "created_at": "2024-05-01T10:00:00+00:00",
        "model_version": "3" if status == "completed" else None,
        **extra,
    }


def error_body(rule: str, loc: list[str | int], msg: str) -> dict[str, Any]:
    return errors_content([{"type": rule, "loc": loc, "msg": msg}])


AUDIT_EVENT = {
    "id": 7,
    "at": "2026-11-27T10:00:00+00:00",
    "subject": "eve",
    "roles": ["ml_engineer"],
    "action": "promote",
    "series_id": "s1",
    "version": "v3",
    "job_id": None,
    "client": "10.0.0.9",
    "outcome": "ok",
    "details": {},
}

ROUTES: dict[tuple[str, str], tuple[int, Any]] = {
    ("GET", "/api/v1/admin/audit"): (200, {"items": [AUDIT_EVENT], "next_before_id": 7}),
    ("POST", "/api/v1/models/s1/rollback"): (
        200,
        {"version": "v2", "stage": "Production", "previous_version": "v3", "archived": True},
    ),
    ("POST", "/api/v1/training/s1"): (202, job_body("job-ok", "queued")),
    ("POST", "/api/v1/training/s2"): (202, job_body("job-bad", "queued")),
    ("GET", "/api/v1/training/jobs/job-ok"): (200, job_body("job-ok", "completed")),
    ("GET", "/api/v1/training/jobs/job-bad"): (
        200,
        job_body("job-bad", "failed", error="values have standard deviation 0"),
    ),
    ("GET", "/api/v1/training/jobs"): (
        200,
        {"items": [job_body("job-ok", "completed")], "total": 1, "limit": 50, "offset": 0},
    ),
    ("GET", "/api/v1/training/jobs/nope"): (
        404,
        error_body("job_not_found", ["path", "job_id"], "no training job 'nope'"),
    ),
    ("POST", "/api/v1/training/busy"): (
        429,
        error_body("rate_limited", ["path", "series_id"], "one training job per 5 minutes"),
    ),
    ("GET", "/api/v1/models/s1"): (
        200,
        {
            "series_id": "s1",
            "registered_model": "anomaly-detector-s1",
            "versions": [
                {
                    "version": "2",
                    "stage": "Production",
                    "algorithm": "statistical",
                    "params": {"mean": 71.2345678, "std": 4.5, "threshold_sigma": 3.0},
                    "metrics": {"training_points": 22695.0},
                    "created_at": "2024-05-01T10:00:00+00:00",
                    "job_id": "job-ok",
                }
            ],
        },
    ),
    ("POST", "/api/v1/predict/s1"): (200, {"series_id": "s1", "anomaly": False}),
}


class Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str, Any]]] = []

    def _answer(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        Handler.requests.append((self.command, self.path, json.loads(raw) if raw else None))
        status, body = ROUTES.get(
            (self.command, path), (404, error_body("route_not_found", ["path"], "no route"))
        )
        data = json.dumps(body).encode()
        extra = {"Retry-After": "120"} if status == 429 else {}
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **extra}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

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


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "points.csv"
    path.write_text("timestamp,value\n1700000000,1.5\n1700000300,2.5\n\n1700000600,-3\n")
    return path


def nab_file(name: str) -> Path:
    matches = sorted((NAB / "data" / "realKnownCause").glob(f"{name}.csv*"))
    if not matches:
        pytest.skip(f"NAB data set not found under {NAB.resolve()} (shared datasets absent)")
    return matches[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_top_level_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert all(command in result.output for command in COMMANDS)


def test_reads_a_real_nab_file_with_timestamps_as_text() -> None:
    path = nab_file("machine_temperature_system_failure")
    points = read_points(path)
    assert len(points.timestamps) == len(points.values) == 22_695
    assert points.timestamps[0] == "2013-12-02 21:15:00"
    assert points.values[0] == pytest.approx(73.96732207)
    assert all(isinstance(v, float) for v in points.values)


def test_limit_points_keeps_the_most_recent_rows() -> None:
    path = nab_file("machine_temperature_system_failure")
    everything = read_points(path)
    recent = read_points(path, limit=1_000)
    assert recent.timestamps == everything.timestamps[-1_000:]
    assert recent.values == everything.values[-1_000:]


def test_numeric_timestamps_become_numbers_and_blank_lines_are_skipped(small_csv: Path) -> None:
    points = read_points(small_csv)
    assert points.timestamps == [1_700_000_000.0, 1_700_000_300.0, 1_700_000_600.0]
    assert points.values == [1.5, 2.5, -3.0]


def test_column_order_and_bom_do_not_matter(tmp_path: Path) -> None:
    path = tmp_path / "swapped.csv"
    path.write_text("\ufeffValue,Timestamp\n1.0,2024-01-01T00:00:00Z\n", encoding="utf-8")
    points = read_points(path)
    assert (points.timestamps, points.values) == (["2024-01-01T00:00:00Z"], [1.0])


@pytest.mark.parametrize(
    ("content", "rule", "where"),
    [
        ("time,reading\n1,2\n", "csv_header", "bad.csv:1"),
        ("timestamp,value\n1,2\n2,abc\n", "csv_value", "bad.csv:3"),
        ("timestamp,value\n1,nan\n", "csv_value", "bad.csv:2"),
        ("timestamp,value\n1\n", "csv_row", "bad.csv:2"),
        ("timestamp,value\n", "csv_empty", "bad.csv"),
    ],
)
def test_bad_csv_names_rule_and_line(tmp_path: Path, content: str, rule: str, where: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        read_points(path)
    assert (caught.value.rule, caught.value.loc[0]) == (rule, where)


def test_bad_csv_in_train_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n1,2\n2,abc\n")
    result = runner.invoke(app, ["train", "s1", "--csv", str(path)])
    assert result.exit_code == 1
    assert result.stderr == "error: csv_value at bad.csv:3.value: 'abc' is not a finite number\n"
    assert "Traceback" not in result.output


def test_missing_csv_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "s1", "--csv", str(tmp_path / "absent.csv.gz")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: csv_unreadable at ")


def test_train_sends_the_csv_and_waits_for_completion(url: str, small_csv: Path) -> None:
    args = ["train", "s1", "--csv", str(small_csv), "--url", url, "--threshold-sigma", "2.5"]
    result = runner.invoke(app, [*args, "--priority", "9", "--wait"])
    assert result.exit_code == 0, result.output
    assert "completed: s1 version 3" in result.stdout
    body = next(b for m, p, b in reversed(Handler.requests) if p == "/api/v1/training/s1")
    assert body["values"] == [1.5, 2.5, -3.0]
    assert body["config"] == {
        "algorithm": "statistical",
        "hyperparameters": {"threshold_sigma": 2.5},
        "priority": 9,
    }


def test_failed_job_with_wait_exits_1_with_the_job_error(url: str, small_csv: Path) -> None:
    result = runner.invoke(app, ["train", "s2", "--csv", str(small_csv), "--url", url, "--wait"])
    assert result.exit_code == 1
    assert "error: job_failed at job.job-bad: values have standard deviation 0" in result.stderr


def test_nab_file_is_sent_as_it_is(url: str) -> None:
    path = nab_file("machine_temperature_system_failure")
    result = runner.invoke(app, ["train", "s1", "--csv", str(path), "--url", url])
    assert result.exit_code == 0, result.output
    body = next(b for m, p, b in reversed(Handler.requests) if p == "/api/v1/training/s1")
    assert len(body["timestamps"]) == 22_695
    assert body["timestamps"][0] == "2013-12-02 21:15:00"


def test_server_error_is_formatted_with_rule_and_location(url: str) -> None:
    result = runner.invoke(app, ["job", "nope", "--url", url])
    assert result.exit_code == 1
    assert result.stderr == "error: job_not_found at path.job_id: no training job 'nope'\n"
    assert result.stdout == ""


def test_rate_limit_error_says_when_to_retry(url: str, small_csv: Path) -> None:
    result = runner.invoke(app, ["train", "busy", "--csv", str(small_csv), "--url", url])
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("one training job per 5 minutes (retry after 120s)")


def test_unreachable_server_is_one_line() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(app, ["jobs", "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: unreachable: cannot connect to http://127.0.0.1:{port}"
    )
    assert "Traceback" not in result.output


def test_url_comes_from_the_environment(url: str) -> None:
    result = runner.invoke(app, ["jobs"], env={"SERIESGUARD_URL": url, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "job-ok" in result.stdout and "completed" in result.stdout


def test_models_of_one_series_shows_versions_and_stages(url: str) -> None:
    result = runner.invoke(app, ["models", "s1", "--url", url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Production" in result.stdout and "anomaly-detector-s1" in result.stdout
    assert "mean=71.2346" in result.stdout and "training_points=22695 " in result.stdout


def test_predict_prints_json_and_sends_numeric_timestamps(url: str) -> None:
    args = ["predict", "s1", "--timestamp", "1700000000", "--value", "4.5", "--url", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"series_id": "s1", "anomaly": False}
    assert Handler.requests[-1][2] == {"timestamp": 1_700_000_000.0, "value": 4.5}


@pytest.mark.parametrize("command", ["serve", "api", "predictor"])
def test_open_address_without_auth_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str
) -> None:
    captured = fake_server(monkeypatch)
    result = runner.invoke(app, [command, "--host", "0.0.0.0", "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0: authentication is not configured" in result.output
    assert "SERIESGUARD_AUTH_JWKS_URI" in result.output
    assert captured == []


def test_worker_health_port_may_listen_anywhere_without_auth(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    captured = fake_server(monkeypatch)
    result = runner.invoke(app, ["worker", "--host", "0.0.0.0", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output  # probes only: nothing to protect
    assert len(captured) == 1


def test_serve_overrides_environment_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    captured = fake_server(monkeypatch)
    monkeypatch.setenv("SERIESGUARD_PORT", "9001")
    monkeypatch.setenv("SERIESGUARD_HOST", "10.0.0.1")
    monkeypatch.setenv("SERIESGUARD_AUTH_SECRET", "s" * 32)  # tokens checked: any address

    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--home", str(tmp_path)])

    assert result.exit_code == 0, result.output
    ((settings, options),) = captured
    assert (settings.host, settings.port, settings.home) == ("0.0.0.0", 9001, tmp_path)
    assert sorted(options["roles"]) == ["api", "predictor", "scheduler", "worker"]


def fake_server(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Settings, dict[str, Any]]]:
    """Stand in for seriesguard.api.app so the commands run without starting a server."""
    captured: list[tuple[Settings, dict[str, Any]]] = []
    fake = types.ModuleType("seriesguard.api.app")
    fake.serve = lambda settings, **options: captured.append((settings, options))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "seriesguard.api.app", fake)
    return captured


@pytest.mark.parametrize(
    ("command", "roles", "port"),
    [
        (["api"], ["api"], 8000),
        (["predictor"], ["predictor"], 8080),
        (["worker", "--concurrency", "4"], ["worker"], 8081),
        (["scheduler"], ["scheduler"], 8082),
    ],
)
def test_each_process_runs_its_roles_on_its_port(
    monkeypatch: pytest.MonkeyPatch, command: list[str], roles: list[str], port: int
) -> None:
    monkeypatch.delenv("SERIESGUARD_PORT", raising=False)
    captured = fake_server(monkeypatch)
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    ((settings, options),) = captured
    assert sorted(options["roles"]) == roles and options["name"] == command[0]
    assert settings.port == port
    if command[0] == "worker":
        assert settings.worker_concurrency == 4


def test_db_upgrade_creates_the_schema(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SERIESGUARD_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["db", "upgrade", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "seriesguard.db") as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
    assert {"training_jobs", "series", "model_versions"} <= tables


def test_serve_reports_bad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERIESGUARD_WORKER_CONCURRENCY", "many")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: settings at worker_concurrency: ")


def test_security_settings_that_cannot_work_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    captured = fake_server(monkeypatch)
    monkeypatch.setenv("SERIESGUARD_AUTH_ISSUER", "https://auth.example")  # but no key
    result = runner.invoke(app, ["serve", "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "SERIESGUARD_AUTH_JWKS_URI" in result.output
    monkeypatch.delenv("SERIESGUARD_AUTH_ISSUER")
    monkeypatch.setenv("SERIESGUARD_TLS_CERT_FILE", str(tmp_path / "cert.pem"))  # no key
    result = runner.invoke(app, ["serve", "--home", str(tmp_path)])
    assert result.exit_code == 2 and "SERIESGUARD_TLS_KEY_FILE" in result.output
    assert captured == []


def test_secret_settings_are_read_from_mounted_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a-secret-from-a-kubernetes-volume-0123456789\n")
    monkeypatch.setenv("SERIESGUARD_AUTH_SECRET_FILE", str(secret))
    monkeypatch.delenv("SERIESGUARD_AUTH_SECRET", raising=False)
    loaded = Settings()
    assert loaded.auth_secret is not None
    assert loaded.auth_secret.get_secret_value() == "a-secret-from-a-kubernetes-volume-0123456789"
    assert "a-secret" not in repr(loaded) and "a-secret" not in loaded.model_dump_json()
    monkeypatch.setenv("SERIESGUARD_AUTH_SECRET_FILE", str(tmp_path / "missing"))
    result = runner.invoke(app, ["serve", "--home", str(tmp_path)])
    assert result.exit_code == 1 and "SERIESGUARD_AUTH_SECRET_FILE names" in result.output


def test_audit_lists_events_with_the_token_and_filters(url: str) -> None:
    args = ["audit", "--action", "promote", "--series", "s1", "--limit", "1", "--url", url]
    result = runner.invoke(app, [*args, "--token", "t0k3n"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "eve" in result.stdout and "ml_engineer" in result.stdout and "v3" in result.stdout
    assert "--before 7" in result.stdout
    method, path, _body = Handler.requests[-1]
    assert method == "GET" and "action=promote" in path and "series_id=s1" in path


def test_rollback_names_the_version_served_again(url: str) -> None:
    result = runner.invoke(app, ["rollback", "s1", "--to", "v2", "--url", url])
    assert result.exit_code == 0, result.output
    assert "s1 version v2 is Production again; v3 archived" in result.stdout
    assert Handler.requests[-1] == ("POST", "/api/v1/models/s1/rollback", {"to_version": "v2"})
