"""Security over real processes and real HTTP: bearer tokens minted by the CLI, roles, the
audit log, secrets kept out of logs and answers, hostile input, safe defaults, TLS, and the
rate limit shared by replicas through Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from seriesguard.client_arrow import ARROW_MEDIA_TYPE, encode_arrow_batch
from tests.e2e.harness import Server, free_port, submit_training, wait_job
from tests.e2e.security_helpers import (
    INHERITED_PREFIXES,
    Responses,
    bearer,
    clean_env,
    cli,
    keygen,
    launch,
    leaks,
    mint_tokens,
    pem_pieces,
    self_signed_certificate,
    token_pieces,
    trusting,
    wait_https,
)
from tests.e2e.topology import PG, create_database, drop_database

pytestmark = pytest.mark.e2e

ISSUER = "https://login.plant.example/realms/seriesguard"
AUDIENCE = "anomaly-detector-api"
PUBLIC_KEY = "SERIESGUARD_AUTH_PUBLIC_KEY_FILE"
PRIVATE_KEY = "SERIESGUARD_AUTH_PRIVATE_KEY_FILE"
SUBJECTS = {"viewer": "victor", "data_scientist": "dana", "ml_engineer": "eve", "admin": "ada"}
TRAVERSAL = "..%2F..%2Fetc%2Fpasswd"  # ../../etc/passwd, percent-encoded for a path segment
PASSWD = "../../etc/passwd"


@pytest.fixture(scope="module", autouse=True)
def _no_inherited_settings() -> Iterator[None]:
    """An engineer's shell may export SERIESGUARD_AUTH_* or a database URL: every process
    here gets only what its test gives it (the harness passes os.environ on)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(INHERITED_PREFIXES):
                patch.delenv(name)
        yield


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The settings of an operator who ran ``seriesguard keygen`` and names an issuer and an
    audience, as the seed's RequestAuthentication does."""
    keys = keygen(tmp_path_factory.mktemp("auth") / "keys", clean_env())
    return {
        **keys,
        "SERIESGUARD_AUTH_ISSUER": ISSUER,
        "SERIESGUARD_AUTH_AUDIENCES": json.dumps([AUDIENCE]),
    }


@pytest.fixture(scope="module")
def tokens(auth: dict[str, str]) -> dict[str, str]:
    """One token per role, each from ``seriesguard token --role ROLE --subject NAME``."""
    wanted = {role: (role, subject) for role, subject in SUBJECTS.items()}
    return mint_tokens(clean_env(**auth), wanted)


