"""``seriesguard models``: list series, show one series' versions, import a fleet of models.

``list`` and ``show`` ask a running server over HTTP like every client command; ``import``
works on the backends directly (like ``db upgrade``), because 285,000 models do not go
through an HTTP API one at a time. ``seriesguard models SERIES`` still means ``show SERIES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from seriesguard.cli import (
    SERIES_FIELDS,
    VERSION_FIELDS,
    Token,
    Url,
    _page_title,
    _table,
    api,
    fail,
)
from seriesguard.cli_server import Home, load_settings
from seriesguard.client import DEFAULT_URL
from seriesguard.core.errors import DomainError


class _ShowByDefault(TyperGroup):
    """An unknown subcommand is a series id: ``models s1`` = ``models show s1``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            args = ["show", *args]
        return super().resolve_command(ctx, args)


models_app = typer.Typer(
    cls=_ShowByDefault,
    invoke_without_command=True,
    help="Series with models: list them, show one, import a fleet.",
)


@models_app.callback()
def list_series(
    ctx: typer.Context,
    url: Url = DEFAULT_URL,
    token: Token = None,
    prefix: Annotated[str | None, typer.Option(help="Only series ids starting so.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List series with models (no subcommand), or run a subcommand."""
    if ctx.invoked_subcommand is not None:
        return
    with api(url, token) as client:
        page = client.models(limit=limit, offset=offset, prefix=prefix)
    Console().print(_table(_page_title("series", page), SERIES_FIELDS, page["items"]))


@models_app.command("show")
def show(series: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """The versions and stages of one series."""
    with api(url, token) as client:
        detail = client.model(series)
    title = f"{detail['series_id']} ({detail['registered_model']})"
    Console().print(_table(title, VERSION_FIELDS, detail["versions"]))


@models_app.command("import")
def import_models(
    path: Annotated[Path, typer.Argument(help="Models as .jsonl or .csv, optionally gzipped.")],
    stage: Annotated[str, typer.Option(help="Production or Staging.")] = "production",
    algorithm: Annotated[
        str, typer.Option(help="Algorithm of records that do not name one.")
    ] = "statistical",
    chunk_size: Annotated[int, typer.Option(min=1, max=100_000, help="Models per batch.")] = 5000,
    bulk: Annotated[
        bool,
        typer.Option(
            "--bulk/--no-bulk",
            help="Write new series straight into the registry's tables when it is a database "
            "reachable from here; --no-bulk registers every model through the registry API.",
        ),
    ] = True,
    home: Home = None,
) -> None:
    """Import fitted models (e.g. a fleet migrating from another system) into the registry
    and the serving catalog, straight through the configured backends. The whole file is
    checked first: a bad line stops the import before anything is written."""
    from seriesguard.model_import.runner import run_import

    if not path.is_file():
        fail("file_not_found", ("path",), f"{path} is not a readable file")
    settings = load_settings(home=home)
    try:
        with _progress() as progress:
            report = run_import(
                settings=settings,
                path=path,
                stage_name=stage,
                default_algorithm=algorithm,
                chunk_size=chunk_size,
                progress=_Bar(progress),
                use_bulk=bulk,
            )
    except DomainError as exc:
        fail(exc.rule, exc.loc, exc.message)
    in_bulk = f" ({report.bulk:,} in bulk)" if report.bulk else ""
    typer.echo(
        f"imported {report.imported:,} model(s){in_bulk}, {report.unchanged:,} already there, "
        f"in {report.seconds:.1f} s ({report.per_second:,.0f}/s)"
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )


class _Bar:
    """Progress callbacks of ``run_import`` shown as one rich task per phase."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: Any = None

    def phase(self, description: str, total: int | None) -> None:
        if self._task is not None:  # the previous phase is over
            self._progress.update(self._task, total=1, completed=1)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, done: int) -> None:
        self._progress.advance(self._task, done)
