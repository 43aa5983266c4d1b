"""Local tokens and keys for setups without an identity provider (``seriesguard token`` and
``seriesguard keygen``).

A server never needs the private key: it checks tokens with the public key alone, so only
the machine that mints tokens holds ``private.pem``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from seriesguard.security.keys import key_thumbprint, load_public_key, secret_bytes
from seriesguard.settings import Settings

NO_SIGNING_KEY = (
    "no key to sign tokens with: set SERIESGUARD_AUTH_PRIVATE_KEY_FILE (PEM private key, e.g. "
    "from `seriesguard keygen DIR`) or SERIESGUARD_AUTH_SECRET (shared HS256 secret)"
)
PRIVATE_KEY_NAME = "private.pem"
PUBLIC_KEY_NAME = "public.pem"
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def mint_token(
    settings: Settings,
    *,
    subject: str,
    roles: Sequence[str],
    ttl_seconds: float,
    now: float | None = None,
) -> str:
    """A signed token for ``subject`` with ``roles`` at ``auth_roles_claim``, valid from
    ``now`` for ``ttl_seconds``. RS256/ES256 with the private key file, else HS256 with the
    secret; ValueError naming the settings when neither is configured."""
    if not subject:
        raise ValueError("the token needs a subject")
    if not ttl_seconds > 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + max(1, round(ttl_seconds)),
    }
    if settings.auth_issuer:
        claims["iss"] = settings.auth_issuer
    if settings.auth_audiences:
        claims["aud"] = settings.auth_audiences[0]
    _place(claims, settings.auth_roles_claim, list(roles))
    if settings.auth_private_key_file is not None:
        key = _signing_key(settings)
        headers = {"kid": key_thumbprint(key.public_key())}
        return jwt.encode(claims, key, algorithm=_algorithm_of(key), headers=headers)
    if settings.auth_secret is not None:
        secret = secret_bytes(settings.auth_secret.get_secret_value())
        return jwt.encode(claims, secret, algorithm="HS256")
    raise ValueError(NO_SIGNING_KEY)


def _place(claims: dict[str, Any], path: str, value: object) -> None:
    """Put ``value`` at a dotted claim path, creating the nested objects on the way."""
    *parents, leaf = path.split(".")
    node = claims
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"roles claim path {path!r} runs through the {part!r} claim")
        node = child
    node[leaf] = value


def _signing_key(settings: Settings) -> SigningKey:
    path = settings.auth_private_key_file
    assert path is not None
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ValueError(f"SERIESGUARD_AUTH_PRIVATE_KEY_FILE {path}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        # TypeError: the key is encrypted; minting is unattended, so it must not be.
        raise ValueError(
            f"SERIESGUARD_AUTH_PRIVATE_KEY_FILE {path}: not an unencrypted PEM private key"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(
            f"SERIESGUARD_AUTH_PRIVATE_KEY_FILE {path}: an RSA or EC key is needed, "
            f"not {type(key).__name__}"
        )
    public_file = settings.auth_public_key_file
    if public_file is not None and load_public_key(public_file) != key.public_key():
        # Tokens signed with the wrong half of a pair would all fail with bad_signature.
        raise ValueError(
            f"SERIESGUARD_AUTH_PRIVATE_KEY_FILE {path} does not match "
            f"SERIESGUARD_AUTH_PUBLIC_KEY_FILE {public_file}"
        )
    return key


def _algorithm_of(key: SigningKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    algorithm = _EC_ALGORITHMS.get(key.curve.name)
    if algorithm is None:
        raise ValueError(f"EC curve {key.curve.name} is not supported; use P-256")
    return algorithm


def generate_key_pair(directory: Path) -> tuple[Path, Path]:
    """Write a new RSA-2048 ``private.pem`` (mode 0600) and ``public.pem`` into
    ``directory``; FileExistsError rather than replace a pair (that would void every token
    minted with it)."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_KEY_NAME, directory / PUBLIC_KEY_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} already exists; refusing to overwrite a key")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    _write_new(private_path, private_pem, mode=0o600)
    _write_new(public_path, public_pem, mode=0o644)
    return private_path, public_path


def _write_new(path: Path, data: bytes, *, mode: int) -> None:
    # Created with its final mode, so the private key is never readable by others, not even
    # for the moment between write and chmod.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)  # the umask may have taken bits we meant to keep
        handle.write(data)
