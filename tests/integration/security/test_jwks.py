"""JWKS key source against a real HTTP server on 127.0.0.1: keys by kid, rotation, the
refetch throttle, and what happens when the endpoint goes away. The throttle's clock is a
fake, so the tests decide when 10 s have passed; the HTTP traffic is real."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from seriesguard.core.errors import Unauthenticated, Unavailable
from seriesguard.security.jwks import JwksKeySource
from seriesguard.security.keys import ALGORITHMS
from seriesguard.security.tokens import TokenVerifier
from seriesguard.settings import Settings

pytestmark = pytest.mark.integration

KEY_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwk(key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    family = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    return {**ALGORITHMS[family].to_jwk(key.public_key(), as_dict=True), "kid": kid, **extra}


class JwksServer:
    """Serves whatever ``keys`` holds at /jwks.json and counts the requests."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        self.delay = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                time.sleep(owner.delay)
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture
def server() -> Iterator[JwksServer]:
    running = JwksServer()
    yield running
    running.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token(key: Any, kid: str, sub: str = "alice", alg: str = "RS256") -> str:
    now = time.time()
    payload = {"sub": sub, "exp": now + 600, "iat": now, "roles": ["viewer"]}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def verifier_for(url: str, clock: Clock) -> TokenVerifier:
    settings = Settings(
        auth_jwks_uri=url,
        auth_public_key_file=None,
        auth_secret=None,
        auth_issuer=None,
        auth_audiences=[],
        auth_algorithms=["RS256", "ES256"],
        auth_roles_claim="roles",
    )
    source = JwksKeySource(url, refresh_seconds=300.0, clock=clock)
    return TokenVerifier(settings, jwks=source)


def rule_of(verifier: TokenVerifier, jwt_token: str) -> str:
    with pytest.raises((Unauthenticated, Unavailable)) as caught:
        asyncio.run(verifier.verify(jwt_token))
    return str(caught.value.rule)


def test_keys_are_found_by_kid(server: JwksServer) -> None:
    server.keys = [
        jwk(KEY_A, "a"),
        jwk(EC_KEY, "ec"),
        jwk(KEY_B, "enc-only", use="enc"),
        {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
    ]
    verifier = verifier_for(server.url, Clock())
    assert asyncio.run(verifier.verify(token(KEY_A, "a"))).roles == {"viewer"}
    assert asyncio.run(verifier.verify(token(EC_KEY, "ec", alg="ES256"))).subject == "alice"
    assert rule_of(verifier, token(KEY_B, "enc-only")) == "unknown_key"
    assert rule_of(verifier, token(KEY_B, "a")) == "bad_signature"
    assert rule_of(verifier, token(EC_KEY, "a", alg="ES256")) == "algorithm_not_allowed"
    assert server.hits == 1


def test_rotation_fetches_the_new_key_once(server: JwksServer) -> None:
    clock = Clock()
    server.keys = [jwk(KEY_A, "a")]
    verifier = verifier_for(server.url, clock)
    old = token(KEY_A, "a")
    asyncio.run(verifier.verify(old))
    server.keys = [jwk(KEY_B, "b")]  # the provider rotated, and withdrew the old key
    clock.now += 11
    assert asyncio.run(verifier.verify(token(KEY_B, "b"))).subject == "alice"
    assert server.hits == 2
    # The key set changed, so the token cache was dropped: the old key is no longer trusted.
    assert rule_of(verifier, old) == "unknown_key"
    assert server.hits == 2


def test_unknown_kid_refetch_is_throttled(server: JwksServer) -> None:
    clock = Clock()
    server.keys = [jwk(KEY_A, "a")]
    verifier = verifier_for(server.url, clock)
    asyncio.run(verifier.verify(token(KEY_A, "a")))
    forged = token(KEY_B, "nobody")
    assert rule_of(verifier, forged) == "unknown_key"
    assert server.hits == 1  # the set was fetched less than 10 s ago
    clock.now += 11
    for _ in range(5):
        assert rule_of(verifier, forged) == "unknown_key"
    assert server.hits == 2
    clock.now += 11
    assert rule_of(verifier, forged) == "unknown_key"
    assert server.hits == 3


def test_concurrent_requests_share_one_fetch(server: JwksServer) -> None:
    server.keys = [jwk(KEY_A, "a")]
    server.delay = 0.2
    verifier = verifier_for(server.url, Clock())
    tokens = [token(KEY_A, "a", sub=f"user{i}") for i in range(20)]

    async def all_at_once() -> list[Any]:
        return await asyncio.gather(*(verifier.verify(t) for t in tokens))

    principals = asyncio.run(all_at_once())
    assert [p.subject for p in principals] == [f"user{i}" for i in range(20)]
    assert server.hits == 1


def test_cached_keys_outlive_the_endpoint(
    server: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    server.keys = [jwk(KEY_A, "a")]
    verifier = verifier_for(server.url, clock)
    asyncio.run(verifier.verify(token(KEY_A, "a")))
    server.stop()
    clock.now += 301  # the keys are due for a refresh, which fails
    with caplog.at_level(logging.WARNING, logger="seriesguard.security.jwks"):
        principal = asyncio.run(verifier.verify(token(KEY_A, "a", sub="bob")))
    assert principal.subject == "bob"
    assert "still using the 1 keys" in caplog.text


def test_no_keys_and_no_endpoint_is_unavailable(server: JwksServer) -> None:
    url = server.url
    server.stop()
    verifier = verifier_for(url, Clock())
    assert rule_of(verifier, token(KEY_A, "a")) == "jwks_unavailable"


def test_a_set_without_usable_keys_is_unavailable(server: JwksServer) -> None:
    server.keys = [jwk(KEY_A, "a", use="enc"), {"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]
    verifier = verifier_for(server.url, Clock())
    assert rule_of(verifier, token(KEY_A, "a")) == "jwks_unavailable"
