"""Helpers the seriesguard DAGs share: the API client, the fleet listing, alerts.

Not a DAG file. Airflow puts the DAG folder on ``sys.path``, so the DAG modules import it
by name. Everything that talks to the platform goes through ``seriesguard.client`` (httpx +
orjson only), so the Airflow venv needs neither the server's dependencies nor ours in it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from airflow.sdk import Connection, Variable

from seriesguard.client import SeriesguardClient, SeriesguardError

log = logging.getLogger(__name__)

# The Airflow-native way to point the DAGs at the API: one Connection, e.g.
#   AIRFLOW_CONN_SERIESGUARD_API='{"conn_type": "http", "host": "seriesguard-api",
#                                  "port": 8000, "password": "<bearer token>"}'
# or 'http://:<token>@seriesguard-api:8000' (https:// for TLS).
CONN_ID = "seriesguard_api"
# Optional: an incoming Slack webhook (any endpoint taking {"text": ...}) for the DAGs' alerts.
SLACK_WEBHOOK_VARIABLE = "seriesguard_slack_webhook"
# Airflow refuses to map a task over more than [core] max_map_length items (1,024 by default).
MAX_MAPPED_BATCHES = 1000
PAGE_SIZE = 1000
# Example series ids kept per skip reason in a run's summary.
EXAMPLES = 10


def base_url_of(connection: Connection) -> str:
    """``http(s)://host:port`` from a Connection, whichever way the operator wrote it."""
    host = (connection.host or "").strip().rstrip("/")
    if not host:
        raise ValueError(f"connection {CONN_ID!r} has no host")
    if "://" not in host:
        scheme = connection.schema if connection.schema in ("http", "https") else None
        scheme = scheme or ("https" if connection.conn_type == "https" else "http")
        host = f"{scheme}://{host}"
    return f"{host}:{connection.port}" if connection.port else host


def api_client(*, timeout: float = 60.0) -> SeriesguardClient:
    """A client for the API named by the ``seriesguard_api`` Connection (token = password)."""
    connection = Connection.get(CONN_ID)
    return SeriesguardClient(
        base_url_of(connection), token=connection.password or None, timeout=timeout
    )


def active_series(client: SeriesguardClient, *, page_size: int = PAGE_SIZE) -> list[str]:
    """Every series that has a Production version, paging ``GET /api/v1/models``."""
    found: list[str] = []
    offset = 0
    while True:
        page = client.models(limit=page_size, offset=offset)
        items = page.get("items") or []
        found.extend(item["series_id"] for item in items if item.get("production_version"))
        offset += len(items)
        if not items or offset >= int(page.get("total", 0)):
            return found


def chunk(items: Sequence[str], *, size: int) -> list[list[str]]:
    """Batches of at most ``size``, grown when needed to stay under Airflow's map limit."""
    if not items:
        return []
    size = max(size, math.ceil(len(items) / MAX_MAPPED_BATCHES))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def production_algorithm(client: SeriesguardClient, series_id: str) -> str | None:
    """Algorithm of the series' Production version, so retraining keeps the same detector."""
    detail = client.model(series_id)
    production = detail.get("production_version")
    for version in detail.get("versions") or []:
        if version.get("version") == production:
            algorithm = version.get("algorithm")
            return str(algorithm) if algorithm else None
    return None


def skip_reason(error: SeriesguardError) -> str | None:
    """The name a per-series refusal is counted under, or None for a real failure.

    A 429 (trained less than the rate-limit interval ago), too little history and a series
    deleted since the listing are expected on a fleet of 285,000 series: they are counted
    and reported, not retried, since retrying cannot change them within the run.
    """
    if error.status_code == 429:
        return "rate_limited"
    if error.status_code == 422 and error.rule == "insufficient_history":
        return "insufficient_history"
    if error.status_code == 404:
        return "not_found"
    return None


@dataclass
class BatchTally:
    """What one mapped task did, returned as its XCom (plain JSON)."""

    submitted: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def skip(self, series_id: str, reason: str) -> None:
        self.skipped.setdefault(reason, []).append(series_id)

    def to_json(self) -> dict[str, Any]:
        """Counts and a few example ids: XCom lives in Airflow's metadata DB, and 285,000
        job ids a week would only bloat it (the jobs themselves are listed by the API)."""
        return {
            "submitted": len(self.submitted),
            "skipped": {reason: len(ids) for reason, ids in self.skipped.items()},
            "examples": {reason: ids[:EXAMPLES] for reason, ids in self.skipped.items()},
        }


def merge_tallies(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts over every batch, for the summary task's log and return value."""
    submitted = 0
    skipped: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for result in results:
        submitted += int(result.get("submitted") or 0)
        for reason, count in (result.get("skipped") or {}).items():
            skipped[reason] = skipped.get(reason, 0) + int(count)
        for reason, ids in (result.get("examples") or {}).items():
            examples[reason] = (examples.get(reason, []) + list(ids))[:EXAMPLES]
    return {
        "batches": len(results),
        "submitted": submitted,
        "skipped": skipped,
        "examples": examples,
    }


def xcom_list(values: Sequence[Any]) -> list[Any]:
    """A mapped task's results as a list, read by index: iterating Airflow's lazy sequence
    probes one item past the end and logs an "XCom not found" error for it."""
    return [values[i] for i in range(len(values))]


def send_alert(message: str, *, severity: str = "warning") -> None:
    """Log the alert and post it to the Slack webhook Variable when one is set.

    Delivery failures are logged, never raised: an unreachable chat must not fail a DAG
    whose real work (training, promotion) already happened.
    """
    log.warning("seriesguard alert [%s]: %s", severity, message)
    url = Variable.get(SLACK_WEBHOOK_VARIABLE, default=None)
    if not url:
        return
    try:
        httpx.post(url, json={"text": f"[{severity}] {message}"}, timeout=10.0).raise_for_status()
    except httpx.HTTPError as exc:
        log.error("could not post the alert to the Slack webhook: %s", exc)
