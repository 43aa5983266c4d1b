"""Server commands: the all-in-one ``serve`` and one command per process of the distributed
topology (``api``, ``predictor``, ``worker``, ``scheduler``), plus ``db upgrade``.

Every process is the same code with a different set of roles; each serves health, liveness
and readiness on its own port so Kubernetes can probe it, logs JSON when not on a terminal,
and stops gracefully on SIGTERM.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError

from seriesguard.core.redact import redact_url
from seriesguard.settings import Settings

Host = Annotated[str | None, typer.Option(help="Bind address [env SERIESGUARD_HOST].")]
Home = Annotated[Path | None, typer.Option(help="Data folder of the embedded backends.")]


Port = Annotated[
    int,
    typer.Option(min=0, max=65535, envvar="SERIESGUARD_PORT", help="Bind port [SERIESGUARD_PORT]."),
]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with the command-line options on top."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: settings at {where}: {first['msg']}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:  # a secret file that cannot be read
        typer.echo(f"error: settings: {exc}", err=True)
        raise typer.Exit(1) from None
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _run(name: str, roles: frozenset[str], *, workers: int = 1, **overrides: Any) -> None:
    from seriesguard.api.app import serve  # FastAPI and MLflow load only for server commands
    from seriesguard.api.security import UnsafeBind
    from seriesguard.api.server import check_exposure, tls_options
    from seriesguard.runtime import Role
    from seriesguard.security.tokens import create_verifier

    settings = load_settings(**overrides)
    process_roles = frozenset(Role(r) for r in roles)
    try:  # every mistake in the security settings is told before anything starts
        check_exposure(settings, process_roles)
        tls_options(settings)
        create_verifier(settings)
    except (UnsafeBind, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    serve(settings, roles=process_roles, name=name, workers=workers)


def serve_all(host: Host = None, port: Port = 8000, home: Home = None) -> None:
    """Run the all-in-one server (training API, predictor, worker pool, scheduler) on embedded
    backends."""
    roles = frozenset({"api", "predictor", "worker", "scheduler"})
    _run("serve", roles, host=host, port=port, home=home)


def api(host: Host = None, port: Port = 8000, home: Home = None) -> None:
    """Training and management API: jobs, models, promotion, plots."""
    _run("api", frozenset({"api"}), host=host, port=port, home=home)


def predictor(
    host: Host = None,
    port: Port = 8080,
    home: Home = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="SERIESGUARD_PREDICTOR_WORKERS",
            help="Processes serving on the port [SERIESGUARD_PREDICTOR_WORKERS]. Each holds "
            "every production model; use the cores the load generator or proxy leave free.",
        ),
    ] = 1,
) -> None:
    """Predictor (the KServe container): predict, batch predict, admin reload, probes."""
    _run("predictor", frozenset({"predictor"}), workers=workers, host=host, port=port, home=home)


def worker(
    host: Host = None,
    port: Port = 8081,
    home: Home = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs trained at once [SERIESGUARD_WORKER_CONCURRENCY]."),
    ] = None,
) -> None:
    """Training worker: consumes jobs from the broker (competing consumers); health on PORT."""
    _run(
        "worker",
        frozenset({"worker"}),
        host=host,
        port=port,
        home=home,
        worker_concurrency=concurrency,
    )


def scheduler(host: Host = None, port: Port = 8082, home: Home = None) -> None:
    """Scheduler process (one leader at a time): weekly retraining, drift reaction, backlog
    alerts, job reconciliation; health on PORT."""
    _run("scheduler", frozenset({"scheduler"}), host=host, port=port, home=home)


def db_upgrade(home: Home = None) -> None:
    """Apply pending metadata migrations (SQLite or PostgreSQL) and exit."""
    from seriesguard.store.db import create_db_engine, upgrade

    settings = load_settings(home=home)
    engine = create_db_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    typer.echo(f"metadata DB at {engine.url.render_as_string(hide_password=True)} is up to date")


def show_config(home: Home = None) -> None:
    """Print the settings in effect (environment, mounted files, defaults), secrets masked."""
    settings = load_settings(home=home)
    for line in config_lines(settings):
        typer.echo(line)


def config_lines(settings: Settings) -> list[str]:
    """``VARIABLE=value`` per setting: secret values as ``***``, credentials in URLs too."""
    lines = []
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = "***" if value.get_secret_value() else ""
        elif value is None:
            shown = ""
        elif isinstance(value, list):
            shown = json.dumps(value)
        else:
            shown = redact_url(str(value))
        variable = _variable(name, field.validation_alias)
        lines.append(f"{variable}={shown}")
    return lines


def _variable(name: str, alias: object) -> str:
    """The variable an operator sets: the first alias (CACHE_SIZE, MLFLOW_TRACKING_URI) or
    SERIESGUARD_<NAME>."""
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    return f"SERIESGUARD_{name.upper()}"


def register_server_commands(app: typer.Typer) -> None:
    app.command("config")(show_config)
    app.command("serve")(serve_all)
    app.command("api")(api)
    app.command("predictor")(predictor)
    app.command("worker")(worker)
    app.command("scheduler")(scheduler)
    db = typer.Typer(help="Metadata database.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    app.add_typer(db, name="db")
