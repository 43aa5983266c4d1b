"""``seriesguard`` command line: drive a running server over HTTP (server commands are in
``cli_server``).

Client commands go through :class:`~seriesguard.client.SeriesguardClient`, so the CLI sees
exactly what any other API user sees. Expected failures (an API error body, an unreachable
server, an unreadable CSV) print one line, ``error: <rule> at <loc>: <msg>``, on stderr and
exit with status 1: operators and scripts need the rule, not a traceback.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from seriesguard.cli_server import register_server_commands
from seriesguard.client import DEFAULT_URL, SeriesguardClient, SeriesguardError, format_loc

app = typer.Typer(
    name="seriesguard",
    help="Anomaly detection platform: one model per time series.",
    no_args_is_help=True,
    add_completion=False,
)
register_server_commands(app)

Url = Annotated[
    str, typer.Option("--url", envvar="SERIESGUARD_URL", help="Base URL of the seriesguard API.")
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="SERIESGUARD_TOKEN", help="Bearer token, if the API wants one."),
]
STATUS_STYLE = {
    "queued": "cyan",
    "processing": "yellow",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "dim",
}
STAGE_STYLE = {"Production": "bold green", "Staging": "yellow", "Archived": "dim"}
# Table columns are API field names; a few get shorter headers to fit 80-column terminals.
HEADERS = {"training_points": "points", "priority": "prio", "model_version": "version"}
JOB_FIELDS = [
    "job_id",
    "series_id",
    "status",
    "algorithm",
    "training_points",
    "priority",
    "created_at",
    "model_version",
    "error",
]
SERIES_FIELDS = [
    "series_id",
    "production_version",
    "staging_version",
    "latest_version",
    "updated_at",
]
VERSION_FIELDS = ["version", "stage", "algorithm", "created_at", "params", "metrics", "job_id"]
# Ids are copied from the table into the next command: never fold them across lines.
UNWRAPPED = frozenset({"job_id", "series_id", "version", "model_version", "status", "stage"})
Timestamp = float | str


class InputError(Exception):
    """A local input (file, option) is unusable; shaped like an API error for one output."""

    def __init__(self, rule: str, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.rule, self.loc, self.message = rule, tuple(loc), message


@dataclass(frozen=True)
class Points:
    timestamps: list[Timestamp]
    values: list[float]


def main() -> None:
    """Console-script entry point (``seriesguard = "seriesguard.cli:main"``)."""
    app()


def fail(rule: str, loc: Sequence[str | int], message: str) -> NoReturn:
    """Print the one-line error every expected failure uses, then exit 1."""
    where = f" at {format_loc(loc)}" if loc else ""
    typer.echo(f"error: {rule}{where}: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn expected failures into :func:`fail` output instead of tracebacks."""
    try:
        yield
    except SeriesguardError as exc:
        hint = f" (retry after {exc.retry_after:g}s)" if exc.retry_after is not None else ""
        fail(exc.rule, exc.loc, exc.message + hint)
    except InputError as exc:
        fail(exc.rule, exc.loc, exc.message)


@contextmanager
def api(url: str, token: str | None) -> Iterator[SeriesguardClient]:
    with reporting_errors(), SeriesguardClient(url, token=token) as client:
        yield client


def emit_json(data: Any) -> None:
    """Coloured JSON on a terminal; plain, parseable JSON when piped."""
    if sys.stdout.isatty():
        Console().print_json(data=data)
    else:
        typer.echo(json.dumps(data, indent=2))