def forged_tokens(auth: dict[str, str], genuine: str) -> dict[str, str]:
    """Tokens a server must refuse, each for one reason; all claim the admin role."""
    private = load_pem_private_key(Path(auth[PRIVATE_KEY]).read_bytes(), password=None)
    kid = jwt.get_unverified_header(genuine)["kid"]
    now = int(time.time())
    claims = {
        "sub": "mallory",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "roles": ["admin"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    expired = {**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    head = _b64({"alg": "HS256", "typ": "JWT", "kid": kid})
    body = _b64(claims)
    # HS/RS confusion: an HMAC keyed with the server's public key PEM, which anyone has.
    mac = hmac.new(
        Path(auth[PUBLIC_KEY]).read_bytes(), f"{head}.{body}".encode(), hashlib.sha256
    ).digest()
    return {
        "expired": jwt.encode(expired, private, algorithm="RS256", headers={"kid": kid}),  # type: ignore[arg-type]
        "stranger": jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid}),
        "audience": jwt.encode(
            {**claims, "aud": "someone-else"},
            private,  # type: ignore[arg-type]
            algorithm="RS256",
            headers={"kid": kid},
        ),
        "confused": f"{head}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}",
        "unsigned": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{body}.",
        "garbage": "garbage",
    }


FORGED_RULES = {
    "expired": "token_expired",
    "stranger": "bad_signature",
    "audience": "wrong_audience",
    "confused": "algorithm_not_allowed",
    "unsigned": "algorithm_not_allowed",
    "garbage": "malformed_token",
}


def _b64(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def error_code(answer: httpx.Response) -> str:
    """The rule of an error answer, after checking the body has the one error shape."""
    body = answer.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["details"] and error["details"][0]["type"] == error["code"], error
    assert all(set(d) == {"type", "loc", "msg"} for d in error["details"]), error
    return str(error["code"])


def assert_refused(
    answer: httpx.Response, status: int, code: str, loc: list[Any] | None = None
) -> None:
    assert answer.status_code == status, (answer.request.url, answer.status_code, answer.text)
    assert error_code(answer) == code, answer.text
    if loc is not None:
        assert answer.json()["error"]["details"][0]["loc"] == loc, answer.text


def training_body(seed: int, points: int = 10_000) -> dict[str, Any]:
    return {
        "timestamps": (1_700_000_000 + 60 * np.arange(points)).tolist(),
        "values": np.random.default_rng(seed).normal(20, 2, points).tolist(),
    }


# -- 1. the whole lifecycle with tokens, the audit log, then nothing secret anywhere ----------


@pytest.fixture()
def metadata_db() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database and a URL to it whose password is distinctive (trust
    authentication ignores it): (url, password)."""
    name = f"sg_security_{uuid.uuid4().hex[:10]}"
    password = f"Pw-{secrets.token_hex(12)}"
    create_database(name)
    try:
        host = PG.split("@", 1)[1]
        yield f"postgresql+psycopg://postgres:{password}@{host}/{name}", password
    finally:
        drop_database(name)


def test_authenticated_lifecycle_is_audited_and_leaks_no_secret(
    tmp_path: Path, auth: dict[str, str], tokens: dict[str, str], metadata_db: tuple[str, str]
) -> None:
    url, password = metadata_db
    url_file = tmp_path / "secrets" / "database-url"
    url_file.parent.mkdir()
    url_file.write_text(url + "\n")
    url_file.chmod(0o600)
    server = Server(
        home=tmp_path / "home",
        name="secured",
        env={
            **auth,
            "SERIESGUARD_DATABASE_URL_FILE": str(url_file),
            "SERIESGUARD_ACCESS_LOG": "true",
            "SERIESGUARD_LOG_LEVEL": "DEBUG",
            "SERIESGUARD_WORKER_CONCURRENCY": "1",  # the job to cancel waits behind the first
        },
    )
    forged = forged_tokens(auth, tokens["viewer"])
    seen = Responses()
    try:
        server.start()
        with seen.client(server.url) as http:
            _drive_lifecycle(http, tokens, forged)
    finally:
        server.stop()
    # A clean stop: uvicorn finishes, then lets SIGTERM end the process as it asked.
    assert server.process is not None
    assert server.process.returncode in (0, -signal.SIGTERM), server.log_tail()

    log = server.log_path.read_text(errors="replace")
    # The scan means something only if the log saw the start-up (where settings and URLs
    # would show) and every request (the access log), refused ones included.
    assert "predictor ready" in log and "Application shutdown complete" in log, log[-3000:]
    assert '/api/v1/models/s1/versions/v1/promote HTTP/1.1\\" 200' in log, log[-3000:]
    assert log.count('GET /api/v1/models HTTP/1.1\\" 401') == 1 + len(forged), log[-3000:]
    hidden = {"database password": password}
    for name, token in {**tokens, **forged}.items():
        if name != "garbage":
            hidden |= token_pieces(name, token)
    hidden |= pem_pieces(Path(auth[PRIVATE_KEY]))
    assert not leaks(log, hidden), f"in {server.log_path}: {leaks(log, hidden)}"
    assert len(seen.seen) > 25
    assert not leaks(seen.text(), hidden), leaks(seen.text(), hidden)


def _drive_lifecycle(http: httpx.Client, tokens: dict[str, str], forged: dict[str, str]) -> None:
    viewer, scientist = bearer(tokens["viewer"]), bearer(tokens["data_scientist"])
    engineer, admin = bearer(tokens["ml_engineer"]), bearer(tokens["admin"])

    submitted = http.post("/api/v1/training/s1", json=training_body(1), headers=scientist)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["submitted_by"] == "dana"
    doomed = http.post("/api/v1/training/s-cancel", json=training_body(2), headers=scientist)
    assert doomed.status_code == 202, doomed.text
    doomed_id = doomed.json()["job_id"]
    cancelled = http.delete(f"/api/v1/training/jobs/{doomed_id}", headers=engineer)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    http.headers.update(viewer)  # wait_job reads the job with the client's own headers
    done = wait_job(http, submitted.json()["job_id"])
    assert done["status"] == "completed" and done["model_version"] == "v1", done
    del http.headers["authorization"]

    promoted = http.post(
        "/api/v1/models/s1/versions/v1/promote", json={"strategy": "direct"}, headers=engineer
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["version"] == "v1"

    predicted = http.post(
        "/api/v1/predict/s1", json={"timestamp": 1, "value": 20.5}, headers=viewer
    )
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["model_info"]["version"] == "v1"
    batch = http.post(
        "/api/v1/predict/batch",
        json={"series": [{"series_id": "s1", "timestamps": [1, 2, 3], "values": [20, 21, 99]}]},
        headers=viewer,
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["results"][0]["anomalies"] == [False, False, True]
    arrow = http.post(
        "/api/v1/predict/batch",
        content=encode_arrow_batch(
            {"series_id": ["s1", "s1"], "timestamp": [4.0, 5.0], "value": [20.0, -50.0]}
        ),
        headers={**viewer, "content-type": ARROW_MEDIA_TYPE, "accept": "application/json"},
    )
    assert arrow.status_code == 200, arrow.text
    assert arrow.json()["points"] == 2

    reloaded = http.post("/api/v1/admin/reload/s1", headers=engineer)
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["reloaded"] is True
    behind_proxy = http.post(
        "/api/v1/admin/reload/s1", headers={**admin, "x-forwarded-for": "203.0.113.7"}
    )
    assert behind_proxy.status_code == 200, behind_proxy.text

    # Refusals: who may not, and tokens that are not what they claim.
    no_token = http.get("/api/v1/models")
    assert_refused(no_token, 401, "missing_token", ["header", "authorization"])
    assert no_token.headers["www-authenticate"] == 'Bearer realm="seriesguard"'
    assert_refused(
        http.post(
            "/api/v1/models/s1/versions/v1/promote", json={"strategy": "direct"}, headers=viewer
        ),
        403,
        "forbidden",
    )
    assert_refused(http.post("/api/v1/admin/reload/s1", headers=scientist), 403, "forbidden")
    assert_refused(
        http.post("/api/v1/predict/s1", json={"timestamp": 1, "value": 1}), 401, "missing_token"
    )
    for name, token in forged.items():
        answer = http.get("/api/v1/models", headers=bearer(token))
        assert_refused(answer, 401, FORGED_RULES[name], ["header", "authorization"])
        assert f'error_description="{FORGED_RULES[name]}"' in answer.headers["www-authenticate"]
        # The single predict's fast path stands behind the same check.
        fast = http.post(
            "/api/v1/predict/s1", json={"timestamp": 1, "value": 1}, headers=bearer(token)
        )
        assert_refused(fast, 401, FORGED_RULES[name])
    # Probes and /health need no token and tell nothing secret (scanned below with the rest).
    assert http.get("/health").status_code == 200
    assert http.get("/api/v1/readiness").status_code == 200

    # The audit log: admin only, and it names who did what from where.
    assert_refused(http.get("/api/v1/admin/audit", headers=viewer), 403, "forbidden")
    assert_refused(http.get("/api/v1/admin/audit", headers=engineer), 403, "forbidden")
    audit = http.get("/api/v1/admin/audit", headers=admin)
    assert audit.status_code == 200, audit.text
    events = audit.json()["items"]
    by_action: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_action.setdefault(event["action"], []).append(event)
    assert sorted(by_action) == ["cancel", "promote", "reload"], events
    (promote,) = by_action["promote"]
    request_id = promote["details"].pop("request_id")  # made for the request: none was sent
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert promote | {"id": 0, "at": ""} == {
        "id": 0,
        "at": "",
        "subject": "eve",
        "roles": ["ml_engineer"],
        "action": "promote",
        "series_id": "s1",
        "version": "v1",
        "job_id": None,
        "client": "127.0.0.1",
        "outcome": "ok",
        "details": {"strategy": "direct", "previous_version": None, "archived": False},
    }
    (cancel,) = by_action["cancel"]
    assert (cancel["subject"], cancel["roles"], cancel["client"]) == (
        "eve",
        ["ml_engineer"],
        "127.0.0.1",
    )
    assert (cancel["series_id"], cancel["job_id"]) == ("s-cancel", doomed_id)
    proxied, direct = by_action["reload"]  # newest first
    assert (direct["subject"], direct["roles"], direct["client"]) == (
        "eve",
        ["ml_engineer"],
        "127.0.0.1",
    )
    assert (direct["series_id"], direct["version"], direct["job_id"]) == ("s1", None, None)
    assert (proxied["subject"], proxied["roles"]) == ("ada", ["admin"])
    assert proxied["details"]["forwarded_for"] == "203.0.113.7"
    only_reloads = http.get("/api/v1/admin/audit", params={"action": "reload"}, headers=admin)
    assert [e["action"] for e in only_reloads.json()["items"]] == ["reload", "reload"]


def test_config_command_does_not_show_the_database_password(tmp_path: Path) -> None:
    """``seriesguard config`` (the settings as an operator sees them) must mask secrets."""
    password = f"Pw-{secrets.token_hex(12)}"
    url_file = tmp_path / "database-url"
    url_file.write_text(f"postgresql+psycopg://postgres:{password}@127.0.0.1:5432/sg\n")
    secret_file = tmp_path / "auth-secret"
    secret_file.write_text(secrets.token_urlsafe(40))
    env = clean_env(
        SERIESGUARD_DATABASE_URL_FILE=str(url_file),
        SERIESGUARD_AUTH_SECRET_FILE=str(secret_file),
        SERIESGUARD_HOME=str(tmp_path / "home"),
    )
    shown = cli("config", env=env)
    assert shown.returncode == 0, shown.stderr
    output = shown.stdout + shown.stderr
    assert password not in output
    assert secret_file.read_text() not in output
    lines = shown.stdout.splitlines()
    assert "SERIESGUARD_DATABASE_URL=postgresql+psycopg://***@127.0.0.1:5432/sg" in lines
    assert "SERIESGUARD_AUTH_SECRET=***" in lines


# -- 2. hostile input: each refused cleanly while the server serves everyone else ------------


@pytest.fixture(scope="module")
def hostile_target(
    tmp_path_factory: pytest.TempPathFactory, auth: dict[str, str], tokens: dict[str, str]
) -> Iterator[Server]:
    server = Server(home=tmp_path_factory.mktemp("hostile") / "home", name="hostile", env={**auth})
    try:
        server.start()
        with server.client() as http:
            http.headers.update(bearer(tokens["admin"]))
            done = wait_job(http, submit_training(http, "hot-1", seed=3))
            assert done["status"] == "completed", done
            promoted = http.post(
                "/api/v1/models/hot-1/versions/v1/promote", json={"strategy": "direct"}
            )
            assert promoted.status_code == 200, promoted.text
        yield server
    finally:
        server.kill()


class Bystander(threading.Thread):
    """A well-behaved caller predicting in a loop (under the rate limit) the whole time."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.stop = threading.Event()
        self.answers: list[tuple[int, str]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30, headers=bearer(self.token)) as http:
            value = 0.0
            while not self.stop.is_set():
                value += 0.01
                try:
                    answer = http.post(
                        "/api/v1/predict/hot-1", json={"timestamp": 1_800_000_000, "value": value}
                    )
                    self.answers.append((answer.status_code, answer.text[:300]))
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                time.sleep(0.01)


def arrow_points(
    batches: int, rows: int = 1_000_000, *, compression: str | None = None, flat: bool = False
) -> bytes:
    """An Arrow batch body: ``batches`` record batches of ``rows`` points of one series, its
    timestamps increasing, or all zero when ``flat`` (which compresses to almost nothing)."""
    stamps = np.zeros(rows) if flat else np.arange(rows, dtype=np.float64)
    table = pa.table(
        {
            "series_id": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(rows, dtype=np.int8)), pa.array(["hot-1"])
            ),
            "timestamp": pa.array(stamps),
            "value": pa.array(np.zeros(rows)),
        }
    )
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        for _ in range(batches):
            writer.write_table(table)
    blob: bytes = sink.getvalue().to_pybytes()
    return blob


