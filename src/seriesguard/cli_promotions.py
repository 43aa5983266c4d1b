"""``seriesguard promotions``: follow, pause, resume and roll back canary and shadow
promotions; and ``seriesguard models promote``, which starts them (or promotes directly)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from seriesguard.cli import Token, Url, _page_title, _table, api, emit_json
from seriesguard.client import DEFAULT_URL

promotions_app = typer.Typer(
    help="Canary and shadow promotions: list, show, pause, resume, roll back."
)

PROMOTION_FIELDS = [
    "promotion_id",
    "series_id",
    "version",
    "strategy",
    "state",
    "current_percentage",
    "next_increment_at",
    "verdict_at",
    "created_at",
]
EVENT_FIELDS = ["at", "kind", "state", "percentage", "details"]
Reason = Annotated[str | None, typer.Option(help="Why (kept on the promotion's event).")]


@promotions_app.command("list")
def list_promotions(
    url: Url = DEFAULT_URL,
    token: Token = None,
    series: Annotated[str | None, typer.Option(help="Only this series.")] = None,
    state: Annotated[str | None, typer.Option(help="canary|shadow|paused|completed|...")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--finished", help="Only unfinished / finished ones.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Promotions, newest first."""
    with api(url, token) as client:
        page = client.promotions(
            series_id=series, state=state, active=active, limit=limit, offset=offset
        )
    Console().print(_table(_page_title("promotions", page), PROMOTION_FIELDS, page["items"]))


@promotions_app.command("show")
def show(
    promotion_id: str,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole record as JSON.")
    ] = False,
) -> None:
    """One promotion: where it stands, its last gate figures and every event."""
    with api(url, token) as client:
        promotion = client.promotion(promotion_id)
    if as_json:
        emit_json(promotion)
        return
    typer.echo(_headline(promotion))
    gate = promotion.get("last_gate")
    if gate:
        typer.echo(f"last gate: {gate['outcome']}: {'; '.join(gate['reasons'])}")
    Console().print(_table("events", EVENT_FIELDS, promotion.get("events") or []))


@promotions_app.command("rollback")
def rollback(
    promotion_id: str, url: Url = DEFAULT_URL, token: Token = None, reason: Reason = None
) -> None:
    """End it now: production alone serves again, the new version is Archived."""
    with api(url, token) as client:
        typer.echo(_headline(client.rollback_promotion(promotion_id, reason=reason)))


@promotions_app.command("pause")
def pause(
    promotion_id: str, url: Url = DEFAULT_URL, token: Token = None, reason: Reason = None
) -> None:
    """Hold it where it is (the current split keeps serving; no step passes)."""
    with api(url, token) as client:
        typer.echo(_headline(client.pause_promotion(promotion_id, reason=reason)))


@promotions_app.command("resume")
def resume(
    promotion_id: str, url: Url = DEFAULT_URL, token: Token = None, reason: Reason = None
) -> None:
    """Go on from a pause (the current step starts over)."""
    with api(url, token) as client:
        typer.echo(_headline(client.resume_promotion(promotion_id, reason=reason)))


def promote(
    series: str,
    version: str,
    url: Url = DEFAULT_URL,
    token: Token = None,
    strategy: Annotated[str, typer.Option(help="direct | canary | shadow.")] = "direct",
    archive: Annotated[
        bool, typer.Option("--archive/--no-archive", help="direct: archive the previous one.")
    ] = True,
    initial_percentage: Annotated[
        float | None, typer.Option(help="canary: first share of traffic, % (default 5).")
    ] = None,
    increment_percentage: Annotated[
        float | None, typer.Option(help="canary: share added per step, % (default 15).")
    ] = None,
    increment_interval_hours: Annotated[
        float | None, typer.Option(help="canary: hours per step (default 2).")
    ] = None,
    duration_hours: Annotated[
        float | None, typer.Option(help="shadow: hours before the verdict (default 48).")
    ] = None,
    then: Annotated[
        str | None, typer.Option(help="shadow: what a passed shadow becomes: canary|production.")
    ] = None,
) -> None:
    """Promote a version: directly to Production, or through a canary or a shadow."""
    canary = _present(
        initial_percentage=initial_percentage,
        increment_percentage=increment_percentage,
        increment_interval_hours=increment_interval_hours,
    )
    shadow = _present(duration_hours=duration_hours, then=then)
    canary_config, shadow_config = (canary or None), None
    if strategy == "shadow":
        if canary:
            shadow["canary_config"] = canary
        canary_config, shadow_config = None, shadow or None
    with api(url, token) as client:
        result = client.promote(
            series,
            version,
            archive_existing=archive,
            strategy=strategy,
            canary_config=canary_config,
            shadow_config=shadow_config,
        )
    if "promotion_id" not in result:
        typer.echo(f"{series} version {result['version']} is Production")
        return
    typer.echo(_headline(result))
    typer.echo(f"follow it: seriesguard promotions show {result['promotion_id']}")


def _present(**options: Any) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


def _headline(promotion: dict[str, Any]) -> str:
    """``<id>: <series> v2 canary at 20% (next step 2026-...)``, one line."""
    where = f"{promotion['state']}"
    if promotion["state"] in ("canary", "paused", "completing"):
        where += f" at {promotion['current_percentage']:g}%"
    due = promotion.get("next_increment_at") or promotion.get("verdict_at")
    note = f" (next {str(due)[:19].replace('T', ' ')})" if due else ""
    return (
        f"{promotion['promotion_id']}: {promotion['series_id']} {promotion['version']} "
        f"{promotion['strategy']} {where}{note}"
    )


def register_promote(models: typer.Typer) -> None:
    """``seriesguard models promote``: on the models group (cli.py passes it in)."""
    models.command("promote")(promote)
