"""Bearer-token authentication: the ``Authorization`` header in, a :class:`Principal` out.

Checks run cheapest first (size, structure, algorithm, key, signature, claims), so junk is
refused before any cryptography. Keys come from one of:

- a JWKS URL (``auth_jwks_uri``): the identity provider's keys, rotated by key id;
- a PEM public key (``auth_public_key_file``): RSA or EC, for setups without a JWKS;
- a shared secret (``auth_secret``): HS256/384/512, for the smallest setups.

The secret may be combined with one of the other two; the token's algorithm family then
picks the key, so an HS* token is only ever checked against the secret and never against a
public key (the HS/RS confusion attack).

The predictor verifies a token per request at tens of thousands of requests a second, so
verified tokens are cached per process until they expire: a hit is a dict lookup and a
comparison.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from seriesguard.core.authz import Principal
from seriesguard.core.errors import Unauthenticated
from seriesguard.security.claims import ClaimRules, ParsedToken, check_claims, parse_compact
from seriesguard.security.jwks import JwksKeySource
from seriesguard.security.keys import (
    ALGORITHMS,
    HMAC_ALGORITHMS,
    VerificationKey,
    algorithm_fits,
    asymmetric_algorithms,
    describe_key,
    load_public_key,
    secret_bytes,
)
from seriesguard.settings import Settings

# Real tokens are 1-2 KB; anything this big is refused before it is even split.
MAX_TOKEN_BYTES = 8 * 1024
DEFAULT_CACHE_SIZE = 10_000
NO_KEY_SOURCE = (
    "authentication is on but no way to check tokens is configured: set "
    "SERIESGUARD_AUTH_JWKS_URI (identity provider), SERIESGUARD_AUTH_PUBLIC_KEY_FILE (PEM "
    "public key) or SERIESGUARD_AUTH_SECRET (shared HS256 secret)"
)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value (scheme in any case)."""
    if authorization is None or not authorization.strip():
        raise Unauthenticated(
            "this endpoint needs a bearer token: send 'Authorization: Bearer <token>'",
            rule="missing_token",
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated(
            "the Authorization header must be 'Bearer <token>'", rule="malformed_token"
        )
    return token


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal
    valid_until: float  # exp + leeway: the moment a full check would refuse the token


class TokenVerifier:
    """Verifies bearer tokens against the configured keys; one per process, shared by all
    requests. Construction fails with a ValueError naming the setting that is wrong."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        cache_size: int = DEFAULT_CACHE_SIZE,
        jwks: JwksKeySource | None = None,
    ) -> None:
        if settings.auth_jwks_uri and settings.auth_public_key_file:
            raise ValueError(
                "set only one of SERIESGUARD_AUTH_JWKS_URI and SERIESGUARD_AUTH_PUBLIC_KEY_FILE"
            )
        self._clock = clock
        self._cache_size = cache_size
        self._cache: dict[str, _Cached] = {}
        self._rules = ClaimRules(
            issuer=settings.auth_issuer,
            audiences=frozenset(settings.auth_audiences),
            leeway=settings.auth_leeway_seconds,
            roles_claim=settings.auth_roles_claim,
        )
        secret = settings.auth_secret
        self._secret = secret_bytes(secret.get_secret_value()) if secret else None
        self._public_key: VerificationKey | None = None
        if settings.auth_public_key_file is not None:
            self._public_key = load_public_key(settings.auth_public_key_file)
        if jwks is None and settings.auth_jwks_uri:
            jwks = JwksKeySource(
                settings.auth_jwks_uri, refresh_seconds=settings.auth_jwks_refresh_seconds
            )
        self._jwks = jwks
        if self._jwks is not None:
            self._jwks.on_change = self.clear_cache
        has_public = self._public_key is not None or self._jwks is not None
        if self._secret is None and not has_public:
            raise ValueError(NO_KEY_SOURCE)
        self._asymmetric = asymmetric_algorithms(settings.auth_algorithms) if has_public else None
        self._check_key_fits_algorithms(settings.auth_algorithms)
        self._allowed = (self._asymmetric or frozenset()) | (
            HMAC_ALGORITHMS if self._secret is not None else frozenset()
        )

    def _check_key_fits_algorithms(self, configured: list[str]) -> None:
        if self._asymmetric is not None and not self._asymmetric:
            raise ValueError(
                f"SERIESGUARD_AUTH_ALGORITHMS {configured} lists no public-key algorithm "
                "(RS256, ES256, ...): no token could be checked against the key"
            )
        key = self._public_key
        if key is not None and not any(algorithm_fits(a, key) for a in self._asymmetric or ()):
            raise ValueError(
                f"the {describe_key(key)} key of SERIESGUARD_AUTH_PUBLIC_KEY_FILE fits none of "
                f"SERIESGUARD_AUTH_ALGORITHMS {sorted(self._asymmetric or ())}"
            )

    def clear_cache(self) -> None:
        """Forget every verified token (keys changed: each is checked again once)."""
        self._cache.clear()

    async def verify(self, token: str) -> Principal:
        """The caller ``token`` describes, or :class:`Unauthenticated` saying which check
        failed (:class:`Unavailable` when the JWKS cannot be fetched at all)."""
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthenticated(
                f"the bearer token is larger than {MAX_TOKEN_BYTES} bytes", rule="token_too_large"
            )
        cached = self._cache.get(token)
        if cached is not None:
            if self._clock() < cached.valid_until:
                return cached.principal
            self._cache.pop(token, None)
        parsed = parse_compact(token)
        algorithm = parsed.algorithm
        self._check_algorithm(algorithm)
        key = await self._key_for(parsed, algorithm)
        if not self._signature_ok(algorithm, key, parsed.signing_input, parsed.signature):
            raise Unauthenticated(
                "the token's signature does not match the signing key", rule="bad_signature"
            )
        principal = check_claims(parsed.claims, rules=self._rules, now=self._clock())
        self._remember(token, principal)
        return principal

    def _check_algorithm(self, algorithm: str) -> None:
        if algorithm in self._allowed:
            return
        if algorithm in HMAC_ALGORITHMS:
            why = "HMAC tokens are accepted only when SERIESGUARD_AUTH_SECRET is set"
        elif algorithm.lower() == "none":
            why = "unsigned tokens are never accepted"
        else:
            why = f"accepted: {', '.join(sorted(self._allowed))}"
        raise Unauthenticated(
            f"the token's algorithm {algorithm[:20]!r} is not allowed ({why})",
            rule="algorithm_not_allowed",
        )

    async def _key_for(self, parsed: ParsedToken, algorithm: str) -> VerificationKey | bytes:
        if algorithm in HMAC_ALGORITHMS:
            assert self._secret is not None  # _check_algorithm let HS* through
            return self._secret
        if self._jwks is not None:
            found = await self._jwks.key(parsed.key_id)
            if found.algorithm is not None and found.algorithm != algorithm:
                raise Unauthenticated(
                    f"the token uses {algorithm} but its key {parsed.key_id!r} is for "
                    f"{found.algorithm[:20]!r} only",
                    rule="algorithm_not_allowed",
                )
            key = found.key
        else:
            assert self._public_key is not None  # no JWKS and an asymmetric alg passed
            key = self._public_key
        if not algorithm_fits(algorithm, key):
            raise Unauthenticated(
                f"the token uses {algorithm}, which the {describe_key(key)} signing key "
                "cannot verify",
                rule="algorithm_not_allowed",
            )
        return key

    def _signature_ok(
        self, algorithm: str, key: VerificationKey | bytes, signing_input: bytes, signature: bytes
    ) -> bool:
        """The one cryptographic step; cache hits never reach it."""
        return ALGORITHMS[algorithm].verify(signing_input, key, signature)

    def _remember(self, token: str, principal: Principal) -> None:
        # Only verified tokens are kept: caching refusals would let junk evict real callers,
        # and most refusals (size, structure, algorithm) cost less than the cache would save.
        assert principal.expires_at is not None  # check_claims requires exp
        if self._cache_size <= 0:
            return
        if len(self._cache) >= self._cache_size:
            # Oldest insertion goes first. No LRU bookkeeping on the hit path: an evicted hot
            # token costs one more signature check, then it is cached again.
            self._cache.pop(next(iter(self._cache)), None)
        self._cache[token] = _Cached(principal, principal.expires_at + self._rules.leeway)


def create_verifier(
    settings: Settings, *, clock: Callable[[], float] = time.time
) -> TokenVerifier | None:
    """The process's verifier; None when authentication is off (no auth setting at all)."""
    if not settings.auth_enabled:
        return None
    return TokenVerifier(settings, clock=clock)