def test_hostile_input_is_refused_while_others_are_served(
    hostile_target: Server, tokens: dict[str, str], auth: dict[str, str]
) -> None:
    server = hostile_target
    bystander_token = mint_tokens(clean_env(**auth), {"b": ("viewer", "bystander")})["b"]
    bystander = Bystander(server.url, bystander_token)
    bystander.start()
    viewer, scientist = bearer(tokens["viewer"]), bearer(tokens["data_scientist"])
    engineer, admin = bearer(tokens["ml_engineer"]), bearer(tokens["admin"])
    try:
        with server.client() as http:
            _send_hostile(http, viewer, scientist, engineer, admin)
        time.sleep(0.3)  # some bystander requests after the last hostile one, too
    finally:
        bystander.stop.set()
        bystander.join(30)
    assert not bystander.errors, bystander.errors[:5]
    assert len(bystander.answers) >= 20, len(bystander.answers)
    refused = [answer for answer in bystander.answers if answer[0] != 200]
    assert not refused, refused[:5]

    with server.client() as http:
        assert http.get("/api/v1/readiness").status_code == 200
        after = http.post(
            "/api/v1/predict/hot-1", json={"timestamp": 1, "value": 1}, headers=viewer
        )
        assert after.status_code == 200, after.text
    assert server.process is not None and server.process.poll() is None
    assert not [p for p in server.home.rglob("*") if "passwd" in p.name]
    assert "Traceback" not in server.log_path.read_text(errors="replace")


