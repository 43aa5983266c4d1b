"""``seriesguard send-data``: a CSV's points into the history store (then ``train
--window-hours``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seriesguard.cli import Token, Url, api, emit_json, read_points, reporting_errors
from seriesguard.client import DEFAULT_URL
from seriesguard.core.history import MAX_POINTS_PER_REQUEST


def send_data(
    series: Annotated[str, typer.Argument(help="Series id, e.g. sensor-0042:x.")],
    csv_file: Annotated[
        Path, typer.Option("--csv", help="CSV with a 'timestamp,value' header; .csv.gz too.")
    ],
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the totals as JSON.")] = False,
) -> None:
    """Store a CSV's points in the history store, 100,000 per request (safe to re-run: points
    already stored are counted as duplicates). Points older than the retention are refused."""
    with reporting_errors():
        points = read_points(csv_file)
    accepted = duplicates = 0
    with api(url, token) as client:
        for start in range(0, len(points.values), MAX_POINTS_PER_REQUEST):
            end = start + MAX_POINTS_PER_REQUEST
            answer = client.send_data(
                series, timestamps=points.timestamps[start:end], values=points.values[start:end]
            )
            accepted += answer["accepted"]
            duplicates += answer["duplicates"]
    totals = {"series_id": series, "accepted": accepted, "duplicates": duplicates}
    if as_json:
        emit_json(totals)
    else:
        typer.echo(f"{series}: {accepted} points stored, {duplicates} already there")


def register_history_commands(app: typer.Typer) -> None:
    app.command("send-data")(send_data)
