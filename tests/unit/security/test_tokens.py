"""Bearer-token verification over real signed tokens: each way a token can be wrong, and the
exact rule it is refused with. The clock is fixed, so expiry cases are exact."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr

from seriesguard.core.authz import Principal
from seriesguard.core.errors import Unauthenticated
from seriesguard.security.keys import ALGORITHMS
from seriesguard.security.tokens import (
    MAX_TOKEN_BYTES,
    TokenVerifier,
    bearer_token,
    create_verifier,
)
from seriesguard.settings import Settings

NOW = 1_700_000_000.0
ISSUER = "https://issuer.test"
AUDIENCE = "seriesguard"
SECRET = "s" * 64  # HS512 wants 64 bytes (RFC 7518 3.2); HS256 needs 32
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = RSA_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: Any) -> str:
    return b64(json.dumps(obj).encode())


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims; a change to None drops the claim."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": NOW - 10,
        "nbf": NOW - 10,
        "exp": NOW + 600,
        "roles": ["viewer"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def rs256(key: Any = RSA_KEY, **changes: Any) -> str:
    return jwt.encode(claims(**changes), key, algorithm="RS256")


def hand_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """HS256 built by hand: PyJWT rightly refuses a PEM key as HMAC secret, an attacker won't."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def tampered(token: str) -> str:
    """The same header and signature over claims that grant more."""
    header, _, signature = token.split(".")
    return f"{header}.{segment(claims(roles=['admin']))}.{signature}"


