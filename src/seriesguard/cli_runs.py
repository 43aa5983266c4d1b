"""``seriesguard runs``: the scheduler's recorded runs (weekly retraining, drift check)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from seriesguard.cli import Token, Url, _table, api, emit_json
from seriesguard.client import DEFAULT_URL

runs_app = typer.Typer(
    help="Runs of the scheduled tasks: list, show, run one now.", no_args_is_help=True
)

RUN_FIELDS = ["id", "task", "status", "triggered_by", "started_at", "finished_at", "progress"]
TASK_FIELDS = ["name", "schedule", "next_fire", "last_status", "last_started"]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@runs_app.command("list")
def list_runs(
    task: Annotated[str | None, typer.Option(help="Only this task.")] = None,
    status: Annotated[
        str | None, typer.Option(help="queued, running, succeeded, failed or skipped.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Json = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Recorded runs, newest first."""
    with api(url, token) as client:
        page = client.scheduler_runs(task=task, status=status, limit=limit, offset=offset)
    if as_json:
        emit_json(page)
        return
    shown = len(page["runs"])
    title = f"scheduler runs {offset + 1 if shown else 0}-{offset + shown} of {page['total']}"
    Console().print(_table(title, RUN_FIELDS, page["runs"]))


@runs_app.command("show")
def show(run_id: str, as_json: Json = False, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """One run with its progress counts."""
    with api(url, token) as client:
        run = client.scheduler_run(run_id)
    _print_run(run, as_json=as_json)


@runs_app.command("trigger")
def trigger(
    task: Annotated[str, typer.Argument(help="weekly_retraining or drift_check.")],
    wait: Annotated[bool, typer.Option(help="Wait for the run to finish.")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds --wait waits.")] = 3600.0,
    as_json: Json = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Run a task now (needs the admin role); the scheduler starts it on its next tick."""
    with api(url, token) as client:
        run = client.trigger_scheduler_run(task)
        if wait:
            run = client.wait_for_scheduler_run(run["id"], timeout=timeout)
    _print_run(run, as_json=as_json)
    if run["status"] == "failed":
        raise typer.Exit(1)


@runs_app.command("tasks")
def tasks(as_json: Json = False, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """The recorded tasks: schedule, next fire, last run."""
    with api(url, token) as client:
        listing = client.scheduler_tasks()
    if as_json:
        emit_json(listing)
        return
    rows = [
        {
            **task,
            "last_status": (task["last_run"] or {}).get("status"),
            "last_started": (task["last_run"] or {}).get("started_at"),
        }
        for task in listing["tasks"]
    ]
    Console().print(_table("scheduled tasks", TASK_FIELDS, rows))


def _print_run(run: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(run)
        return
    console = Console()
    console.print(_table(f"{run['task']} run", RUN_FIELDS, [run]))
    if run.get("error"):
        console.print(f"error: {run['error']}", markup=False)
