"""Local token minting: every kind of signing key, checked by the real verifier."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from pydantic import SecretStr

from seriesguard.security.mint import generate_key_pair, mint_token
from seriesguard.security.tokens import TokenVerifier
from seriesguard.settings import Settings

NOW = 1_700_000_000.0


def settings(**fields: Any) -> Settings:
    base: dict[str, Any] = {
        "auth_issuer": "https://sg.test",
        "auth_audiences": ["predictor", "api"],
        "auth_jwks_uri": None,
        "auth_public_key_file": None,
        "auth_private_key_file": None,
        "auth_secret": None,
        "auth_roles_claim": "roles",
    }
    return Settings(**{**base, **fields})


def roundtrip(config: Settings, **mint: Any) -> Any:
    token = mint_token(config, subject="bob", ttl_seconds=600, now=NOW, **mint)
    return asyncio.run(TokenVerifier(config, clock=lambda: NOW + 1).verify(token))


@pytest.fixture
def rsa_pair(tmp_path: Path) -> tuple[Path, Path]:
    return generate_key_pair(tmp_path / "keys")


def test_rsa_pair_mints_rs256_with_a_kid(rsa_pair: tuple[Path, Path]) -> None:
    private, public = rsa_pair
    config = settings(auth_private_key_file=private, auth_public_key_file=public)
    principal = roundtrip(config, roles=["ml_engineer", "viewer"])
    assert principal.subject == "bob"
    assert principal.roles == {"ml_engineer", "viewer"}
    assert principal.expires_at == NOW + 600
    token = mint_token(config, subject="bob", roles=[], ttl_seconds=60, now=NOW)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"]
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["aud"] == "predictor" and payload["iss"] == "https://sg.test"
    assert payload["iat"] == payload["nbf"] == NOW and payload["exp"] == NOW + 60


def test_key_files_and_modes(rsa_pair: tuple[Path, Path]) -> None:
    private, public = rsa_pair
    assert (private.name, public.name) == ("private.pem", "public.pem")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(FileExistsError):
        generate_key_pair(private.parent)


def test_ec_key_mints_es256(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "ec.pem", tmp_path / "ec.pub"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    config = settings(auth_private_key_file=private, auth_public_key_file=public)
    assert roundtrip(config, roles=["admin"]).roles == {"admin"}
    token = mint_token(config, subject="bob", roles=[], ttl_seconds=60)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


def test_secret_mints_hs256_with_nested_roles() -> None:
    config = settings(auth_secret=SecretStr("k" * 32), auth_roles_claim="realm_access.roles")
    assert roundtrip(config, roles=["data_scientist"]).roles == {"data_scientist"}
    token = mint_token(config, subject="bob", roles=["viewer"], ttl_seconds=60)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert jwt.decode(token, options={"verify_signature": False})["realm_access"] == {
        "roles": ["viewer"]
    }


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({}, "SERIESGUARD_AUTH_PRIVATE_KEY_FILE"),
        ({"auth_secret": SecretStr("short")}, "at least 32"),
        ({"auth_private_key_file": Path("/nonexistent.pem")}, "/nonexistent.pem"),
    ],
    ids=["no_key", "short_secret", "missing_file"],
)
def test_minting_needs_a_usable_key(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        mint_token(settings(**fields), subject="bob", roles=["viewer"], ttl_seconds=60)


def test_mismatched_pair_is_refused(tmp_path: Path) -> None:
    private, _ = generate_key_pair(tmp_path / "one")
    _, other_public = generate_key_pair(tmp_path / "two")
    config = settings(auth_private_key_file=private, auth_public_key_file=other_public)
    with pytest.raises(ValueError, match="does not match"):
        mint_token(config, subject="bob", roles=[], ttl_seconds=60)
