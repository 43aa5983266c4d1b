"""An HTTP endpoint in the test process that alerts can be posted to: what a Slack incoming
webhook or PagerDuty's Events API would receive, kept as parsed JSON a test can assert on.

    receiver = WebhookReceiver().start()
    settings = ...(alert_webhook_url=receiver.url, alert_pagerduty_url=receiver.url + "/v2/enqueue")
    ...
    body = receiver.wait_for(lambda b: b["seriesguard"]["kind"] == "rollback", timeout=10)
    receiver.stop()

``fail_next(n)`` answers the next n posts with 500 (they are still recorded in ``attempts``,
not in ``received``), to drive the retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class WebhookReceiver:
    """Listens on 127.0.0.1 on a free port between ``start()`` and ``stop()`` (or a ``with``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._received: list[dict[str, Any]] = []
        self._paths: list[str] = []
        self.attempts = 0  # every POST, failed or not
        self._fail = 0
        self._fail_status = 500
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def received(self) -> list[dict[str, Any]]:
        """The JSON bodies answered with success, in arrival order."""
        with self._cond:
            return list(self._received)

    @property
    def paths(self) -> list[str]:
        """The request path of each body in ``received``."""
        with self._cond:
            return list(self._paths)

    def fail_next(self, n: int, *, status: int = 500) -> None:
        with self._cond:
            self._fail = n
            self._fail_status = status

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first received body matching ``predicate``; TimeoutError if none came in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for body in self._received:
                    if predicate(body):
                        return body
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching body among {len(self._received)} received")
                self._cond.wait(left)

    def _record(self, path: str, body: dict[str, Any]) -> int:
        with self._cond:
            self.attempts += 1
            if self._fail > 0:
                self._fail -= 1
                return self._fail_status
            self._received.append(body)
            self._paths.append(path)
            self._cond.notify_all()
            return 202 if path.endswith("/v2/enqueue") else 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                status = receiver._record(
                    self.path, body if isinstance(body, dict) else {"_": body}
                )
                # PagerDuty answers 202 with a small JSON; Slack answers 200 "ok".
                if status == 202:
                    payload = b'{"status":"success","message":"Event processed"}'
                    ctype = "application/json"
                elif status == 200:
                    payload, ctype = b"ok", "text/plain"
                else:
                    payload, ctype = b'{"status":"error"}', "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