def read_points(path: Path, *, limit: int | None = None) -> Points:
    """Read a ``timestamp,value`` CSV (NAB layout), plain or gzipped.

    Timestamps that are numbers are sent as epoch seconds; anything else is sent as the
    text it is, because the server owns timestamp parsing and reports bad ones by index.
    With ``limit``, only the most recent ``limit`` rows are kept: that is the window a
    model for today's traffic should learn from.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            kept = _rows(path.name, csv.reader(handle), deque(maxlen=limit))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError("csv_unreadable", (str(path),), str(exc)) from exc
    if not kept:
        raise InputError("csv_empty", (path.name,), "the file has no data rows")
    return Points(timestamps=[t for t, _ in kept], values=[v for _, v in kept])


def _rows(
    name: str, rows: Iterator[list[str]], kept: deque[tuple[Timestamp, float]]
) -> deque[tuple[Timestamp, float]]:
    ts_col, value_col = _header_columns(name, next(rows, None))
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(ts_col, value_col):
            raise InputError("csv_row", (f"{name}:{line}",), f"too few columns: {row}")
        kept.append((_number_or_text(row[ts_col]), _value_cell(row[value_col], f"{name}:{line}")))
    return kept


def _header_columns(name: str, header: list[str] | None) -> tuple[int, int]:
    names = [cell.strip().lower() for cell in header or []]
    missing = [column for column in ("timestamp", "value") if column not in names]
    if missing:
        raise InputError(
            "csv_header",
            (f"{name}:1",),
            f"header must name columns 'timestamp' and 'value'; missing {missing}, got {names}",
        )
    return names.index("timestamp"), names.index("value")


def _number_or_text(text: str) -> Timestamp:
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _value_cell(text: str, where: str) -> float:
    number = _number_or_text(text)
    if not isinstance(number, float):
        raise InputError("csv_value", (where, "value"), f"{text.strip()!r} is not a finite number")
    return number


@app.command()
def train(
    series: Annotated[str, typer.Argument(help="Series id, e.g. sensor-0042:x.")],
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="CSV with a 'timestamp,value' header; .csv.gz too."),
    ] = None,
    window_hours: Annotated[
        int | None,
        typer.Option(min=1, help="Instead of --csv: train on the stored history of N hours."),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    algorithm: Annotated[
        str | None,
        typer.Option(
            help="Detector algorithm; default the server's (residual), or statistical "
            "with --threshold-sigma."
        ),
    ] = None,
    threshold_sigma: Annotated[
        float | None,
        typer.Option(help="Flag points beyond this many std (z-score style detectors)."),
    ] = None,
    priority: Annotated[int, typer.Option(min=1, max=10, help="1 lowest, 10 highest.")] = 5,
    limit_points: Annotated[
        int | None, typer.Option(min=1, help="Send only the most recent N rows.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends.")] = False,
    wait_timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 3600.0,
) -> None:
    """Submit a training job with the points of a CSV file, or on the series' stored history
    (--window-hours)."""
    if (csv_file is None) == (window_hours is None):
        fail("points_or_window", ("--csv",), "give either --csv or --window-hours")
    points = None
    if csv_file is not None:
        with reporting_errors():
            points = read_points(csv_file, limit=limit_points)
    hyperparameters = {} if threshold_sigma is None else {"threshold_sigma": threshold_sigma}
    if algorithm is None and threshold_sigma is not None:
        algorithm = "statistical"  # the option is the seed's z-score knob
    with api(url, token) as client:
        submitted = client.train(
            series,
            timestamps=points.timestamps if points else None,
            values=points.values if points else None,
            window_hours=window_hours,
            algorithm=algorithm,
            hyperparameters=hyperparameters,
            priority=priority,
        )
        job_id = submitted["job_id"]
        count = submitted["training_points"]
        typer.echo(f"job {job_id} {submitted['status']}: {series}, {count} points")
        if wait:
            _report_outcome(_follow(client, job_id, timeout=wait_timeout))


def _follow(client: SeriesguardClient, job_id: str, *, timeout: float) -> dict[str, Any]:
    """Poll the job behind a spinner on stderr, so stdout keeps only the outcome."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"job {job_id}: queued")

        def show(state: dict[str, Any]) -> None:
            status = _cell("status", state.get("status"))
            progress.update(task, description=f"job {job_id}: {status}")

        return client.wait_for_job(job_id, timeout=timeout, poll_interval=1.0, on_update=show)


def _report_outcome(final: dict[str, Any]) -> None:
    """Completed prints the new version; failed or cancelled is an error (exit 1)."""
    status = final["status"]
    if status == "completed":
        typer.echo(
            f"completed: {final['series_id']} version {final.get('model_version')} (Staging)"
        )
        return
    fail(f"job_{status}", ("job", final["job_id"]), final.get("error") or f"job {status}")


