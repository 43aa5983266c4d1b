"""HTTP/1.1 load generator, run as its own process; prints one JSON object on stdout.

Standard library only (uvloop when importable): a fresh machine has python3 and no wrk. Each
connection is a raw asyncio ``Protocol`` with keep-alive and one request in flight; requests
are encoded before the clock starts and a response is parsed no further than its status line
and ``Content-Length``, so the client spends as little of the shared CPU as it can.

Two modes:

* ``closed`` (saturation): C connections send as fast as the server answers, for D seconds.
  Reports the throughput and the latency of each request from send to last byte.
* ``open`` (fixed rate): requests are due at R per second whatever the server does, sent on
  whichever of the C connections is free. Latency counts from the time a request was *due*,
  not from when it could be sent, so a server that falls behind shows its queue in the
  percentiles (no coordinated omission) and in a lower achieved rate.

Requests: ``POST /api/v1/predict/{series}`` with ``{"timestamp": <epoch s>, "value": <float>}``
over the series listed in ``--series-file`` (one id a line; uniform, or Zipf with ``--zipf``),
or a fixed ``GET --path`` (the bare endpoint).

    python benchmarks/loadgen.py --url http://127.0.0.1:8080 --mode closed -c 32 -d 10 \
        --series-file series.txt
    python benchmarks/loadgen.py --url http://127.0.0.1:8080 --mode open --rate 2850 -d 15 \
        --series-file series.txt
    python benchmarks/loadgen.py --url http://127.0.0.1:8080 --path /api/v1/liveness
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import random
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

POOL_SIZE = 1 << 16  # distinct pre-encoded requests, cycled through
TIMESTAMP = 1_700_000_000


@dataclass
class Stats:
    """Latencies (seconds) and statuses of the requests started inside the measured window."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    window: tuple[float, float] = (float("inf"), float("inf"))
    answered_in_window: int = 0  # responses that arrived inside the window: the achieved rate
    answered: int = 0  # every response of the run, warm-up and drain included

    def record(self, status: int, started: float, latency: float) -> None:
        # Latencies by start (or due) time, not completion: a request due in the window counts
        # even if it is answered after it, so a backlog at the end is not left out.
        self.answered += 1
        start, end = self.window
        if start <= started < end:
            self.latencies.append(latency)
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if start <= started + latency < end:
            self.answered_in_window += 1


