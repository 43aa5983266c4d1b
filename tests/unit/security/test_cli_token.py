"""``seriesguard keygen`` and ``seriesguard token`` through the real CLI, configured by
environment variables as an operator would, with the minted token checked by the verifier."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seriesguard.cli import app
from seriesguard.security.tokens import TokenVerifier
from seriesguard.settings import Settings

runner = CliRunner()
AUTH_VARIABLES = [
    "SERIESGUARD_AUTH_ISSUER",
    "SERIESGUARD_AUTH_AUDIENCES",
    "SERIESGUARD_AUTH_JWKS_URI",
    "SERIESGUARD_AUTH_PUBLIC_KEY_FILE",
    "SERIESGUARD_AUTH_PRIVATE_KEY_FILE",
    "SERIESGUARD_AUTH_SECRET",
    "SERIESGUARD_AUTH_ROLES_CLAIM",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def keygen(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run keygen and export what it prints, as `eval "$(seriesguard keygen DIR)"` would."""
    result = runner.invoke(app, ["keygen", str(directory)])
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(name, shlex.split(value)[0])


def test_keygen_then_token_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keygen(tmp_path / "keys", monkeypatch)
    monkeypatch.setenv("SERIESGUARD_AUTH_ISSUER", "https://sg.local")
    monkeypatch.setenv("SERIESGUARD_AUTH_AUDIENCES", '["predictor"]')
    result = runner.invoke(
        app, ["token", "--role", "ml_engineer", "--role", "viewer", "--subject", "ci-bot"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    principal = asyncio.run(TokenVerifier(Settings()).verify(token))
    assert principal.subject == "ci-bot"
    assert principal.roles == {"ml_engineer", "viewer"}


def test_token_defaults_to_the_os_user_with_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERIESGUARD_AUTH_SECRET", "x" * 48)
    monkeypatch.setenv("USER", "operator1")
    monkeypatch.setenv("LOGNAME", "operator1")
    result = runner.invoke(app, ["token", "--role", "admin", "--ttl", "60"])
    assert result.exit_code == 0, result.output
    principal = asyncio.run(TokenVerifier(Settings()).verify(result.stdout.strip()))
    assert principal.subject == "operator1"
    assert principal.roles == {"admin"}


def test_unknown_role_exits_2_listing_the_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERIESGUARD_AUTH_SECRET", "x" * 48)
    result = runner.invoke(app, ["token", "--role", "superuser"])
    assert result.exit_code == 2
    assert result.stdout == ""
    for role in ("viewer", "data_scientist", "ml_engineer", "admin", "superuser"):
        assert role in result.stderr


def test_no_key_exits_2_naming_the_settings() -> None:
    result = runner.invoke(app, ["token", "--role", "viewer"])
    assert result.exit_code == 2
    assert "SERIESGUARD_AUTH_PRIVATE_KEY_FILE" in result.stderr
    assert "SERIESGUARD_AUTH_SECRET" in result.stderr


def test_keygen_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keygen(tmp_path, monkeypatch)
    result = runner.invoke(app, ["keygen", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_commands_are_listed_in_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert "token" in result.output and "keygen" in result.output
