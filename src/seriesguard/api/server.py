"""The HTTP server around the app: uvicorn on uvloop and httptools, tuned for many small
requests, in one process or several sharing one listening socket.

Measured on the predictor (2-core machine, single predicts): the socket writes are the largest
cost of a request once the route itself is lean. uvicorn writes a response's head and body
with one ``send`` each; :class:`CoalescingTransport` joins the writes of one event-loop step
into one, which is one trip through the kernel's TCP stack instead of two, for the server and
for the client reading the answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from seriesguard.api.security import check_bind_address
from seriesguard.observability.logging import configure_logging
from seriesguard.observability.metrics_share import clear_snapshots
from seriesguard.runtime import ALL_IN_ONE, Role, build_runtime
from seriesguard.settings import Settings

log = logging.getLogger(__name__)

# What each process of a multi-process server needs from its parent: the settings (with
# the command-line options already applied), its roles and its name, as JSON in its environment.
PROCESS_SETTINGS_ENV = "SERIESGUARD_SERVER_PROCESS_SETTINGS"
PROCESS_ROLES_ENV = "SERIESGUARD_SERVER_PROCESS_ROLES"
PROCESS_NAME_ENV = "SERIESGUARD_SERVER_PROCESS_NAME"


LARGE_WRITE = 64 * 1024


class CoalescingTransport:
    """A transport whose writes within one event-loop step leave in one ``send``.

    The first write of a step schedules a flush with ``call_soon``; the head and the body of
    a response, written back to back by uvicorn, are joined there; a large write (a batch
    answer, a plot) goes out at once after what is pending. Everything but ``write``,
    ``writelines`` and ``close`` (which flushes first) goes straight to the real transport,
    flow control included: one step's writes are all that is ever held back.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if len(data) >= LARGE_WRITE:  # a big body: one more send is cheaper than a copy
            self._flush()
            self._transport.write(data)
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def is_closing(self) -> bool:  # asked after every response: spare it __getattr__
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        loop = asyncio.get_running_loop()
        coalescing: Any = CoalescingTransport(transport, loop)
        super().connection_made(coalescing)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings every seriesguard server runs with."""
    return tls_options(settings) | {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": CoalescingHttpToolsProtocol,
        "log_level": settings.log_level.lower(),
        "log_config": None,  # uvicorn's records go through our handler (JSON in containers)
        # A log line per request costs more than a prediction: off unless asked for.
        "access_log": settings.access_log,
        # X-Forwarded-For sets the client address the access log and the audit log record:
        # believed only from the proxies named, or anyone could write the audit trail.
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
        "timeout_graceful_shutdown": 30,
    }


def tls_options(settings: Settings) -> dict[str, Any]:
    """HTTPS when a certificate and its key are given (both or neither)."""
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise ValueError(
            "TLS needs both SERIESGUARD_TLS_CERT_FILE and SERIESGUARD_TLS_KEY_FILE; one is unset"
        )
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def check_exposure(settings: Settings, roles: frozenset[Role]) -> None:
    """A process with routes beyond the probes listens on loopback only, unless tokens are
    checked (:class:`~seriesguard.api.security.UnsafeBind` otherwise)."""
    if roles & {Role.API, Role.PREDICTOR}:
        check_bind_address(host=settings.host, auth_enabled=settings.auth_enabled)


def process_settings_json(settings: Settings) -> str:
    """The settings as JSON for the server's child processes, secrets included: pydantic
    masks them when dumping, and a child needs the real value to check tokens."""
    payload = settings.model_dump(mode="json", by_alias=False)
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            payload[name] = value.get_secret_value()
    return json.dumps(payload)


def serve(
    settings: Settings,
    *,
    roles: frozenset[Role] = ALL_IN_ONE,
    name: str = "serve",
    workers: int = 1,
) -> None:
    """Run until SIGINT/SIGTERM; uvicorn then stops taking requests, finishes the ones in
    flight and runs the shutdown, where a worker finishes the job in hand.

    With ``workers`` > 1, a parent process binds the socket and supervises that many server
    processes (uvicorn's workers, restarting any that dies); each builds its own runtime from
    the same settings, so each predictor warm-loads the whole catalog and polls it on its own.
    An eager ``POST /admin/reload`` reaches the one process that takes it; the others see a
    promotion through the catalog poll. The processes share their metrics through one folder
    (``settings.metrics_dir``, or a temporary one removed at the end), so that ``/metrics``
    in any of them reports the whole server."""
    check_exposure(settings, roles)
    configure_logging(level=settings.log_level, fmt=settings.log_format, process_role=name)
    options = uvicorn_options(settings)
    if workers <= 1:
        from seriesguard.api.app import serving_app

        uvicorn.run(serving_app(build_runtime(settings, roles=roles)), **options)
        return
    metrics_dir, made_here = server_metrics_dir(settings)
    children = settings.model_copy(update={"metrics_dir": metrics_dir})
    os.environ[PROCESS_SETTINGS_ENV] = process_settings_json(children)
    os.environ[PROCESS_ROLES_ENV] = ",".join(sorted(roles))
    os.environ[PROCESS_NAME_ENV] = name
    try:
        uvicorn.run(f"{__name__}:process_app", factory=True, workers=workers, **options)
    finally:
        if made_here:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def server_metrics_dir(settings: Settings) -> tuple[Path, bool]:
    """The folder a multi-process server's processes share their metrics through, and
    whether it was made here (a temporary one, removed when the server ends). A configured
    one is emptied of a previous server's snapshots: counters start from zero, as they do
    in a single process."""
    if settings.metrics_dir is None:
        return Path(tempfile.mkdtemp(prefix="seriesguard-metrics-")), True
    settings.metrics_dir.mkdir(parents=True, exist_ok=True)
    clear_snapshots(settings.metrics_dir)
    return settings.metrics_dir, False


def process_app() -> ASGIApp:
    """App factory of one server process (uvicorn imports it by name in each process)."""
    from seriesguard.api.app import serving_app

    settings = Settings.model_validate_json(os.environ[PROCESS_SETTINGS_ENV], by_name=True)
    roles = frozenset(Role(r) for r in os.environ[PROCESS_ROLES_ENV].split(","))
    name = os.environ.get(PROCESS_NAME_ENV, "server")
    configure_logging(level=settings.log_level, fmt=settings.log_format, process_role=name)
    log.info("server process %d building its runtime", os.getpid())
    return serving_app(build_runtime(settings, roles=roles))
