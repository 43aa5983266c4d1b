"""Python client of the seriesguard HTTP API.

A thin, synchronous wrapper over ``httpx`` so scripts, notebooks and the CLI talk to the
platform the same way. Every method returns the decoded JSON body as a ``dict``: the API's
shapes are documented by its OpenAPI schema, and mirroring them here as classes would only
add a second copy to keep in step. Every failure, whether the server answered with an error
body or could not be reached at all, surfaces as one exception type, :class:`SeriesguardError`,
carrying the same ``rule``/``loc``/``msg`` triple the server sends, so callers branch on the
rule name instead of parsing messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
import orjson

from seriesguard.client_arrow import (
    ARROW_MEDIA_TYPE,
    ArrowBatchAnswer,
    decode_arrow_answer,
    encode_arrow_batch,
)

DEFAULT_URL = "http://127.0.0.1:8000"
FINISHED_STATUSES = frozenset({"completed", "failed", "cancelled"})
FINISHED_PROMOTION_STATES = frozenset({"completed", "rolled_back", "rejected"})
FINISHED_RUN_STATUSES = frozenset({"succeeded", "failed", "skipped"})

Loc = tuple[str | int, ...]
Timestamp = float | int | str
JobCallback = Callable[[dict[str, Any]], None]


class SeriesguardError(Exception):
    """An API call failed; ``rule`` names the broken rule and ``loc`` where it broke.

    ``status_code`` is the HTTP status, or 0 when no HTTP answer arrived (unreachable
    server, timeout). ``details`` keeps every entry of the error body, because a validation
    error can list several; the first one is promoted to ``rule``/``loc``/``message``.
    """

    def __init__(
        self,
        status_code: int,
        rule: str,
        loc: Sequence[str | int],
        message: str,
        *,
        retry_after: float | None = None,
        details: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.rule = rule
        self.loc: Loc = tuple(loc)
        self.message = message
        self.retry_after = retry_after
        self.details: list[dict[str, Any]] = [dict(d) for d in details]

    def __str__(self) -> str:
        where = f" at {format_loc(self.loc)}" if self.loc else ""
        return f"{self.rule}{where}: {self.message}"


class ServerUnreachable(SeriesguardError):
    """No HTTP answer at all: refused connection, DNS failure, timeout, broken transport."""


class JobWaitTimeout(SeriesguardError, TimeoutError):
    """The job was still running when :meth:`SeriesguardClient.wait_for_job` gave up."""


def format_loc(loc: Sequence[str | int]) -> str:
    """``("body", "timestamps", 17)`` -> ``body.timestamps[17]``: how people write paths."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class SeriesguardClient:
    """One method per endpoint of the seriesguard API; reuse one instance (keeps connections).

    Use it as a context manager, or call :meth:`close`, so pooled connections are released.
    """

    def __init__(
        self, base_url: str = DEFAULT_URL, *, token: str | None = None, timeout: float = 30.0
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "seriesguard-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- training jobs -------------------------------------------------------------------

    def train(
        self,
        series_id: str,
        *,
        timestamps: Sequence[Timestamp] | None = None,
        values: Sequence[float] | None = None,
        window_hours: int | None = None,
        algorithm: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        priority: int = 5,
    ) -> dict[str, Any]:
        """Submit a training job; the answer is the queued job (202), not the model. Send
        the points, or ``window_hours`` to train on the series' stored history of the last
        N hours (points the predictor saw and points sent with :meth:`send_data`)."""
        config: dict[str, Any] = {
            "hyperparameters": dict(hyperparameters or {}),
            "priority": priority,
        }
        if algorithm is not None:  # else the server's default algorithm
            config["algorithm"] = algorithm
        body: dict[str, Any] = {"config": config}
        if window_hours is not None:
            config["window_hours"] = window_hours
        if timestamps is not None or values is not None:
            body["timestamps"] = list(timestamps or [])
            body["values"] = list(values or [])
        return self._call("POST", f"/api/v1/training/{_seg(series_id)}", json=body)

    def send_data(
        self, series_id: str, *, timestamps: Sequence[Timestamp], values: Sequence[float]
    ) -> dict[str, Any]:
        """Store points of a series in the history store (at most 100,000 per call;
        idempotent): ``{"series_id", "accepted", "duplicates", "first", "last",
        "retained_until"}``."""
        body = {"timestamps": list(timestamps), "values": list(values)}
        return self._call("POST", f"/api/v1/series/{_seg(series_id)}/data", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/training/jobs/{_seg(job_id)}")

    def jobs(
        self,
        *,
        series_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        params = _query(series_id=series_id, status=status, limit=limit, offset=offset)
        return self._call("GET", "/api/v1/training/jobs", params=params)

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/api/v1/training/jobs/{_seg(job_id)}")

    def wait_for_job(
        self,
        job_id: str,
        *,
        timeout: float = 3600.0,
        poll_interval: float = 1.0,
        on_update: JobCallback | None = None,
    ) -> dict[str, Any]:
        """Poll until the job is completed, failed or cancelled, and return its last state.

        Polling (not a push channel) because the API is plain request/response and a job
        lasts seconds to minutes. ``on_update`` sees every polled state so a caller can draw
        progress. A failed job is returned, not raised: failing is a legitimate end state.
        """
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_update is not None:
                on_update(job)
            if job.get("status") in FINISHED_STATUSES:
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobWaitTimeout(
                    0,
                    "wait_timeout",
                    ("job", job_id),
                    f"job still {job.get('status')!r} after {timeout:g}s",
                )
            time.sleep(min(poll_interval, remaining))

    # -- models and promotion ------------------------------------------------------------

    def models(
        self, *, limit: int = 50, offset: int = 0, prefix: str | None = None
    ) -> dict[str, Any]:
        params = _query(limit=limit, offset=offset, prefix=prefix)
        return self._call("GET", "/api/v1/models", params=params)

    def model(self, series_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/models/{_seg(series_id)}")

    def promote(
        self,
        series_id: str,
        version: str | int,
        *,
        archive_existing: bool = True,
        strategy: str = "direct",
        canary_config: Mapping[str, Any] | None = None,
        shadow_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """direct: Production now. canary / shadow: starts a promotion (the answer carries
        its ``promotion_id``; follow it with :meth:`wait_for_promotion`)."""
        path = f"/api/v1/models/{_seg(series_id)}/versions/{_seg(str(version))}/promote"
        body: dict[str, Any] = {"strategy": strategy, "archive_existing": archive_existing}
        if canary_config is not None:
            body["canary_config"] = dict(canary_config)
        if shadow_config is not None:
            body["shadow_config"] = dict(shadow_config)
        return self._call("POST", path, json=body)

    def rollback(self, series_id: str, *, to_version: str | int | None = None) -> dict[str, Any]:
        """Serve an earlier version again (default: the one the current production replaced)."""
        body = {} if to_version is None else {"to_version": str(to_version)}
        return self._call("POST", f"/api/v1/models/{_seg(series_id)}/rollback", json=body)

    # -- canary and shadow promotions ----------------------------------------------------

    def promotion(self, promotion_id: str) -> dict[str, Any]:
        """One promotion with its events and last gate figures."""
        return self._call("GET", f"/api/v1/promotions/{_seg(promotion_id)}")

    def promotions(
        self,
        *,
        series_id: str | None = None,
        state: str | None = None,
        active: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Promotions, newest first: ``{"items", "total", "limit", "offset"}``."""
        flag = None if active is None else str(active).lower()
        params = _query(series_id=series_id, state=state, active=flag, limit=limit, offset=offset)
        return self._call("GET", "/api/v1/promotions", params=params)

    def rollback_promotion(self, promotion_id: str, *, reason: str | None = None) -> dict[str, Any]:
        """End a canary or shadow now: production alone serves, the new version is Archived."""
        return self._promotion_action(promotion_id, "rollback", reason)

    def pause_promotion(self, promotion_id: str, *, reason: str | None = None) -> dict[str, Any]:
        return self._promotion_action(promotion_id, "pause", reason)

    def resume_promotion(self, promotion_id: str, *, reason: str | None = None) -> dict[str, Any]:
        return self._promotion_action(promotion_id, "resume", reason)

    def _promotion_action(
        self, promotion_id: str, action: str, reason: str | None
    ) -> dict[str, Any]:
        body = {} if reason is None else {"reason": reason}
        return self._call("POST", f"/api/v1/promotions/{_seg(promotion_id)}/{action}", json=body)

    def wait_for_promotion(
        self,
        promotion_id: str,
        *,
        until: frozenset[str] = FINISHED_PROMOTION_STATES,
        timeout: float = 7 * 24 * 3600.0,
        poll: float = 1.0,
    ) -> dict[str, Any]:
        """Poll until the promotion's state is one of ``until`` (by default: it ended, as
        completed, rolled_back or rejected); returns it. A rollout lasts hours: pass a
        ``timeout`` that fits its plan."""
        deadline = time.monotonic() + timeout
        while True:
            promotion = self.promotion(promotion_id)
            if promotion.get("state") in until:
                return promotion
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobWaitTimeout(
                    0,
                    "wait_timeout",
                    ("promotion", promotion_id),
                    f"promotion still {promotion.get('state')!r} after {timeout:g}s",
                )
            time.sleep(min(poll, remaining))

    def deployment_config(self, series_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/models/{_seg(series_id)}/deployment-config")

    # -- inference and operations --------------------------------------------------------

    def predict(self, series_id: str, *, timestamp: Timestamp, value: float) -> dict[str, Any]:
        body = {"timestamp": timestamp, "value": value}
        return self._call("POST", f"/api/v1/predict/{_seg(series_id)}", json=body)

    def predict_batch(self, series: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Score many series at once; each item is ``{series_id, timestamps, values}``, the
        lists as Python sequences or numpy arrays. orjson writes and reads the body: for a
        million points the standard library takes several times longer."""
        body = orjson.dumps(
            {"series": [dict(item) for item in series]}, option=orjson.OPT_SERIALIZE_NUMPY
        )
        # orjson writes NaN and infinity as null; in a list of points that can only be one.
        if b"[null" in body or b",null" in body:
            raise SeriesguardError(
                0, "finite_values", ("body",), "JSON cannot carry NaN, infinity or None values"
            )
        response = self._send(
            "POST",
            "/api/v1/predict/batch",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        return _json_object(response)

    def predict_batch_arrow(self, points: Any) -> ArrowBatchAnswer:
        """Score many points of many series, sent and answered as Arrow IPC streams.

        ``points`` is a ``pyarrow.Table`` (or record batch) with columns ``series_id``,
        ``timestamp`` and ``value``, or a mapping of those names to sequences or numpy arrays;
        rows in any order. Text series ids are dictionary-encoded before sending (a few bytes
        per point instead of the whole id). The answer's table has one row per point sent,
        in the order sent. Needs pyarrow.
        """
        response = self._send(
            "POST",
            "/api/v1/predict/batch",
            content=encode_arrow_batch(points),
            headers={"Content-Type": ARROW_MEDIA_TYPE, "Accept": ARROW_MEDIA_TYPE},
        )
        try:
            return decode_arrow_answer(response.content)
        except ValueError as exc:
            raise SeriesguardError(
                response.status_code, "unexpected_response", (), str(exc)
            ) from exc

    def reload(self, series_id: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/admin/reload/{_seg(series_id)}")

    def audit(
        self,
        *,
        action: str | None = None,
        series_id: str | None = None,
        subject: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> dict[str, Any]:
        """The audit log, newest first (admin); page on with ``before_id=next_before_id``."""
        params = _query(
            action=action, series_id=series_id, subject=subject, limit=limit, before_id=before_id
        )
        return self._call("GET", "/api/v1/admin/audit", params=params)

    def series_metrics(self, series_id: str, *, window: str = "24h") -> dict[str, Any]:
        """Rates, latency, quality and drift verdicts of a series over ``window`` (24h, 7d)."""
        return self._call(
            "GET", f"/api/v1/models/{_seg(series_id)}/metrics", params={"window": window}
        )

    def send_feedback(self, series_id: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
        """Ground truth: ``[{"timestamp": ..., "is_anomaly": bool}, ...]``."""
        return self._call("POST", f"/api/v1/feedback/{_seg(series_id)}", json=labels)

    def drift_runs(self, *, limit: int = 20) -> dict[str, Any]:
        return self._call("GET", "/api/v1/drift/runs", params={"limit": limit})

    def drift_run(self, run_id: str, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        return self._call(
            "GET", f"/api/v1/drift/runs/{_seg(run_id)}", params={"limit": limit, "offset": offset}
        )

    # -- scheduler runs ------------------------------------------------------------------

    def scheduler_runs(
        self,
        *,
        task: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Recorded runs of the scheduled tasks, newest first: ``{"runs": [...], "total"}``."""
        params = _query(task=task, status=status, limit=limit, offset=offset)
        return self._call("GET", "/api/v1/scheduler/runs", params=params)

    def scheduler_run(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/scheduler/runs/{_seg(run_id)}")

    def scheduler_tasks(self) -> dict[str, Any]:
        """The recorded tasks: schedule, next fire, last run."""
        return self._call("GET", "/api/v1/scheduler/tasks")

    def trigger_scheduler_run(self, task: str) -> dict[str, Any]:
        """Queue a run of ``task`` (weekly_retraining, drift_check) now; the scheduler starts
        it on its next tick. 409 (rule run_in_progress) while one is queued or running."""
        return self._call("POST", "/api/v1/scheduler/runs", json={"task": task})

    def wait_for_scheduler_run(
        self, run_id: str, *, timeout: float = 3600.0, poll: float = 1.0
    ) -> dict[str, Any]:
        """Poll until the run has finished (succeeded, failed or skipped); returns it."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.scheduler_run(run_id)
            if run.get("status") in FINISHED_RUN_STATUSES:
                return run
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobWaitTimeout(
                    0,
                    "wait_timeout",
                    ("run", run_id),
                    f"scheduler run still {run.get('status')!r} after {timeout:g}s",
                )
            time.sleep(min(poll, remaining))

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def plot(self, series_id: str, *, version: str | int | None = None, fmt: str = "png") -> bytes:
        """Image of a version over its training data (production, else latest, by default)."""
        params = _query(series_id=series_id, version=version, format=fmt)
        return self._send("GET", "/api/v1/plot", params=params).content

    # -- transport -----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        return _json_object(self._send(method, path, json=json, params=params))

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request; every failure leaves as :class:`SeriesguardError`."""
        try:
            response = self._http.request(
                method, path, json=json, params=params, content=content, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                0, "timeout", (), f"{self.base_url} did not answer in time ({exc})"
            ) from exc
        except httpx.ConnectError as exc:
            raise ServerUnreachable(
                0, "unreachable", (), f"cannot connect to {self.base_url} ({exc})"
            ) from exc
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                0, "transport_error", (), f"request to {self.base_url} failed ({exc})"
            ) from exc
        except ValueError as exc:  # NaN/inf in a body: JSON cannot carry them
            raise SeriesguardError(0, "finite_values", ("body",), str(exc)) from exc
        if response.is_error:
            raise error_from_response(response)
        return response


def error_from_response(response: httpx.Response) -> SeriesguardError:
    """Map an error answer to :class:`SeriesguardError`, tolerating non-API bodies.

    A proxy or load balancer in front of the API can answer with HTML or plain text; the
    status code is still meaningful, so the first bytes of the body become the message.
    """
    retry_after = _retry_after(response.headers.get("Retry-After"))
    details = _detail_entries(response)
    if not details:
        text = response.text.strip()[:300] or response.reason_phrase
        return SeriesguardError(
            response.status_code, "http_error", (), text, retry_after=retry_after
        )
    first = details[0]
    return SeriesguardError(
        response.status_code,
        str(first.get("type") or "http_error"),
        _loc_of(first.get("loc")),
        str(first.get("msg") or response.reason_phrase),
        retry_after=retry_after,
        details=details,
    )


def _detail_entries(response: httpx.Response) -> list[dict[str, Any]]:
    """The broken rules of an API error body (``{"error": {"code", "message", "details"}}``).

    A bare ``{"detail": ...}`` (a framework or proxy in front of us) is read too, so the
    status and text still reach the caller.
    """
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    error = body.get("error")
    if isinstance(error, dict):
        details = error.get("details")
        entries = [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
        if entries:
            return entries
        code, message = error.get("code"), error.get("message")
        return [{"type": code or "http_error", "loc": [], "msg": message or ""}]
    detail = body.get("detail")
    if isinstance(detail, str):
        return [{"type": "http_error", "loc": [], "msg": detail}]
    if isinstance(detail, list):
        return [d for d in detail if isinstance(d, dict)]
    return []


def _loc_of(raw: object) -> list[str | int]:
    if not isinstance(raw, list | tuple):
        return []
    return [part if isinstance(part, int) else str(part) for part in raw]


def _json_object(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = orjson.loads(response.content)  # several times faster on large answers
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SeriesguardError(
            response.status_code,
            "unexpected_response",
            (),
            f"expected a JSON object from {response.request.url}, got {response.text[:100]!r}",
        )
    return body


def _retry_after(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None  # an HTTP-date; rare, and the message already says to retry later


def _seg(part: str) -> str:
    """Quote one path segment so an id can never reach another route."""
    return quote(part, safe="")


def _query(**params: str | int | None) -> dict[str, str | int]:
    """Drop unset parameters so the server applies its own defaults."""
    return {name: value for name, value in params.items() if value is not None}
