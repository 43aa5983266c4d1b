"""The floor of seriesguard's HTTP stack: its uvicorn settings (uvloop, httptools, coalesced
writes, no access log) around an ASGI app that answers every request with a constant.

``bench_serving`` saturates it beside the predictor: what a request costs before any routing,
parsing or scoring, on the same machine in the same run.

    python benchmarks/floor_server.py --port 8091
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from seriesguard.api.server import uvicorn_options
from seriesguard.settings import Settings

BODY = b'{"status":"alive"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]


async def constant(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]  # startup / shutdown
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    while (await receive()).get("more_body"):  # read the body, as any endpoint would
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(constant, **uvicorn_options(Settings(port=args.port, log_level="WARNING")))


if __name__ == "__main__":
    main()