def rs_signed(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """RS256 over any header, even one PyJWT would not write."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = ALGORITHMS["RS256"].sign(signing_input.encode(), RSA_KEY)
    return f"{signing_input}.{b64(signature)}"


def unsigned(payload: dict[str, Any]) -> str:
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(payload)}."


def auth_settings(tmp: Path, **overrides: Any) -> Settings:
    """Every auth field explicit, so the environment of the test run cannot change them."""
    public = tmp / "public.pem"
    public.write_bytes(PUBLIC_PEM)
    fields: dict[str, Any] = {
        "auth_issuer": ISSUER,
        "auth_audiences": [AUDIENCE],
        "auth_jwks_uri": None,
        "auth_public_key_file": public,
        "auth_private_key_file": None,
        "auth_secret": None,
        "auth_algorithms": ["RS256", "ES256"],
        "auth_roles_claim": "roles",
        "auth_leeway_seconds": 30.0,
    }
    fields.update(overrides)
    return Settings(**fields)


def verify(verifier: TokenVerifier, token: str) -> Principal:
    return asyncio.run(verifier.verify(token))


@pytest.fixture
def rsa_verifier(tmp_path: Path) -> TokenVerifier:
    return TokenVerifier(auth_settings(tmp_path), clock=lambda: NOW)


# (case id, token factory, expected rule or None for a valid token)
REFUSALS: list[tuple[str, Callable[[], str], str]] = [
    ("expired", lambda: rs256(exp=NOW - 31), "token_expired"),
    ("no_exp", lambda: rs256(exp=None), "missing_expiry"),
    ("exp_not_a_number", lambda: rs256(exp="tomorrow"), "malformed_token"),
    ("nbf_in_future", lambda: rs256(nbf=NOW + 60), "token_not_yet_valid"),
    ("iat_in_future", lambda: rs256(iat=NOW + 60, nbf=None), "token_not_yet_valid"),
    ("wrong_issuer", lambda: rs256(iss="https://evil.test"), "wrong_issuer"),
    ("no_issuer", lambda: rs256(iss=None), "wrong_issuer"),
    ("wrong_audience", lambda: rs256(aud="other-service"), "wrong_audience"),
    ("wrong_audience_list", lambda: rs256(aud=["a", "b"]), "wrong_audience"),
    ("no_audience", lambda: rs256(aud=None), "wrong_audience"),
    ("other_rsa_key", lambda: rs256(OTHER_RSA_KEY), "bad_signature"),
    ("tampered_payload", lambda: tampered(rs256()), "bad_signature"),
    ("alg_none", lambda: unsigned(claims()), "algorithm_not_allowed"),
    (
        "alg_none_with_garbage_signature",
        lambda: unsigned(claims()) + "c2ln",
        "algorithm_not_allowed",
    ),
    (
        "hs256_with_public_key_as_secret",
        lambda: hand_signed({"alg": "HS256", "typ": "JWT"}, claims(), PUBLIC_PEM),
        "algorithm_not_allowed",
    ),
    (
        "es256_against_rsa_key",
        lambda: jwt.encode(claims(), EC_KEY, algorithm="ES256"),
        "algorithm_not_allowed",
    ),
    (
        "rs512_not_in_allow_list",
        lambda: jwt.encode(claims(), RSA_KEY, algorithm="RS512"),
        "algorithm_not_allowed",
    ),
    ("one_megabyte", lambda: "a" * (1024 * 1024), "token_too_large"),
    ("just_over_limit", lambda: rs256() + "." * (MAX_TOKEN_BYTES + 1), "token_too_large"),
    ("empty", lambda: "", "malformed_token"),
    ("one_segment", lambda: "abc", "malformed_token"),
    ("two_segments", lambda: "abc.def", "malformed_token"),
    ("four_segments", lambda: rs256() + ".abc", "malformed_token"),
    ("not_base64", lambda: "!!!.###.$$$", "malformed_token"),
    ("non_ascii", lambda: "é.é.é", "malformed_token"),
    ("bad_base64_length", lambda: "a.b.c", "malformed_token"),
    ("header_not_json", lambda: f"{b64(b'nope')}.{segment(claims())}.c2ln", "malformed_token"),
    ("header_a_list", lambda: f"{segment(['RS256'])}.{segment(claims())}.c2ln", "malformed_token"),
    (
        "header_no_alg",
        lambda: f"{segment({'typ': 'JWT'})}.{segment(claims())}.c2ln",
        "malformed_token",
    ),
    (
        "payload_not_json",
        lambda: f"{segment({'alg': 'RS256'})}.{b64(b'{oops')}.c2ln",
        "malformed_token",
    ),
    (
        "kid_not_a_string",
        lambda: rs_signed({"alg": "RS256", "kid": 7}, claims()),
        "malformed_token",
    ),
    (
        "critical_extension",
        lambda: jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"crit": ["exp"]}),
        "malformed_token",
    ),
    ("no_sub", lambda: rs256(sub=None), "missing_subject"),
    ("empty_sub", lambda: rs256(sub=""), "missing_subject"),
    ("sub_not_a_string", lambda: rs256(sub=42), "missing_subject"),
]


@pytest.mark.parametrize(("make", "rule"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refused_tokens_name_the_failed_check(
    rsa_verifier: TokenVerifier, make: Callable[[], str], rule: str
) -> None:
    token = make()
    with pytest.raises(Unauthenticated) as caught:
        verify(rsa_verifier, token)
    assert caught.value.rule == rule
    assert caught.value.message
    if len(token) > 20:
        for part in token.split("."):
            assert len(part) < 8 or part not in caught.value.message  # never echo the token


# (case id, claim changes, settings changes, expected roles)
ACCEPTED: list[tuple[str, dict[str, Any], dict[str, Any], frozenset[str]]] = [
    ("valid", {}, {}, frozenset({"viewer"})),
    ("expired_within_leeway", {"exp": NOW - 10}, {}, frozenset({"viewer"})),
    ("nbf_within_leeway", {"nbf": NOW + 20}, {}, frozenset({"viewer"})),
    ("audience_list_intersects", {"aud": ["x", AUDIENCE]}, {}, frozenset({"viewer"})),
    ("roles_list", {"roles": ["viewer", "admin"]}, {}, frozenset({"viewer", "admin"})),
    (
        "roles_space_separated",
        {"roles": "viewer  ml_engineer"},
        {},
        frozenset({"viewer", "ml_engineer"}),
    ),
    (
        "roles_nested_dotted_claim",
        {"roles": None, "realm_access": {"roles": ["data_scientist"]}},
        {"auth_roles_claim": "realm_access.roles"},
        frozenset({"data_scientist"}),
    ),
    (
        "roles_claim_name_with_dots",
        {"roles": None, "https://sg.example/roles": ["admin"]},
        {"auth_roles_claim": "https://sg.example/roles"},
        frozenset({"admin"}),
    ),
    ("roles_missing", {"roles": None}, {}, frozenset()),
    ("roles_a_number", {"roles": 3}, {}, frozenset()),
    ("roles_list_with_non_strings", {"roles": ["viewer", 1]}, {}, frozenset()),
    (
        "nested_path_through_a_string",
        {"realm_access": "admin"},
        {"auth_roles_claim": "realm_access.roles"},
        frozenset(),
    ),
    (
        "no_checks_configured",
        {"iss": None, "aud": None},
        {"auth_issuer": None, "auth_audiences": []},
        frozenset({"viewer"}),
    ),
]


@pytest.mark.parametrize(
    ("changes", "settings_changes", "roles"),
    [c[1:] for c in ACCEPTED],
    ids=[c[0] for c in ACCEPTED],
)
def test_accepted_tokens_describe_the_caller(
    tmp_path: Path, changes: dict[str, Any], settings_changes: dict[str, Any], roles: frozenset[str]
) -> None:
    verifier = TokenVerifier(auth_settings(tmp_path, **settings_changes), clock=lambda: NOW)
    principal = verify(verifier, rs256(**changes))
    expires = changes.get("exp", NOW + 600)
    assert principal == Principal(subject="alice", roles=roles, expires_at=expires)


def test_es256_public_key(tmp_path: Path) -> None:
    public = tmp_path / "ec.pem"
    public.write_bytes(
        EC_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    verifier = TokenVerifier(
        auth_settings(tmp_path, auth_public_key_file=public), clock=lambda: NOW
    )
    assert verify(verifier, jwt.encode(claims(), EC_KEY, algorithm="ES256")).subject == "alice"
    with pytest.raises(Unauthenticated) as caught:
        verify(verifier, rs256())
    assert caught.value.rule == "algorithm_not_allowed"


HS_CASES: list[tuple[str, Callable[[], str], str | None]] = [
    ("hs256", lambda: jwt.encode(claims(), SECRET, algorithm="HS256"), None),
    ("hs512", lambda: jwt.encode(claims(), SECRET, algorithm="HS512"), None),
    ("rs256_refused", lambda: rs256(), "algorithm_not_allowed"),
    ("wrong_secret", lambda: jwt.encode(claims(), "t" * 64, algorithm="HS256"), "bad_signature"),
    ("alg_none", lambda: unsigned(claims()), "algorithm_not_allowed"),
]


@pytest.mark.parametrize(("make", "rule"), [c[1:] for c in HS_CASES], ids=[c[0] for c in HS_CASES])
def test_shared_secret_mode(tmp_path: Path, make: Callable[[], str], rule: str | None) -> None:
    settings = auth_settings(tmp_path, auth_public_key_file=None, auth_secret=SecretStr(SECRET))
    verifier = TokenVerifier(settings, clock=lambda: NOW)
    if rule is None:
        assert verify(verifier, make()).roles == {"viewer"}
        return
    with pytest.raises(Unauthenticated) as caught:
        verify(verifier, make())
    assert caught.value.rule == rule
    assert SECRET not in caught.value.message


def test_secret_and_public_key_together_pick_the_key_by_algorithm(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path, auth_secret=SecretStr(SECRET))
    verifier = TokenVerifier(settings, clock=lambda: NOW)
    assert verify(verifier, rs256()).subject == "alice"
    assert verify(verifier, jwt.encode(claims(), SECRET, algorithm="HS256")).subject == "alice"
    confused = hand_signed({"alg": "HS256"}, claims(), PUBLIC_PEM)
    with pytest.raises(Unauthenticated) as caught:
        verify(verifier, confused)
    assert caught.value.rule == "bad_signature"  # checked against the secret, not the PEM


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"auth_public_key_file": None, "auth_secret": SecretStr("short")}, "at least 32"),
        ({"auth_public_key_file": None}, "SERIESGUARD_AUTH_JWKS_URI"),
        ({"auth_jwks_uri": "http://127.0.0.1:1/jwks"}, "only one"),
        ({"auth_algorithms": ["HS256", "none"]}, "no public-key algorithm"),
        ({"auth_algorithms": ["RS257"]}, "unknown algorithms"),
        ({"auth_algorithms": ["ES256"]}, "fits none"),
        ({"auth_public_key_file": Path("/nonexistent/key.pem")}, "SERIESGUARD_AUTH_PUBLIC_KEY"),
    ],
    ids=[
        "short_secret",
        "no_key",
        "jwks_and_file",
        "no_asymmetric",
        "unknown_alg",
        "key_misfit",
        "missing_file",
    ],
)
def test_misconfiguration_is_refused_at_construction(
    tmp_path: Path, overrides: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        TokenVerifier(auth_settings(tmp_path, **overrides))
    assert "short" not in str(caught.value)  # the secret itself is never repeated


def test_create_verifier(tmp_path: Path) -> None:
    off = auth_settings(tmp_path, auth_issuer=None, auth_public_key_file=None)
    assert create_verifier(off) is None
    issuer_only = auth_settings(tmp_path, auth_public_key_file=None)
    with pytest.raises(ValueError) as caught:
        create_verifier(issuer_only)
    for name in ("JWKS_URI", "PUBLIC_KEY_FILE", "SECRET"):
        assert f"SERIESGUARD_AUTH_{name}" in str(caught.value)
    assert isinstance(create_verifier(auth_settings(tmp_path)), TokenVerifier)


class CountingVerifier(TokenVerifier):
    signature_checks = 0

    def _signature_ok(self, *args: Any) -> bool:
        self.signature_checks += 1
        return super()._signature_ok(*args)


def test_verified_tokens_are_cached_until_they_expire(tmp_path: Path) -> None:
    now = [NOW]
    verifier = CountingVerifier(auth_settings(tmp_path), clock=lambda: now[0])
    token = rs256(exp=NOW + 60)

    async def twice() -> tuple[Principal, Principal]:
        return await verifier.verify(token), await verifier.verify(token)

    first, second = asyncio.run(twice())
    assert first is second
    assert verifier.signature_checks == 1
    now[0] = NOW + 60 + 30  # exp + leeway
    with pytest.raises(Unauthenticated) as caught:
        verify(verifier, token)
    assert caught.value.rule == "token_expired"
    assert verifier.signature_checks == 2


def test_refused_tokens_are_not_cached_and_the_cache_is_bounded(tmp_path: Path) -> None:
    verifier = CountingVerifier(auth_settings(tmp_path), clock=lambda: NOW, cache_size=2)
    bad = rs256(OTHER_RSA_KEY)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verify(verifier, bad)
    assert verifier.signature_checks == 2
    tokens = [rs256(sub=f"user{i}") for i in range(3)]
    for token in tokens:
        verify(verifier, token)
    verify(verifier, tokens[2])
    assert verifier.signature_checks == 5  # the newest is still cached
    verify(verifier, tokens[0])
    assert verifier.signature_checks == 6  # the oldest was evicted


BEARER: list[tuple[str | None, str | None]] = [
    ("Bearer abc.def.ghi", "abc.def.ghi"),
    ("bearer abc.def.ghi", "abc.def.ghi"),
    ("BEARER   abc.def.ghi  ", "abc.def.ghi"),
    (None, "missing_token"),
    ("", "missing_token"),
    ("   ", "missing_token"),
    ("Basic dXNlcjpwYXNz", "malformed_token"),
    ("Bearer", "malformed_token"),
    ("Bearer ", "malformed_token"),
    ("abc.def.ghi", "malformed_token"),
    ("Bearer a b", "malformed_token"),
]


@pytest.mark.parametrize(("header", "expected"), BEARER)
def test_bearer_token(header: str | None, expected: str) -> None:
    if "." in expected:
        assert bearer_token(header) == expected
        return
    with pytest.raises(Unauthenticated) as caught:
        bearer_token(header)
    assert caught.value.rule == expected