def _send_hostile(
    http: httpx.Client,
    viewer: dict[str, str],
    scientist: dict[str, str],
    engineer: dict[str, str],
    admin: dict[str, str],
) -> None:
    json_type = {"content-type": "application/json"}
    arrow_type = {"content-type": ARROW_MEDIA_TYPE}

    # Bodies over the limits: refused on their declared size, before they are read.
    ten_mb = b'{"timestamp": 1, "value": ' + b" " * 10_000_000 + b"1}"
    answer = http.post("/api/v1/predict/hot-1", content=ten_mb, headers={**viewer, **json_type})
    assert_refused(answer, 413, "body_too_large", ["body"])
    assert "65536" in answer.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"timestamp": 1, "value": '
        for _ in range(100):
            yield b" " * 100_000
        yield b"1}"

    answer = http.post("/api/v1/predict/hot-1", content=chunks(), headers={**viewer, **json_type})
    assert_refused(answer, 413, "body_too_large", ["body"])

    forty_mb = b'{"timestamps": [' + b"1," * 20_000_000 + b'1], "values": [1]}'
    answer = http.post(
        "/api/v1/training/hot-2", content=forty_mb, headers={**scientist, **json_type}
    )
    assert_refused(answer, 413, "body_too_large", ["body"])
    assert str(32 * 1024 * 1024) in answer.json()["error"]["message"]

    # Ten million points: 170 MB of Arrow is over the body limit; the same points compressed
    # (a few MB of zstd) get through it and meet the batch size rule instead.
    answer = http.post(
        "/api/v1/predict/batch", content=arrow_points(10), headers={**viewer, **arrow_type}
    )
    assert_refused(answer, 413, "body_too_large", ["body"])
    compressed = arrow_points(10, compression="zstd")
    assert len(compressed) < 32 * 1024 * 1024
    answer = http.post(
        "/api/v1/predict/batch", content=compressed, headers={**viewer, **arrow_type}
    )
    assert_refused(answer, 422, "max_batch_points", ["body"])

    # ../../etc/passwd as a series id. In a path segment, the decoded slashes make a path no
    # route has: 404, the same as any unknown path. As ".." alone, a route takes it, and the
    # series id rule refuses it. In a query or a body, the rule refuses it with its place.
    for method, path, headers in (
        ("POST", f"/api/v1/predict/{TRAVERSAL}", viewer),
        ("POST", f"/api/v1/training/{TRAVERSAL}", scientist),
        ("POST", f"/api/v1/training/{TRAVERSAL}/arrow", scientist),
        ("GET", f"/api/v1/models/{TRAVERSAL}", viewer),
        ("GET", f"/api/v1/models/{TRAVERSAL}/deployment-config", viewer),
        ("POST", f"/api/v1/models/{TRAVERSAL}/versions/v1/promote", engineer),
        ("POST", f"/api/v1/admin/reload/{TRAVERSAL}", engineer),
    ):
        answer = http.request(method, path, json={"timestamp": 1, "value": 1}, headers=headers)
        assert_refused(answer, 404, "route_not_found", ["path"])
    dots = "%2E%2E"
    for method, path, body, headers in (
        ("POST", f"/api/v1/predict/{dots}", {"timestamp": 1, "value": 1}, viewer),
        ("POST", f"/api/v1/training/{dots}", training_body(4), scientist),
        ("POST", f"/api/v1/admin/reload/{dots}", None, engineer),
        ("GET", f"/api/v1/models/{dots}/deployment-config", None, viewer),
    ):
        answer = http.request(method, path, json=body, headers=headers)
        assert_refused(answer, 422, "series_id_pattern", ["path", "series_id"])
    for path, headers in (("/api/v1/plot", admin), ("/api/v1/admin/audit", admin)):
        answer = http.get(f"{path}?series_id={TRAVERSAL}", headers=headers)
        assert_refused(answer, 422, "series_id_pattern", ["query", "series_id"])
    answer = http.post(
        "/api/v1/predict/batch",
        json={"series": [{"series_id": PASSWD, "timestamps": [1], "values": [1]}]},
        headers=viewer,
    )
    assert_refused(answer, 422, "series_id_pattern", ["body", "series", 0, "series_id"])
    answer = http.post(
        "/api/v1/predict/batch",
        content=encode_arrow_batch({"series_id": [PASSWD], "timestamp": [1.0], "value": [1.0]}),
        headers={**viewer, **arrow_type},
    )
    assert_refused(answer, 422, "series_id_pattern", ["body", "series_id", 0])

    # A megabyte of token: refused by size, before any parsing or cryptography.
    huge = {"authorization": "Bearer " + "A" * 1_000_000}
    answer = http.get("/api/v1/models", headers=huge)
    assert_refused(answer, 401, "token_too_large", ["header", "authorization"])
    answer = http.post("/api/v1/predict/hot-1", json={"timestamp": 1, "value": 1}, headers=huge)
    assert_refused(answer, 401, "token_too_large")
    assert http.get("/api/v1/liveness").status_code == 200


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_compressed_batch_is_refused_before_it_is_inflated(
    hostile_target: Server, tokens: dict[str, str]
) -> None:
    server = hostile_target
    assert server.process is not None
    points = 50  # million: 850 MB once inflated, 50 times the largest batch allowed
    bomb = arrow_points(points, compression="zstd", flat=True)
    assert len(bomb) < 1024 * 1024, len(bomb)
    before = peak_rss_bytes(server.process.pid)
    with server.client() as http:
        answer = http.post(
            "/api/v1/predict/batch",
            content=bomb,
            headers={**bearer(tokens["viewer"]), "content-type": ARROW_MEDIA_TYPE},
        )
        assert answer.status_code in (413, 422), answer.text
        assert error_code(answer) in ("body_too_large", "max_batch_points"), answer.text
        assert http.get("/api/v1/readiness").status_code == 200
    grown = peak_rss_bytes(server.process.pid) - before
    assert grown < 64 * 1024 * 1024, f"peak memory grew by {grown / 2**20:.0f} MiB"


