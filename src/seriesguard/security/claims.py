"""Pure JWT pieces: split a compact token, check its registered claims, read its roles.

No keys and no I/O here; :mod:`.tokens` runs these around the signature check. Every failure
is an :class:`Unauthenticated` whose ``rule`` names the check. Messages may quote a claim
(an issuer, an audience) to help the operator, but never the token or any key.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from seriesguard.core.authz import Principal
from seriesguard.core.errors import Unauthenticated

# Three base64url segments; the signature may be empty so that an unsigned ``alg: none``
# token is reported as a refused algorithm rather than as garbage.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_QUOTE_LIMIT = 80


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A structurally valid token whose signature has not been checked yet."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def algorithm(self) -> str:
        return str(self.header["alg"])

    @property
    def key_id(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def malformed(message: str) -> Unauthenticated:
    return Unauthenticated(f"malformed bearer token: {message}", rule="malformed_token")


def quoted(value: object) -> str:
    """A claim value for a message: repr, cut short (claims are attacker-chosen text)."""
    text = repr(value)
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 3] + "..."


def _segment(text: str, name: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise malformed(f"the {name} is not valid base64url") from None


def _json_object(text: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(_segment(text, name))
    except ValueError:  # also UnicodeDecodeError and oversized integers
        raise malformed(f"the {name} is not JSON") from None
    if not isinstance(value, dict):
        raise malformed(f"the {name} is not a JSON object")
    return value


def parse_compact(token: str) -> ParsedToken:
    """Split ``header.payload.signature`` and decode the JSON parts; nothing is trusted yet."""
    if not _COMPACT.fullmatch(token):
        raise malformed("expected three base64url segments separated by dots (header.payload.sig)")
    head, body, sig = token.split(".")
    header = _json_object(head, "header")
    if not isinstance(header.get("alg"), str):
        raise malformed("the header has no 'alg'")
    if "kid" in header and not isinstance(header["kid"], str):
        raise malformed("the header's 'kid' is not a string")
    if "crit" in header:
        # RFC 7515 4.1.11: extensions marked critical must be understood; we support none.
        raise malformed("the header lists critical extensions ('crit'), none are supported")
    claims = _json_object(body, "payload")
    signature = _segment(sig, "signature")
    return ParsedToken(header, claims, f"{head}.{body}".encode("ascii"), signature)


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, bool | str) else math.nan
    except (TypeError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        raise malformed(f"claim '{name}' must be a number of seconds since the epoch")
    return number


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """What the registered claims must say; from the auth settings."""

    issuer: str | None
    audiences: frozenset[str]
    leeway: float
    roles_claim: str


def check_claims(claims: dict[str, Any], *, rules: ClaimRules, now: float) -> Principal:
    """The caller the claims describe, once exp, nbf/iat, iss, aud and sub have passed."""
    expires = _numeric_date(claims, "exp")
    if expires is None:
        # A token without exp would be valid forever; every identity provider sets one.
        raise Unauthenticated("the token has no expiry ('exp' claim)", rule="missing_expiry")
    if now >= expires + rules.leeway:
        raise Unauthenticated(
            f"the token expired {now - expires:.0f}s ago; get a new one", rule="token_expired"
        )
    for name in ("nbf", "iat"):
        moment = _numeric_date(claims, name)
        if moment is not None and moment > now + rules.leeway:
            raise Unauthenticated(
                f"the token is not valid before {moment:.0f} ('{name}' is "
                f"{moment - now:.0f}s in the future; check the clocks)",
                rule="token_not_yet_valid",
            )
    if rules.issuer is not None and claims.get("iss") != rules.issuer:
        raise Unauthenticated(
            f"the token's issuer {quoted(claims.get('iss'))} is not {rules.issuer!r}",
            rule="wrong_issuer",
        )
    if rules.audiences and not _audiences(claims.get("aud")) & rules.audiences:
        raise Unauthenticated(
            f"the token's audience {quoted(claims.get('aud'))} names none of "
            f"{sorted(rules.audiences)}",
            rule="wrong_audience",
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("the token names no subject ('sub' claim)", rule="missing_subject")
    return Principal(subject=subject, roles=roles_at(claims, rules.roles_claim), expires_at=expires)


def _audiences(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def roles_at(claims: dict[str, Any], path: str) -> frozenset[str]:
    """Roles at ``path``: a list of strings or one space-separated string; anything else is
    no roles. A claim whose own name has dots (``https://example.com/roles``) is found as is
    before the dots are taken as nesting (``realm_access.roles``)."""
    value: object = claims.get(path)
    if path not in claims:
        value = claims
        for part in path.split("."):
            if not isinstance(value, dict):
                return frozenset()
            value = value.get(part)
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return frozenset()
