"""What checking every caller costs: the predictor's saturation throughput with bearer tokens
and the per-principal rate limit on, against the same server without authentication.

A fleet of production models (``--series``, default 1,000) in a temporary home; one
``seriesguard predictor`` per configuration, saturated by ``loadgen.py`` (closed loop, its own
process) with single predicts over random series:

- baseline: no authentication (loopback, the local operator; no rate limit);
- RS256 tokens checked by the app (a verified token is remembered until it expires), with the
  in-process token bucket per principal (set high enough never to refuse);
- the same with the bucket shared through Redis (one Lua call per request).

In process: verifying a token already seen against verifying a new one (the RS256 check).

    .venv/bin/python benchmarks/bench_security.py [--series 1000] [--duration 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fleet import build_fleet
from benchmarks.results import Figure, publish
from benchmarks.serving_procs import ServerProcess, free_port, measured

ISSUER, AUDIENCE = "https://auth.bench.local", "anomaly-detector-api"


def auth_env(keys: Path) -> dict[str, str]:
    return {
        "SERIESGUARD_AUTH_PUBLIC_KEY_FILE": str(keys / "public.pem"),
        "SERIESGUARD_AUTH_PRIVATE_KEY_FILE": str(keys / "private.pem"),
        "SERIESGUARD_AUTH_ISSUER": ISSUER,
        "SERIESGUARD_AUTH_AUDIENCES": f'["{AUDIENCE}"]',
        # Far above what one loopback client reaches: measured is the cost, not refusals.
        "SERIESGUARD_RATE_LIMIT_PER_SECOND": "1000000",
        "SERIESGUARD_RATE_LIMIT_BURST": "1000000",
    }


def settings_for(keys: Path) -> Any:
    from seriesguard.settings import Settings

    return Settings(
        auth_public_key_file=keys / "public.pem",
        auth_private_key_file=keys / "private.pem",
        auth_issuer=ISSUER,
        auth_audiences=[AUDIENCE],
    )


def saturate(
    home: Path, series_file: Path, env: dict[str, str], duration: float, header: str | None
) -> dict[str, Any]:
    port = free_port()
    server = ServerProcess.start(
        ["-m", "seriesguard", "predictor", "--port", str(port)],
        env={"SERIESGUARD_HOME": str(home), "SERIESGUARD_LOG_LEVEL": "INFO", **env},
        port=port,
        log=home / f"predictor-{port}.log",
        workers=1,
    )
    options: dict[str, Any] = {"connections": 32, "duration": duration, "warmup": 1.0}
    if header:
        options["header"] = header
    try:
        report = measured(server, series_file=series_file, **options)
    finally:
        server.stop()
    if report["non_2xx"] or report["transport_errors"]:
        raise RuntimeError(f"refused or failed requests under load: {report['statuses']}")
    return report


def verify_costs(keys: Path, rounds: int = 2000) -> tuple[float, float]:
    """Microseconds per verify: a token seen before, and a new token each time."""
    from seriesguard.security.mint import mint_token
    from seriesguard.security.tokens import TokenVerifier

    settings = settings_for(keys)
    verifier = TokenVerifier(settings)
    fresh = [
        mint_token(settings, subject=f"u{i}", roles=["viewer"], ttl_seconds=600)
        for i in range(rounds)
    ]

    async def run() -> tuple[float, float]:
        seen = fresh[0]
        await verifier.verify(seen)
        start = time.perf_counter()
        for _ in range(rounds):
            await verifier.verify(seen)
        cached = time.perf_counter() - start
        start = time.perf_counter()
        for token in fresh[1:]:
            await verifier.verify(token)
        full = time.perf_counter() - start
        return cached / rounds * 1e6, full / (rounds - 1) * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=8.0)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from seriesguard.security.mint import generate_key_pair, mint_token

    with tempfile.TemporaryDirectory() as folder:
        home, keys = Path(folder) / "home", Path(folder) / "keys"
        ids = build_fleet(home, args.series)
        series_file = Path(folder) / "series.txt"
        series_file.write_text("\n".join(ids) + "\n")
        generate_key_pair(keys)
        token = mint_token(
            settings_for(keys), subject="plant-gateway", roles=["viewer"], ttl_seconds=3600
        )
        header = f"Authorization: Bearer {token}"
        open_run = saturate(home, series_file, {}, args.duration, None)
        authed = saturate(home, series_file, auth_env(keys), args.duration, header)
        redis_env = {**auth_env(keys), "SERIESGUARD_REDIS_URL": "redis://127.0.0.1:6379/0"}
        shared = saturate(home, series_file, redis_env, args.duration, header)
        cached_us, full_us = verify_costs(keys)

    where = f"{args.series:,} series, 32 connections, closed loop"

    def saturation(figure_id: str, title: str, report: dict[str, Any]) -> Figure:
        return Figure(
            id=figure_id,
            title=f"{title} ({where})",
            value=float(report["rate"]),
            unit="req/s",
            better="higher",
            baseline=float(open_run["rate"]),
            baseline_label=f"same predictor without authentication ({_latency(open_run)})",
            notes=_latency(report),
        )

    publish(
        "security",
        [
            saturation(
                "security.predict_with_auth_rps",
                "single predict saturation with RS256 tokens + rate limit",
                authed,
            ),
            saturation(
                "security.predict_with_redis_rate_limit_rps",
                "the same, rate-limit buckets shared through Redis",
                shared,
            ),
            Figure(
                id="security.verify_seen_token_us",
                title="verify a bearer token already seen (in process)",
                value=cached_us,
                unit="us",
                baseline=full_us,
                baseline_label="verify a new RS256 token (signature, claims)",
            ),
        ],
    )


def _latency(report: dict[str, Any]) -> str:
    return (
        f"p50 {report['p50_ms']:.2f} ms, p99 {report['p99_ms']:.2f} ms, "
        f"server CPU {report['server_cpu_us']:.0f} us/request"
    )


if __name__ == "__main__":
    main()
