"""``seriesguard drift``: the fleet drift check, one series' verdicts, and past runs."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from seriesguard.cli import Token, Url, _table, api, emit_json, fail, reporting_errors
from seriesguard.cli_server import Home, load_settings
from seriesguard.client import DEFAULT_URL
from seriesguard.core.errors import DomainError
from seriesguard.core.monitoring import SECONDS_PER_HOUR, parse_window

drift_app = typer.Typer(help="Data and concept drift: check the fleet, read verdicts and runs.")

RUN_FIELDS = [
    "id",
    "status",
    "started_at",
    "window_hours",
    "series_checked",
    "data_drifted",
    "concept_drifted",
    "insufficient",
]
FINDING_FIELDS = ["series_id", "version", "kind", "statistic", "threshold", "sample_size"]


@drift_app.command("check")
def check(
    series: Annotated[
        str | None, typer.Argument(help="One series: its verdicts, from the API.")
    ] = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every series with predictions in the window, in one pass, straight on the "
            "metadata DB; the run and its findings are stored.",
        ),
    ] = False,
    window: Annotated[
        str | None,
        typer.Option(
            help="How far back: 24h, 7d (hourly buckets); default 24h, or for --all "
            "SERIESGUARD_DRIFT_WINDOW_HOURS."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
    home: Home = None,
) -> None:
    """Check one series (through the API) or, with --all, the whole fleet (on the DB)."""
    try:
        seconds = None if window is None else parse_window(window, loc=("option", "window"))
    except DomainError as exc:
        fail(exc.rule, exc.loc, exc.message)
    if every == (series is not None):
        fail("drift_target", ("argument",), "name one SERIES, or pass --all for the whole fleet")
    if series is not None:
        with reporting_errors(), api(url, token) as client:
            document = client.series_metrics(series, window=window or "24h")
        _show_series(document["drift_detection"], as_json=as_json, series=series)
        return
    hours = None if seconds is None else seconds // SECONDS_PER_HOUR
    _check_fleet(window_hours=hours, as_json=as_json, home=home)


def _check_fleet(*, window_hours: int | None, as_json: bool, home: object) -> None:
    from seriesguard.runtime import build_runtime
    from seriesguard.store.db import upgrade

    settings = load_settings(home=home)
    window_hours = window_hours or settings.drift_window_hours
    runtime = build_runtime(settings, roles=frozenset())
    started = time.monotonic()
    try:
        upgrade(runtime.engine)
        run = runtime.drift_check.run(
            window_hours=window_hours,
            triggered_by="cli",
            progress=None if as_json else _progress,
        )
        findings = runtime.drift_runs.findings(run_id=run.id, limit=50)
    finally:
        runtime.engine.dispose()
    from seriesguard.api.schemas_monitoring import finding_out, run_out

    if as_json:
        emit_json(
            {
                "run": run_out(run).model_dump(),
                "findings": [finding_out(f).model_dump() for f in findings],
            }
        )
        return
    console = Console()
    console.print(_table("drift check", RUN_FIELDS, [run_out(run).model_dump()]))
    if findings:
        rows = [finding_out(f).model_dump() for f in findings]
        console.print(_table(f"drifted (first {len(rows)})", FINDING_FIELDS, rows))
    typer.echo(f"checked {run.series_checked:,} series in {time.monotonic() - started:.1f} s")


def _progress(done: int) -> None:
    typer.echo(f"... {done:,} series checked", err=True)


def _show_series(drift: dict[str, object], *, as_json: bool, series: str) -> None:
    if as_json:
        emit_json(drift)
        return
    console = Console()
    rows = []
    for name in ("data_drift", "concept_drift", "precision_drop"):
        verdict = drift[name]
        assert isinstance(verdict, dict)
        rows.append({"test": name, **verdict})
    fields = ["test", "reason", "statistic", "threshold", "sample_size", "reference_size"]
    console.print(_table(f"{series} v{drift['version']}", fields, rows))


@drift_app.command("runs")
def runs(
    run_id: Annotated[str | None, typer.Argument(help="One run: its findings.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Past fleet checks, newest first; or the findings of one."""
    with reporting_errors(), api(url, token) as client:
        if run_id is None:
            page = client.drift_runs(limit=limit)
            Console().print(_table("drift runs", RUN_FIELDS, page["items"]))
            return
        detail = client.drift_run(run_id, limit=limit)
    console = Console()
    console.print(_table("drift run", RUN_FIELDS, [detail["run"]]))
    console.print(_table("findings", FINDING_FIELDS, detail["findings"]))
