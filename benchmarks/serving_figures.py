"""The figures ``bench_serving`` publishes, from what it measured (targets from the issue)."""

from __future__ import annotations

from typing import Any

from benchmarks.results import Figure

SEED_PEAK = 2850.0  # req/s, the seed document's peak traffic
P99_TARGET_MS = 10.0
RATIO_TARGET = 0.70
SEED_LABEL = "seed design: FastAPI + LRU(100) of mlflow.pyfunc models"
ROUTE_LABEL = "same predictor, predicts through FastAPI's routing (fast path off)"


def figures(
    main_size: int, results: dict[int, dict[str, Any]], *, rate: float, workers: int
) -> list[Figure]:
    r = results[main_size]
    where = f"{main_size:,} series, uniform random, {workers} server process(es)"
    out = [
        *throughput(r, where=where, rate=rate),
        *fixed_rate(r, rate=rate),
        *cpu(r),
    ]
    if len(results) > 1:
        out += scaling(results)
    return out


def throughput(r: dict[str, Any], *, where: str, rate: float) -> list[Figure]:
    predict, floor, liveness, seed = r["predict"], r["floor"], r["liveness"], r.get("seed")
    return [
        Figure(
            id="serving.predict_saturation_rps",
            title=f"HTTP single predict, saturation ({where})",
            value=predict["rate"],
            unit="req/s",
            better="higher",
            baseline=seed["rate"] if seed else None,
            baseline_label=SEED_LABEL if seed else None,
            target=rate,
            target_label=f">= {rate:,.0f} req/s (seed peak)",
            notes=f"p99 {predict['p99_ms']:.1f} ms at saturation; rounds {predict['rounds']}; "
            f"errors {predict['errors']}",
        ),
        Figure(
            id="serving.saturation_vs_bare",
            title="predict saturation / bare liveness endpoint of the same server",
            value=round(predict["rate"] / liveness["rate"], 3),
            unit="x",
            better="higher",
            target=RATIO_TARGET,
            target_label=f">= {RATIO_TARGET:.2f}",
            notes=f"liveness {liveness['rate']:,.0f} req/s goes through FastAPI; a plain "
            "predict is answered in front of it (fast path)",
        ),
        Figure(
            id="serving.saturation_vs_floor",
            title="predict saturation / floor (the server stack answering a constant)",
            value=round(predict["rate"] / floor["rate"], 3),
            unit="x",
            better="higher",
            target=RATIO_TARGET,
            target_label=f">= {RATIO_TARGET:.2f} (stricter reading of the floor)",
            notes=f"floor {floor['rate']:,.0f} req/s, rounds {floor['rounds']}; server CPU "
            f"per response {floor['server_cpu_us']:.0f} us vs {predict['server_cpu_us']:.0f} us",
        ),
        Figure(
            id="serving.bare_saturation_rps",
            title="floor: the server stack answering a constant, saturation",
            value=floor["rate"],
            unit="req/s",
            better="higher",
            notes=f"rounds {floor['rounds']}",
        ),
        Figure(
            id="serving.liveness_saturation_rps",
            title="bare liveness route of the predictor (through FastAPI), saturation",
            value=liveness["rate"],
            unit="req/s",
            better="higher",
            notes=f"rounds {liveness['rounds']}",
        ),
        Figure(
            id="serving.route_saturation_rps",
            title="predict through FastAPI's routing (fast path off), saturation",
            value=r["route"]["predict"]["rate"],
            unit="req/s",
            better="higher",
        ),
    ]


def fixed_rate(r: dict[str, Any], *, rate: float) -> list[Figure]:
    fixed, route = r["fixed"], r["route"]["fixed"]
    errors = fixed["non_2xx"] + fixed["transport_errors"] + fixed["unanswered"]
    return [
        Figure(
            id="serving.p99_ms_at_2850",
            title=f"p99 latency at a fixed {rate:,.0f} req/s (open loop, from due time)",
            value=fixed["p99_ms"],
            unit="ms",
            better="lower",
            baseline=route["p99_ms"],
            baseline_label=ROUTE_LABEL,
            target=P99_TARGET_MS,
            target_label=f"< {P99_TARGET_MS:.0f} ms",
            notes=f"p50 {fixed['p50_ms']:.2f} ms, p95 {fixed['p95_ms']:.2f} ms, "
            f"p99.9 {fixed['p999_ms']:.1f} ms, max {fixed['max_ms']:.1f} ms, errors {errors}",
            extra={k: fixed[k] for k in ("p50_ms", "p95_ms", "p999_ms", "max_ms")},
        ),
        Figure(
            id="serving.achieved_rate_at_2850",
            title=f"answered per second at a fixed {rate:,.0f} req/s",
            value=fixed["achieved_rate"],
            unit="req/s",
            better="higher",
            target=rate * 0.99,  # the last requests of the window may be answered just after it
            target_label=f">= {rate:,.0f} req/s (1% edge allowance)",
            notes=f"errors {errors}",
        ),
    ]


def cpu(r: dict[str, Any]) -> list[Figure]:
    seed = r.get("seed")
    return [
        Figure(
            id="serving.server_cpu_us_per_predict",
            title="server CPU per predict at saturation (all server processes)",
            value=r["predict"]["server_cpu_us"],
            unit="us",
            better="lower",
            baseline=r["route"]["predict"]["server_cpu_us"],
            baseline_label=ROUTE_LABEL,
            notes=f"floor {r['floor']['server_cpu_us']:.0f} us, liveness route "
            f"{r['liveness']['server_cpu_us']:.0f} us"
            + (f", seed design {seed['server_cpu_us']:,.0f} us" if seed else ""),
        ),
        Figure(
            id="serving.server_cpu_us_per_predict_at_2850",
            title="server CPU per predict at the fixed rate",
            value=r["fixed"]["server_cpu_us"],
            unit="us",
            better="lower",
            baseline=r["route"]["fixed"]["server_cpu_us"],
            baseline_label=ROUTE_LABEL,
        ),
    ]


def scaling(results: dict[int, dict[str, Any]]) -> list[Figure]:
    rows = []
    for size, r in sorted(results.items()):
        rows.append(
            Figure(
                id=f"serving.scaling.predict_saturation_rps.{size}",
                title="predict saturation",
                value=r["predict"]["rate"],
                unit="req/s",
                better="higher",
                fleet=size,
                extra={"server_cpu_us": round(r["predict"]["server_cpu_us"], 1)},
            )
        )
        rows.append(
            Figure(
                id=f"serving.scaling.p99_ms_at_2850.{size}",
                title="p99 at the seed's peak rate",
                value=r["fixed"]["p99_ms"],
                unit="ms",
                better="lower",
                fleet=size,
                target=P99_TARGET_MS,
                extra={"ready_s": round(r["ready_s"], 1)},
            )
        )
    return rows