@dataclass
class Pace:
    """Open loop: request k is due at ``start + k * interval``; ``released`` are out."""

    start: float
    until: float
    interval: float
    released: int = 0


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, on_done: Callable[[Connection, int], None]) -> None:
        self._on_done = on_done
        self._buffer = bytearray()
        self._need = -1  # bytes of the whole response once the head is parsed
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.started = 0.0  # when the request in flight counts from
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, request: bytes, started: float) -> None:
        assert self.transport is not None
        self.busy = True
        self.started = started
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            if self._need < 0:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._need = end + 4 + _content_length(buffer, end)
            if len(buffer) < self._need:
                return
            status = int(buffer[9:12])
            del buffer[: self._need]
            self._need = -1
            self.busy = False
            self._on_done(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(self.busy)


def _content_length(buffer: bytearray, head_end: int) -> int:
    at = buffer.find(b"\r\ncontent-length:", 0, head_end)  # servers here write it lower-case
    if at < 0:
        head = bytes(buffer[:head_end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            return 0  # no body (204, 304) or not a response this client understands
    start = at + len(b"\r\ncontent-length:")
    stop = buffer.find(b"\r\n", start, head_end)
    return int(buffer[start : stop if stop >= 0 else head_end])


def predict_requests(
    host: str,
    series: Sequence[str],
    *,
    zipf: float | None,
    seed: int,
    count: int = POOL_SIZE,
    headers: bytes = b"",
) -> list[bytes]:
    """``count`` pre-encoded predict requests over ``series`` (uniform or Zipf-ranked)."""
    rng = random.Random(seed)
    if zipf is None:
        picks = [series[rng.randrange(len(series))] for _ in range(count)]
    else:
        weights = [1.0 / (rank**zipf) for rank in range(1, len(series) + 1)]
        cumulative = list(itertools.accumulate(weights))
        total = cumulative[-1]
        picks = [
            series[min(bisect.bisect(cumulative, rng.random() * total), len(series) - 1)]
            for _ in range(count)
        ]
    requests = []
    for index, series_id in enumerate(picks):
        body = b'{"timestamp":%d,"value":%.4f}' % (TIMESTAMP + index, rng.gauss(0.0, 1.5))
        requests.append(
            b"POST /api/v1/predict/%s HTTP/1.1\r\nHost: %s\r\n%s"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (series_id.encode(), host.encode(), headers, len(body), body)
        )
    return requests


def get_requests(host: str, path: str, *, headers: bytes = b"") -> list[bytes]:
    return [b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path.encode(), host.encode(), headers)]


class Load:
    """The run: opens connections, drives them closed- or open-loop, collects stats."""

    def __init__(self, *, host: str, port: int, requests: list[bytes], connections: int) -> None:
        self._host, self._port = host, port
        self._requests = itertools.cycle(requests)
        self._count = connections
        self.stats = Stats()
        self._idle: deque[Connection] = deque()
        self._due: deque[float] = deque()  # open loop: due times waiting for a connection
        self._open_loop = False
        self._pace_state = Pace(start=0.0, until=0.0, interval=1.0)
        self._sending = True
        self._busy = 0
        self._clock = time.perf_counter

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            lambda: Connection(self._done), self._host, self._port
        )
        return protocol

    async def _keep(self, first: Connection) -> None:
        """Reconnect a connection the server closed, counting the request it lost."""
        connection = first
        while True:
            was_busy = await connection.lost
            if was_busy:
                self._busy -= 1
                self.stats.transport_errors += 1
            try:
                connection = await self._connect()
            except OSError:
                self.stats.transport_errors += 1
                await asyncio.sleep(0.05)
                continue
            self._ready(connection)

    def _done(self, connection: Connection, status: int) -> None:
        self._busy -= 1
        started = connection.started
        self.stats.record(status, started, self._clock() - started)
        self._ready(connection)

    def _ready(self, connection: Connection) -> None:
        if self._open_loop:
            self._release()  # a response is a wake-up too: finer than the loop's timers
            if self._due:
                self._send(connection, self._due.popleft())
            else:
                self._idle.append(connection)
        elif self._sending:
            self._send(connection, self._clock())

    def _release(self) -> None:
        """Open loop: every request due by now goes to an idle connection or waits in line."""
        pace = self._pace_state
        now = min(self._clock(), pace.until)
        due_by_now = int((now - pace.start) / pace.interval) + 1
        while pace.released < due_by_now:
            due = pace.start + pace.released * pace.interval
            pace.released += 1
            if due >= pace.until:
                return
            if self._idle:
                self._send(self._idle.popleft(), due)
            else:
                self._due.append(due)

    def _send(self, connection: Connection, started: float) -> None:
        self._busy += 1
        connection.send(next(self._requests), started)

    async def run(self, *, duration: float, warmup: float, rate: float | None) -> dict[str, float]:
        """Drive the load; returns the measured seconds and what was left unanswered."""
        connections = [await self._connect() for _ in range(self._count)]
        keepers = [asyncio.ensure_future(self._keep(c)) for c in connections]
        start = self._clock()
        self.stats.window = (start + warmup, start + warmup + duration)
        if rate is None:
            for connection in connections:
                self._ready(connection)
            await asyncio.sleep(warmup + duration)
            self._sending = False
        else:
            self._idle.extend(connections)
            await self._pace(rate, start=start, until=self.stats.window[1])
        unanswered = await self._drain(timeout=5.0)
        for keeper in keepers:
            keeper.cancel()
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()
        return {"seconds": duration, "unanswered": unanswered}

    async def _drain(self, *, timeout: float) -> int:
        """Wait for the requests already started or due; returns how many never finished."""
        deadline = self._clock() + timeout
        while (self._busy or self._due) and self._clock() < deadline:
            await asyncio.sleep(0.01)
        return self._busy + len(self._due)

    async def _pace(self, rate: float, *, start: float, until: float) -> None:
        """Release requests at their due times until ``until``. Timers of the event loop fire
        at best every millisecond; responses arriving in between release requests too."""
        self._pace_state = Pace(start=start, until=until, interval=1.0 / rate)
        self._open_loop = True
        while self._clock() < until:
            self._release()
            await asyncio.sleep(0.001)  # uvloop rounds timers to whole milliseconds


def summary(stats: Stats, measured: float, *, mode: str, rate: float | None) -> dict[str, object]:
    latencies = sorted(stats.latencies)
    count = len(latencies)

    def pct(q: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(count - 1, int(q / 100 * count))] * 1000, 3)

    ok = sum(n for status, n in stats.statuses.items() if 200 <= status < 300)
    return {
        "mode": mode,
        "target_rate": rate,
        "seconds": round(measured, 3),
        "requests": count,
        "rate": round(count / measured, 1) if measured > 0 else 0.0,
        "achieved_rate": round(stats.answered_in_window / measured, 1) if measured > 0 else 0.0,
        "ok": ok,
        "non_2xx": count - ok,
        "answered_in_run": stats.answered,
        "transport_errors": stats.transport_errors,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "p999_ms": pct(99.9),
        "max_ms": round(latencies[-1] * 1000, 3) if latencies else None,
        "mean_ms": round(sum(latencies) / count * 1000, 3) if latencies else None,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="http://host:port of the server")
    parser.add_argument("--mode", choices=("closed", "open"), default="closed")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured")
    parser.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--series-file", help="predict over these series (one id a line)")
    parser.add_argument("--zipf", type=float, help="Zipf exponent of series popularity")
    parser.add_argument("--path", default="/api/v1/liveness", help="GET path without series")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--header", action="append", default=[], help="extra 'Name: value' on every request"
    )
    args = parser.parse_args(argv)
    if args.mode == "open" and not args.rate:
        parser.error("--mode open needs --rate")
    return args


async def _main(args: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    headers = b"".join(h.encode("latin-1") + b"\r\n" for h in args.header)
    if args.series_file:
        with open(args.series_file) as handle:
            series = [line.strip() for line in handle if line.strip()]
        requests = predict_requests(
            url.netloc, series, zipf=args.zipf, seed=args.seed, headers=headers
        )
    else:
        requests = get_requests(url.netloc, args.path, headers=headers)
    load = Load(host=host, port=port, requests=requests, connections=args.connections)
    rate = args.rate if args.mode == "open" else None
    outcome = await load.run(duration=args.duration, warmup=args.warmup, rate=rate)
    report = summary(load.stats, outcome["seconds"], mode=args.mode, rate=rate)
    report["unanswered"] = int(outcome["unanswered"])
    report["connections"] = args.connections
    report["uvloop"] = _uvloop_installed()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # The client shares the machine with the server: what it costs per response.
    report["client_cpu_us"] = round(
        (usage.ru_utime + usage.ru_stime) / max(load.stats.answered, 1) * 1e6, 1
    )
    return report


def _uvloop_installed() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if _uvloop_installed():
        import uvloop

        report = uvloop.run(_main(args))
    else:
        report = asyncio.run(_main(args))
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
