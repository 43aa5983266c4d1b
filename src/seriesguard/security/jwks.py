"""Signing keys from an identity provider's JWKS endpoint, cached and refetched on rotation.

The endpoint is off the hot path: verified tokens are cached by :mod:`.tokens`, and keys are
kept for ``auth_jwks_refresh_seconds``. A token naming a key id not yet seen triggers one
fetch, at most one per ``min_refetch_seconds`` however many such tokens arrive (they may be
forged to make us hammer the provider), and concurrent requests share that one fetch. An
unreachable endpoint never takes away keys we already have.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from seriesguard.core.errors import Unauthenticated, Unavailable
from seriesguard.security.claims import quoted
from seriesguard.security.keys import VerificationKey, as_verification_key

log = logging.getLogger(__name__)

# Symmetric ("oct") keys are refused: anyone who can read a JWKS could sign with them.
_ASYMMETRIC_KTY = frozenset({"RSA", "EC", "OKP"})


@dataclass(frozen=True, slots=True)
class JwkKey:
    """One usable signing key of the set."""

    kid: str | None
    key: VerificationKey
    algorithm: str | None  # the JWK's own ``alg``, when it pins one


def parse_jwks(document: Any) -> list[JwkKey]:
    """The signature keys of a JWKS document; encryption keys, symmetric keys and keys PyJWT
    cannot load are skipped (a provider may publish kinds we do not use)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    usable: list[JwkKey] = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in _ASYMMETRIC_KTY:
            continue
        kid = entry.get("kid")
        alg = entry.get("alg")
        try:
            key = as_verification_key(PyJWK(entry).key, source=f"JWKS key {quoted(kid)}")
        except (PyJWKError, ValueError, TypeError) as exc:
            log.debug("skipping JWKS key %s: %s", quoted(kid), exc)
            continue
        usable.append(
            JwkKey(
                kid=kid if isinstance(kid, str) else None,
                key=key,
                algorithm=alg if isinstance(alg, str) else None,
            )
        )
    return usable


class JwksKeySource:
    """Keys of one JWKS URL. ``on_change`` runs when a fetch brings a different key set, so
    that tokens verified with a key since withdrawn stop being trusted."""

    def __init__(
        self,
        uri: str,
        *,
        refresh_seconds: float,
        min_refetch_seconds: float = 10.0,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.uri = uri
        self._refresh = refresh_seconds
        self._min_refetch = min_refetch_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self.on_change = on_change
        self._keys: list[JwkKey] = []
        self._fingerprint: frozenset[str] = frozenset()
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def key(self, kid: str | None) -> JwkKey:
        """The key ``kid`` names. Unavailable when no keys can be had at all; Unauthenticated
        (``unknown_key``) when the set, fresh or just refetched, has no such key."""
        found = self._find(kid)
        stale = self._clock() - self._fetched_at >= self._refresh
        if found is not None and not stale:
            return found
        if found is not None and self._fetch_lock().locked():
            return found  # a refresh is under way; the cached key is still good meanwhile
        await self._fetch_throttled()
        found = self._find(kid)
        if found is not None:
            return found
        if not self._keys:
            raise Unavailable(
                "cannot check bearer tokens: the identity provider's signing keys (JWKS) "
                "could not be fetched",
                rule="jwks_unavailable",
            )
        raise Unauthenticated(self._unknown(kid), rule="unknown_key")

    async def prefetch(self) -> bool:
        """Fetch now (e.g. at startup, so the first request does not wait); True if keys are
        held afterwards."""
        await self._fetch_throttled()
        return bool(self._keys)

    def _unknown(self, kid: str | None) -> str:
        if kid is None:
            return (
                f"the token names no key id ('kid') and the JWKS holds {len(self._keys)} keys; "
                "the issuer must set 'kid'"
            )
        return f"the token's signing key {quoted(kid)} is not in the identity provider's JWKS"

    def _find(self, kid: str | None) -> JwkKey | None:
        if kid is None:
            # Without a kid the only unambiguous choice is a set of exactly one key.
            return self._keys[0] if len(self._keys) == 1 else None
        return next((k for k in self._keys if k.kid == kid), None)

    def _fetch_lock(self) -> asyncio.Lock:
        # A lock belongs to the loop it first waited on; a process normally has one loop,
        # but tests and CLI tools run several in turn.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _fetch_throttled(self) -> None:
        async with self._fetch_lock():
            # Whoever held the lock before us may have just fetched: that counts.
            if self._clock() - self._attempted_at < self._min_refetch:
                return
            self._attempted_at = self._clock()
            await self._fetch()

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self.uri, headers={"Accept": "application/json"})
            response.raise_for_status()
            keys = parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            self._warn(f"{type(exc).__name__}: {exc}")
            return
        if not keys:
            self._warn("the document holds no RSA/EC/EdDSA signature keys")
            return
        fingerprint = frozenset(f"{k.kid}|{k.algorithm}|{_public_der(k.key).hex()}" for k in keys)
        changed = bool(self._fingerprint) and fingerprint != self._fingerprint
        self._keys, self._fingerprint = keys, fingerprint
        self._fetched_at = self._clock()
        log.info("fetched %d signing keys from JWKS %s", len(keys), self.uri)
        if changed and self.on_change is not None:
            self.on_change()

    def _warn(self, reason: str) -> None:
        if self._keys:
            log.warning(
                "JWKS %s could not be refreshed (%s); still using the %d keys fetched before",
                self.uri,
                reason,
                len(self._keys),
            )
        else:
            log.warning(
                "JWKS %s could not be fetched (%s); bearer tokens are refused", self.uri, reason
            )


def _public_der(key: VerificationKey) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
