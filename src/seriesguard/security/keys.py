"""Keys and signature algorithms shared by token verification and minting.

Which algorithm may be used with which key is decided here, once: the classic JWT attacks
(``alg: none``, an HS256 token "signed" with the server's RSA public key as HMAC secret, an
ES256 token checked against an RSA key) all come from letting the token choose.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.exceptions import InvalidKeyError

# Symmetric algorithms: only ever with the shared secret, never with a public key.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
MIN_SECRET_BYTES = 32
ALGORITHMS: dict[str, Algorithm] = get_default_algorithms()

VerificationKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)
_VERIFICATION_KEY_TYPES = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)


def asymmetric_algorithms(names: list[str]) -> frozenset[str]:
    """The public-key algorithms of ``names``; ``none`` and HS* are dropped (they are never
    accepted with a public key), names PyJWT does not know are a configuration error."""
    unknown = sorted(n for n in names if n not in ALGORITHMS)
    if unknown:
        known = ", ".join(sorted(set(ALGORITHMS) - HMAC_ALGORITHMS - {"none"}))
        raise ValueError(
            f"SERIESGUARD_AUTH_ALGORITHMS names unknown algorithms {unknown}; known: {known}"
        )
    return frozenset(n for n in names if n != "none" and n not in HMAC_ALGORITHMS)


def algorithm_fits(algorithm: str, key: VerificationKey) -> bool:
    """Whether ``key`` is the right family (and curve) for ``algorithm``: RS*/PS* need an RSA
    key, ES256 a P-256 key, EdDSA an Ed25519/Ed448 key. HS* never fits a public key."""
    if algorithm in HMAC_ALGORITHMS or algorithm not in ALGORITHMS:
        return False
    try:
        ALGORITHMS[algorithm].prepare_key(key)
    except (InvalidKeyError, TypeError, ValueError):
        return False
    return True


def as_verification_key(key: object, *, source: str) -> VerificationKey:
    """The public half of ``key`` (JWKS entries may carry private parts), or ValueError."""
    public_key = getattr(key, "public_key", None)
    if not isinstance(key, _VERIFICATION_KEY_TYPES) and callable(public_key):
        key = public_key()
    if not isinstance(key, _VERIFICATION_KEY_TYPES):
        raise ValueError(f"{source}: not an RSA, EC or EdDSA key ({type(key).__name__})")
    return key


def load_public_key(path: Path) -> VerificationKey:
    """A PEM public key (RSA or EC) from ``path``, with an operator-readable error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"SERIESGUARD_AUTH_PUBLIC_KEY_FILE {path}: {exc.strerror}") from exc
    try:
        key = load_pem_public_key(data)
    except ValueError as exc:
        raise ValueError(
            f"SERIESGUARD_AUTH_PUBLIC_KEY_FILE {path}: not a PEM public key "
            "(expected '-----BEGIN PUBLIC KEY-----')"
        ) from exc
    return as_verification_key(key, source=f"SERIESGUARD_AUTH_PUBLIC_KEY_FILE {path}")


def describe_key(key: VerificationKey) -> str:
    """'RSA-2048', 'EC secp256r1', 'Ed25519': for messages about a key/algorithm mismatch."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__.removesuffix("PublicKey").lstrip("_")


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of ``auth_secret``; too short a secret is a configuration error, because
    an HS256 token is only as strong as the secret is hard to guess."""
    data = secret.encode("utf-8")
    if len(data) < MIN_SECRET_BYTES:
        raise ValueError(
            f"SERIESGUARD_AUTH_SECRET is {len(data)} bytes; at least {MIN_SECRET_BYTES} are "
            "required (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    try:
        return ALGORITHMS["HS256"].prepare_key(data)  # type: ignore[no-any-return]
    except InvalidKeyError as exc:
        raise ValueError(
            "SERIESGUARD_AUTH_SECRET looks like a PEM/SSH key; use a random string instead"
        ) from exc


def key_thumbprint(key: VerificationKey) -> str:
    """RFC 7638 JWK thumbprint: a stable ``kid`` derived from the public key alone."""
    if isinstance(key, rsa.RSAPublicKey):
        jwk = ALGORITHMS["RS256"].to_jwk(key, as_dict=True)
        members: tuple[str, ...] = ("e", "kty", "n")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        jwk = ALGORITHMS["ES256"].to_jwk(key, as_dict=True)
        members = ("crv", "kty", "x", "y")
    else:
        jwk = ALGORITHMS["EdDSA"].to_jwk(key, as_dict=True)
        members = ("crv", "kty", "x")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
