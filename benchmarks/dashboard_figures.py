"""What one database's run of ``bench_dashboard.py`` measured, as a table and as figures."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from benchmarks.dashboard_catalog import FleetCounts
from benchmarks.results import Figure

from seriesguard.api.paging import MAX_PAGE  # the largest limit /api/v1/models takes

PAGE = 50  # rows of the fleet page
TARGET_MS = 1000.0  # issue 10: the fleet page renders 285k series in under 1 s


@dataclass
class Run:
    """Everything one database's run measured (milliseconds unless named otherwise)."""

    kind: str
    series: int
    load_seconds: float
    counts: FleetCounts
    api: dict[str, list[float]] = field(default_factory=dict)
    page: dict[str, list[float]] = field(default_factory=dict)
    baseline: list[dict[str, Any]] = field(default_factory=list)
    api_baseline: list[float] = field(default_factory=list)
    # the first GET /api/v1/fleet after start: it scans for the aggregates, as every request
    # would without the API's snapshot of them
    fleet_first: list[float] = field(default_factory=list)
    rss_mib: dict[str, float] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    search: str = ""


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (of fewer than 20 samples, the largest)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def run_figures(run: Run) -> list[Figure]:
    where = f"{run.series:,} series, {run.kind}"
    page, api = run.page, run.api
    base = [b["ms"] for b in run.baseline]
    requests = run.baseline[0]["requests"] if run.baseline else 0
    fetched = median([b["fetched_ms"] for b in run.baseline]) if run.baseline else 0.0
    visits = f"{len(page['first_paint'])} visits in fresh contexts"
    figures = [
        Figure(
            id=f"dashboard.first_paint_ms_{run.kind}",
            title=f"fleet page first paint: /#/fleet to ready, 50 rows and summary ({where})",
            value=median(page["first_paint"]),
            unit="ms",
            baseline=median(base) if base else None,
            baseline_label=f"client-side paging: {requests} sequential GET /api/v1/models?"
            f"limit={MAX_PAGE} ({fetched / 1000:.1f} s of fetching), stages counted and "
            "50 rows rendered in the page",
            target=TARGET_MS,
            target_label="< 1 s",
            notes=f"median of {visits}, p95 {p95(page['first_paint']):.0f} ms; the 50 rows "
            f"alone {median(page['first_rows']):.0f} ms",
            extra={
                **_spread(page["first_paint"]),
                "rows_alone_ms": round(median(page["first_rows"]), 1),
            },
        ),
        _page_figure(run, "next_page", "next page (page-next click to the new rows)", where),
        _page_figure(
            run,
            "search",
            f"search {run.search!r} typed into series-search to the matching rows",
            where,
            more=f"the page's debounce included; from its request "
            f"{median(page['search_from_request']):.0f} ms",
        ),
        _page_figure(
            run,
            "deep_page",
            f"last page, offset {run.series - PAGE:,} (hash set to the new rows)",
            where,
        ),
        Figure(
            id=f"dashboard.api_fleet_ms_{run.kind}",
            title=f"GET /api/v1/fleet ({where})",
            value=median(api["fleet"]),
            unit="ms",
            baseline=median(run.api_baseline) if run.api_baseline else None,
            baseline_label=f"stage counts by walking GET /api/v1/models?limit={MAX_PAGE} (httpx)",
            notes=f"median of {len(api['fleet'])}, p95 {p95(api['fleet']):.0f} ms; the "
            "whole-table figures from the API's snapshot (refreshed in the background)",
            extra=_spread(api["fleet"]),
        ),
    ]
    if run.fleet_first:
        figures.append(
            Figure(
                id=f"dashboard.api_fleet_first_ms_{run.kind}",
                title=f"GET /api/v1/fleet, the first after start: scans for the counts and the "
                f"anomaly rate ({where})",
                value=run.fleet_first[0],
                unit="ms",
                notes="once per start; afterwards a background refresh, at least 10x its "
                "duration apart",
            )
        )
    for name, values in api.items():
        if name == "fleet":
            continue
        slug = name.split(",", 1)[1].strip().split("=")[0].replace(" ", "_")
        figures.append(
            Figure(
                id=f"dashboard.api_models_{slug}_ms_{run.kind}",
                title=f"GET /api/v1/models?limit={PAGE}, {name.split(', ', 1)[1]} ({where})",
                value=median(values),
                unit="ms",
                notes=f"median of {len(values)}, p95 {p95(values):.0f} ms",
                extra=_spread(values),
            )
        )
    figures.append(
        Figure(
            id=f"dashboard.api_rss_mib_{run.kind}",
            title=f"API process resident memory after the run ({where})",
            value=round(run.rss_mib["end"], 1),
            unit="MiB",
            notes=f"{run.rss_mib['start']:.0f} MiB once started, peak {run.rss_mib['peak']:.0f}"
            " MiB",
        )
    )
    return figures


def _page_figure(run: Run, key: str, what: str, where: str, *, more: str = "") -> Figure:
    values = run.page[key]
    return Figure(
        id=f"dashboard.{key}_ms_{run.kind}",
        title=f"fleet page, {what} ({where})",
        value=median(values),
        unit="ms",
        target=TARGET_MS,
        target_label="< 1 s",
        notes=f"median of {len(values)} visits, p95 {p95(values):.0f} ms"
        + (f"; {more}" if more else ""),
        extra=_spread(values),
    )


def _spread(values: list[float]) -> dict[str, float]:
    """How the samples behind a median spread, for results.json."""
    return {"n": len(values), "min": round(min(values), 1), "p95": round(p95(values), 1)}


def print_table(run: Run) -> None:
    rows: list[tuple[str, list[float]]] = [
        ("page: first paint of /#/fleet (rows and summary)", run.page["first_paint"]),
        ("page: first paint, its 50 rows alone", run.page["first_rows"]),
        ("page: next page", run.page["next_page"]),
        (f"page: search {run.search!r} (input to rows)", run.page["search"]),
        ("page: search, its request to rows", run.page["search_from_request"]),
        (f"page: last page (offset {run.series - PAGE:,})", run.page["deep_page"]),
        ("baseline: client-side paging first paint", [b["ms"] for b in run.baseline]),
        ("API: fleet, the first after start (scans)", run.fleet_first),
        *((f"API: {name}", values) for name, values in run.api.items()),
        (f"API baseline: walk /api/v1/models?limit={MAX_PAGE}", run.api_baseline),
    ]
    print(f"\n{run.series:,} series on {run.kind} (loaded in {run.load_seconds:.0f} s)")
    print(f"  {'measure':<58} {'median ms':>10} {'p95 ms':>10} {'n':>4}")
    for name, values in rows:
        if values:
            print(f"  {name:<58} {median(values):>10,.1f} {p95(values):>10,.1f} {len(values):>4}")
    if run.baseline:
        ratio = median([b["ms"] for b in run.baseline]) / median(run.page["first_paint"])
        print(f"  first paint, client-side paging / server-side paging: {ratio:,.2f}x")
    print(
        f"  API process RSS: {run.rss_mib['start']:.0f} MiB started, "
        f"{run.rss_mib['end']:.0f} MiB after the run, peak {run.rss_mib['peak']:.0f} MiB"
    )
    for line in run.checks:
        print(f"  DIFFERS: {line}")
    print()