# -- 3. safe defaults: no open port without authentication -----------------------------------


def test_refuses_a_public_address_without_auth_and_serves_it_with_a_secret(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = clean_env(SERIESGUARD_HOME=str(tmp_path / "home"))
    refusals = {
        "--host": _serve(["--host", "0.0.0.0", "--port", str(port)], base),
        "SERIESGUARD_HOST": _serve(["--port", str(port)], {**base, "SERIESGUARD_HOST": "0.0.0.0"}),
    }
    for how, process in refusals.items():
        _, err = process.communicate(timeout=20)
        assert process.returncode not in (0, None), (how, err)
        assert "refusing to listen on 0.0.0.0" in err, (how, err)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "something listens after a refusal"

    secret = secrets.token_urlsafe(40)  # >= 32 characters
    secret_file = tmp_path / "secrets" / "auth-secret"
    secret_file.parent.mkdir()
    secret_file.write_text(secret + "\n")
    settings = {"SERIESGUARD_AUTH_SECRET_FILE": str(secret_file)}
    server = Server(
        home=tmp_path / "home",
        name="public",
        port=port,
        command=("serve", "--host", "0.0.0.0"),
        env=settings,
    )
    try:
        server.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/api/v1/liveness").json() == {"status": "alive"}
            assert_refused(http.get("/api/v1/models"), 401, "missing_token")
            token = mint_tokens(clean_env(**settings), {"t": ("viewer", "sam")})["t"]
            assert jwt.get_unverified_header(token)["alg"] == "HS256"
            listed = http.get("/api/v1/models", headers=bearer(token))
            assert listed.status_code == 200, listed.text
            assert_refused(
                http.post("/api/v1/admin/reload/s1", headers=bearer(token)), 403, "forbidden"
            )
    finally:
        server.stop()
    assert secret not in server.log_path.read_text(errors="replace")


def _serve(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seriesguard", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_local_operator_is_not_rate_limited(tmp_path: Path) -> None:
    """Without authentication the only caller is the machine's operator on loopback: the
    request rate limit is per token subject, and there is none (docs/security.md)."""
    server = Server(
        home=tmp_path / "home",
        name="open",
        env={"SERIESGUARD_RATE_LIMIT_PER_SECOND": "2", "SERIESGUARD_RATE_LIMIT_BURST": "6"},
    )
    try:
        server.start()
        with server.client() as http:
            codes = [http.get("/api/v1/models").status_code for _ in range(12)]
            assert codes == [200] * 12, codes
    finally:
        server.kill()


def test_audit_client_is_the_peer_even_with_the_access_log_on(tmp_path: Path) -> None:
    server = Server(home=tmp_path / "home", name="audited", env={"SERIESGUARD_ACCESS_LOG": "true"})
    try:
        server.start()
        with server.client() as http:
            reloaded = http.post(
                "/api/v1/admin/reload/s1", headers={"x-forwarded-for": "203.0.113.7"}
            )
            assert reloaded.status_code == 200, reloaded.text
            (event,) = http.get("/api/v1/admin/audit").json()["items"]
    finally:
        server.kill()
    assert event["details"]["forwarded_for"] == "203.0.113.7", event
    assert set(event["details"]) == {"forwarded_for", "request_id"}, event
    assert event["client"] == "127.0.0.1", event


# -- 4. TLS ----------------------------------------------------------------------------------


def test_serves_https_with_the_configured_certificate(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path / "tls")
    server = Server(
        home=tmp_path / "home",
        name="tls",
        env={"SERIESGUARD_TLS_CERT_FILE": str(cert), "SERIESGUARD_TLS_KEY_FILE": str(key)},
    )
    https = f"https://127.0.0.1:{server.port}"
    launch(server)
    assert server.process is not None
    try:
        trust = trusting(cert)
        wait_https(
            f"{https}/api/v1/readiness", server.process, verify=trust, describe=server.log_tail
        )
        answer = httpx.get(f"{https}/api/v1/liveness", verify=trust, timeout=10)
        assert answer.status_code == 200 and answer.json() == {"status": "alive"}
        assert answer.http_version == "HTTP/1.1"
        served = ssl.get_server_certificate(("127.0.0.1", server.port))
        assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(cert.read_text())
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{server.port}/api/v1/liveness", timeout=10)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{https}/api/v1/liveness", timeout=10)  # the system's CAs only
        assert server.process.poll() is None
    finally:
        server.stop()


# -- 5. one rate limit for all replicas, through Redis ---------------------------------------


def test_rate_limit_is_shared_by_replicas_through_redis(
    tmp_path: Path, auth: dict[str, str]
) -> None:
    verify_only = {k: v for k, v in auth.items() if k != PRIVATE_KEY}  # servers never sign
    settings = {
        **verify_only,
        "SERIESGUARD_REDIS_URL": "redis://127.0.0.1:6379/0",
        "SERIESGUARD_RATE_LIMIT_PER_SECOND": "2",
        "SERIESGUARD_RATE_LIMIT_BURST": "6",
    }
    run = uuid.uuid4().hex[:10]  # Redis outlives the test: fresh subjects, fresh buckets
    replicas = [
        Server(home=tmp_path / name, name=name, command=("predictor",), env=settings)
        for name in ("replica-1", "replica-2")
    ]
    minted: dict[str, str] = {}
    try:
        with ThreadPoolExecutor(3) as pool:
            starts = [pool.submit(replica.start) for replica in replicas]
            tokens = pool.submit(
                mint_tokens,
                clean_env(**auth),
                {
                    "limited": ("viewer", f"limited-{run}"),
                    "other": ("viewer", f"other-{run}"),
                    "warm": ("viewer", f"warm-{run}"),
                },
            )
            for start in starts:
                start.result()
            minted = tokens.result()
            # The first predict of a series builds the predictor's MLflow store (seconds): done
            # here, by another subject, so the measured burst is not spread over that time.
            warm = [pool.submit(_predict, replica.url, minted["warm"]) for replica in replicas]
            assert [w.result().status_code for w in warm] == [200, 200]
        _check_shared_limit(replicas, minted)
    finally:
        for replica in replicas:
            replica.kill()


def _predict(url: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/predict/line-7",
        json={"timestamp": 1, "value": 1.5},
        headers=bearer(token),
        timeout=60,
    )


def _check_shared_limit(replicas: list[Server], minted: dict[str, str]) -> None:
    clients = [httpx.Client(base_url=r.url, timeout=10) for r in replicas]
    try:
        limited = bearer(minted["limited"])
        answers: list[tuple[int, httpx.Response]] = []
        began = time.monotonic()
        for index in range(16):
            which = index % 2
            answer = clients[which].post(
                "/api/v1/predict/line-7", json={"timestamp": 1, "value": 1.5}, headers=limited
            )
            answers.append((which, answer))
        elapsed = time.monotonic() - began
        passed = [which for which, answer in answers if answer.status_code == 200]
        limited_by = {which for which, answer in answers if answer.status_code == 429}
        codes = [answer.status_code for _, answer in answers]
        # The burst of 6 for both together (not 6 each), plus what 2/s refilled meanwhile.
        assert 6 <= len(passed) <= 6 + int(2 * elapsed) + 1, (codes, elapsed)
        assert set(codes) == {200, 429}, codes
        assert codes[:6] == [200] * 6, codes
        assert set(passed) == {0, 1} and limited_by == {0, 1}, codes
        for _, answer in answers:
            if answer.status_code == 429:
                assert_refused(answer, 429, "rate_limited", ["header", "authorization"])
                assert int(answer.headers["retry-after"]) >= 1

        for client in clients:  # another caller is not held back by this one's limit
            answer = client.post(
                "/api/v1/predict/line-7",
                json={"timestamp": 1, "value": 1.5},
                headers=bearer(minted["other"]),
            )
            assert answer.status_code == 200, answer.text
        for client in clients:  # probes are never limited, with or without the token
            for _ in range(10):
                assert client.get("/api/v1/liveness", headers=limited).status_code == 200
                assert client.get("/api/v1/readiness", headers=limited).status_code == 200
                assert client.get("/api/v1/liveness").status_code == 200
        # Retry-After is honest: once it has passed, the caller is served again.
        for _ in range(20):
            answer = clients[0].post(
                "/api/v1/predict/line-7", json={"timestamp": 1, "value": 1.5}, headers=limited
            )
            if answer.status_code == 429:
                break
        assert answer.status_code == 429, "the bucket should be empty again"
        time.sleep(float(answer.headers["retry-after"]))
        again = clients[1].post(
            "/api/v1/predict/line-7", json={"timestamp": 1, "value": 1.5}, headers=limited
        )
        assert again.status_code == 200, again.text
    finally:
        for client in clients:
            client.close()
