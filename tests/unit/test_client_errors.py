"""SeriesguardClient against a real HTTP server on 127.0.0.1 that answers fixed replies.

A real socket (not a mock transport) so connection handling, headers, query strings and
status codes travel exactly as they do in production.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from seriesguard.api.error_body import errors_content
from seriesguard.client import (
    JobWaitTimeout,
    SeriesguardClient,
    SeriesguardError,
    ServerUnreachable,
    format_loc,
)

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[BaseHTTPRequestHandler], Reply]


def api_error(status: int, *entries: tuple[str, list[str | int], str]) -> Route:
    body = errors_content([{"type": t, "loc": loc, "msg": msg} for t, loc, msg in entries])
    return lambda _request: (status, {}, json.dumps(body).encode())


def fixed(status: int, body: Any, headers: dict[str, str] | None = None) -> Route:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda _request: (status, headers or {}, raw)


def echo(request: BaseHTTPRequestHandler) -> Reply:
    seen = {"path": request.path, "authorization": request.headers.get("Authorization")}
    return 200, {}, json.dumps(seen).encode()


def slow(_request: BaseHTTPRequestHandler) -> Reply:
    time.sleep(1.0)
    return 200, {}, b"{}"


def job_progress(statuses: list[str]) -> Route:
    remaining = list(statuses)

    def answer(_request: BaseHTTPRequestHandler) -> Reply:
        status = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return 200, {}, json.dumps({"job_id": "j1", "status": status}).encode()

    return answer


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v1/training/jobs/missing"): api_error(
        404, ("job_not_found", ["path", "job_id"], "no training job 'missing'")
    ),
    ("POST", "/api/v1/training/busy"): lambda _r: (
        429,
        {"Retry-After": "120"},
        json.dumps(
            {"error": {"code": "rate_limited", "message": "one job per 5 min", "details": []}}
        ).encode(),
    ),
    ("POST", "/api/v1/training/bad"): api_error(
        422,
        ("duplicate_timestamp", ["body", "timestamps", 17], "timestamps[17] repeats [16]"),
        ("finite_values", ["body", "values", 3], "values[3] is nan"),
    ),
    ("GET", "/api/v1/models/proxied"): fixed(502, b"<html><h1>502 Bad Gateway</h1></html>"),
    ("GET", "/api/v1/models/plain"): fixed(404, {"detail": "Not Found"}),
    ("GET", "/api/v1/models/broken"): fixed(200, b"not json"),
    ("GET", "/api/v1/models/a%2Fb"): echo,
    ("GET", "/api/v1/training/jobs"): echo,
    ("GET", "/health"): echo,
    ("GET", "/api/v1/training/jobs/slow"): slow,
    ("GET", "/api/v1/training/jobs/j1"): job_progress(["queued", "processing", "completed"]),
    ("GET", "/api/v1/training/jobs/stuck"): job_progress(["processing"]),
}


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        route = ROUTES.get((self.command, urlsplit(self.path).path))
        if route is None:
            status, headers, body = api_error(404, ("route_not_found", ["path"], "no route"))(self)
        else:
            status, headers, body = route(self)
        self.send_response(status)
        is_json = body[:1] in (b"{", b"[")
        self.send_header("Content-Type", "application/json" if is_json else "text/html")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep pytest output clean."""


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The timeout test hangs up on purpose; a broken pipe here is expected."""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(base_url: str) -> Iterator[SeriesguardClient]:
    with SeriesguardClient(base_url, token="s3cret", timeout=5.0) as api:
        yield api


def test_not_found_maps_rule_loc_and_message(client: SeriesguardClient) -> None:
    with pytest.raises(SeriesguardError) as caught:
        client.job("missing")
    error = caught.value
    assert (error.status_code, error.rule, error.loc) == (404, "job_not_found", ("path", "job_id"))
    assert error.message == "no training job 'missing'"
    assert str(error) == "job_not_found at path.job_id: no training job 'missing'"


def test_rate_limit_carries_retry_after(client: SeriesguardClient) -> None:
    with pytest.raises(SeriesguardError) as caught:
        client.train("busy", timestamps=[1, 2], values=[1.0, 2.0])
    assert caught.value.status_code == 429
    assert caught.value.rule == "rate_limited"
    assert caught.value.retry_after == 120.0


def test_first_validation_error_is_promoted_and_all_are_kept(client: SeriesguardClient) -> None:
    with pytest.raises(SeriesguardError) as caught:
        client.train("bad", timestamps=["2024-01-01T00:00:00Z"], values=[1.0])
    error = caught.value
    assert error.rule == "duplicate_timestamp"
    assert error.loc == ("body", "timestamps", 17)
    assert format_loc(error.loc) == "body.timestamps[17]"
    assert [d["type"] for d in error.details] == ["duplicate_timestamp", "finite_values"]


def test_non_json_error_body_still_gives_status_and_text(client: SeriesguardClient) -> None:
    with pytest.raises(SeriesguardError) as caught:
        client.model("proxied")
    assert (caught.value.status_code, caught.value.rule) == (502, "http_error")
    assert "502 Bad Gateway" in caught.value.message


def test_string_detail_is_accepted(client: SeriesguardClient) -> None:
    with pytest.raises(SeriesguardError) as caught:
        client.model("plain")
    assert (caught.value.status_code, caught.value.message) == (404, "Not Found")


def test_success_that_is_not_json_is_an_error(client: SeriesguardClient) -> None:
    with pytest.raises(SeriesguardError) as caught:
        client.model("broken")
    assert caught.value.rule == "unexpected_response"


def test_unknown_route_is_reported_not_crashed(client: SeriesguardClient) -> None:
    with pytest.raises(SeriesguardError) as caught:
        client.reload("anything")
    assert (caught.value.status_code, caught.value.rule) == (404, "route_not_found")


def test_bearer_token_and_path_quoting(client: SeriesguardClient) -> None:
    assert client.health()["authorization"] == "Bearer s3cret"
    assert client.model("a/b")["path"] == "/api/v1/models/a%2Fb"


def test_unset_query_parameters_are_not_sent(client: SeriesguardClient) -> None:
    path = client.jobs(status="failed", limit=5)["path"]
    assert path == "/api/v1/training/jobs?status=failed&limit=5&offset=0"


def test_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        SeriesguardClient(f"http://127.0.0.1:{port}", timeout=2.0) as api,
        pytest.raises(ServerUnreachable) as caught,
    ):
        api.health()
    assert (caught.value.status_code, caught.value.rule) == (0, "unreachable")
    assert f"127.0.0.1:{port}" in caught.value.message


def test_timeout_is_reported_as_such(base_url: str) -> None:
    with (
        SeriesguardClient(base_url, timeout=0.2) as api,
        pytest.raises(ServerUnreachable) as caught,
    ):
        api.job("slow")
    assert caught.value.rule == "timeout"


def test_values_json_cannot_carry_are_refused_before_sending(client: SeriesguardClient) -> None:
    with pytest.raises(SeriesguardError) as caught:
        client.predict("s", timestamp=1.0, value=float("nan"))
    assert (caught.value.status_code, caught.value.rule) == (0, "finite_values")


def test_wait_for_job_reports_each_state_until_finished(client: SeriesguardClient) -> None:
    seen: list[str] = []
    job = client.wait_for_job(
        "j1", timeout=10.0, poll_interval=0.01, on_update=lambda j: seen.append(j["status"])
    )
    assert job["status"] == "completed"
    assert seen == ["queued", "processing", "completed"]


def test_wait_for_job_gives_up_after_timeout(client: SeriesguardClient) -> None:
    with pytest.raises(JobWaitTimeout) as caught:
        client.wait_for_job("stuck", timeout=0.05, poll_interval=0.01)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.rule == "wait_timeout"
    assert caught.value.loc == ("job", "stuck")
