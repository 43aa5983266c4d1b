"""Real keys and real signed tokens for the tests of authentication and authorisation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from seriesguard.settings import Settings

ISSUER = "https://auth.company.test"
AUDIENCE = "anomaly-detector-api"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Keys:
    private_pem: bytes
    public_pem: bytes
    public_file: Path
    private_file: Path

    @classmethod
    def create(cls, folder: Path) -> Keys:
        folder.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (folder / "private.pem").write_bytes(private_pem)
        (folder / "public.pem").write_bytes(public_pem)
        return cls(private_pem, public_pem, folder / "public.pem", folder / "private.pem")

    def auth_settings(self) -> dict[str, Any]:
        return {
            "auth_public_key_file": self.public_file,
            "auth_private_key_file": self.private_file,
            "auth_issuer": ISSUER,
            "auth_audiences": [AUDIENCE],
        }

    def token(self, subject: str, *roles: str, **overrides: Any) -> str:
        """An RS256 token as the identity provider would issue it; ``overrides`` change or
        (with None) drop claims."""
        now = time.time()
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": int(now),
            "exp": int(now) + 600,
            "roles": list(roles),
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private_pem, algorithm="RS256")

    def confused_token(self, subject: str, *roles: str) -> str:
        """HS256 "signed" with the RSA public key as the HMAC secret: the classic attack on
        verifiers that let the token pick the algorithm."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "exp": now + 600}
        payload = _b64(json.dumps({**claims, "roles": list(roles)}).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = hmac.new(self.public_pem, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"


def unsigned_token(subject: str, *roles: str) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "exp": now + 600}
    payload = _b64(json.dumps({**claims, "roles": list(roles)}).encode())
    return f"{header}.{payload}."


def auth_settings(tmp_path: Path, keys: Keys, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": tmp_path,
        "mlflow_tracking_uri": "memory://",
        "min_training_points": 100,
        "training_min_interval_seconds": 0,
        "rate_limit_per_second": 0,
        **keys.auth_settings(),
        **overrides,
    }
    return Settings(**values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def trained_version(client: Any, token: str, series: str, *, level: float = 10.0) -> str:
    """Train ``series`` on 200 points around ``level``; the version once completed."""
    values = np.random.default_rng(int(level)).normal(level, 1, 200).tolist()
    body = {"timestamps": list(range(200)), "values": values}
    job = client.post(f"/api/v1/training/{series}", json=body, headers=bearer(token)).json()
    for _ in range(400):
        state = client.get(f"/api/v1/training/jobs/{job['job_id']}", headers=bearer(token))
        if state.json()["status"] in {"completed", "failed"}:
            assert state.json()["status"] == "completed", state.text
            return str(state.json()["model_version"])
    raise AssertionError(f"job {job} did not finish")