@app.command("jobs")
def list_jobs(
    url: Url = DEFAULT_URL,
    token: Token = None,
    series: Annotated[str | None, typer.Option(help="Only this series.")] = None,
    status: Annotated[str | None, typer.Option(help="queued|processing|completed|…")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List training jobs, newest first."""
    with api(url, token) as client:
        page = client.jobs(series_id=series, status=status, limit=limit, offset=offset)
    Console().print(_table(_page_title("jobs", page), JOB_FIELDS, page["items"]))


def _table(title: str, fields: Sequence[str], items: Iterable[dict[str, Any]]) -> Table:
    """API objects as rows, one column per field, so every listing looks the same."""
    table = Table(title=title)
    for field in fields:
        header = HEADERS.get(field) or field.removesuffix("_at").replace("_", " ")
        table.add_column(header, overflow="fold", no_wrap=field in UNWRAPPED)
    for item in items:
        table.add_row(*(_cell(field, item.get(field)) for field in fields))
    return table


def _cell(field: str, value: Any) -> str:
    """One table cell as rich markup: styled states, short dates, escaped free text."""
    if value is None or value == "" or value == {}:
        return "-"
    if field.endswith("_at"):
        return str(value)[:19].replace("T", " ")
    style = {**STATUS_STYLE, **STAGE_STYLE}.get(value) if field in ("status", "stage") else None
    if style:
        return f"[{style}]{value}[/]"
    if isinstance(value, dict):
        value = " ".join(f"{k}={_number(v)}" for k, v in value.items())
    return escape(str(value)[:160])


def _number(value: Any) -> str:
    """Whole floats as integers (counts, epoch seconds), others to 6 significant digits."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _page_title(noun: str, page: dict[str, Any]) -> str:
    shown = len(page["items"])
    first = page["offset"] + 1 if shown else 0
    return f"{noun} {first}-{page['offset'] + shown} of {page['total']}"


@app.command()
def job(job_id: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Show one training job as JSON."""
    with api(url, token) as client:
        emit_json(client.job(job_id))


@app.command()
def cancel(job_id: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Cancel a queued or running training job."""
    with api(url, token) as client:
        emit_json(client.cancel(job_id))


@app.command()
def promote(
    series: str,
    version: str,
    url: Url = DEFAULT_URL,
    token: Token = None,
    archive: Annotated[
        bool, typer.Option("--archive/--no-archive", help="Archive the previous production.")
    ] = True,
) -> None:
    """Promote a version of a series to Production (direct rollout)."""
    with api(url, token) as client:
        result = client.promote(series, version, archive_existing=archive)
    previous = result.get("previous_version")
    note = f"; previous {previous} {'archived' if result.get('archived') else 'kept'}"
    typer.echo(f"{series} version {result['version']} is Production{note if previous else ''}")


@app.command()
def rollback(
    series: str,
    url: Url = DEFAULT_URL,
    token: Token = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Version to serve again (default: the previous).")
    ] = None,
) -> None:
    """Serve an earlier version of a series again; the current production one is archived."""
    with api(url, token) as client:
        result = client.rollback(series, to_version=to)
    typer.echo(
        f"{series} version {result['version']} is Production again; "
        f"{result['previous_version']} archived"
    )


@app.command()
def predict(
    series: str,
    timestamp: Annotated[str, typer.Option(help="Epoch seconds or ISO-8601.")],
    value: Annotated[float, typer.Option(help="Observed value.")],
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Score one point and print the prediction as JSON."""
    with api(url, token) as client:
        emit_json(client.predict(series, timestamp=_number_or_text(timestamp), value=value))


@app.command()
def reload(series: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Make the predictor load the series' production model now."""
    with api(url, token) as client:
        emit_json(client.reload(series))


AUDIT_FIELDS = (
    "id",
    "at",
    "subject",
    "roles",
    "action",
    "series_id",
    "version",
    "job_id",
    "client",
)


@app.command()
def audit(
    url: Url = DEFAULT_URL,
    token: Token = None,
    action: Annotated[
        str | None, typer.Option(help="promote|rollback|cancel|reload|feedback")
    ] = None,
    series: Annotated[str | None, typer.Option(help="Only this series.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this caller.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    before: Annotated[int | None, typer.Option(help="Events older than this id.")] = None,
) -> None:
    """Who promoted, cancelled or reloaded what, newest first (needs an admin token)."""
    with api(url, token) as client:
        page = client.audit(
            action=action, series_id=series, subject=subject, limit=limit, before_id=before
        )
    rows = [{**e, "roles": " ".join(e["roles"])} for e in page["items"]]
    more = f" (older: --before {page['next_before_id']})" if page["next_before_id"] else ""
    Console().print(_table(f"audit: {len(rows)} events{more}", AUDIT_FIELDS, rows))


# Last: the models group reuses the helpers above (table rendering, error reporting).
from seriesguard.cli_models import models_app  # noqa: E402

app.add_typer(models_app, name="models")

from seriesguard.cli_drift import drift_app  # noqa: E402

app.add_typer(drift_app, name="drift")

from seriesguard.cli_promotions import promotions_app, register_promote  # noqa: E402

app.add_typer(promotions_app, name="promotions")
register_promote(models_app)

from seriesguard.cli_runs import runs_app  # noqa: E402

app.add_typer(runs_app, name="runs")

from seriesguard.cli_history import register_history_commands  # noqa: E402

register_history_commands(app)

from seriesguard.cli_token import register_token_commands  # noqa: E402

register_token_commands(app)

from seriesguard.cli_evaluate import register_evaluate_command  # noqa: E402

register_evaluate_command(app)
