"""``seriesguard token`` and ``seriesguard keygen``: local bearer tokens without an identity
provider.

``keygen`` writes an RSA key pair; the servers get the public key, whoever mints tokens the
private one. ``token`` prints only the token on stdout, so ``export SERIESGUARD_TOKEN=$(...)``
works; every other message goes to stderr. Usage mistakes (an unknown role, no key) exit 2.
"""

from __future__ import annotations

import getpass
import shlex
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from seriesguard.cli_server import load_settings
from seriesguard.core.authz import Role

VALID_ROLES = [role.value for role in Role]


def _usage_error(rule: str, where: str, message: str) -> NoReturn:
    typer.echo(f"error: {rule} at {where}: {message}", err=True)
    raise typer.Exit(2)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        _usage_error("no_subject", "--subject", "cannot tell the current user; pass --subject")


def token(
    role: Annotated[
        list[str],
        typer.Option(
            "--role", help=f"Role to grant; repeat for several ({', '.join(VALID_ROLES)})."
        ),
    ],
    subject: Annotated[
        str | None, typer.Option(help="Token subject ('sub'); default: the current OS user.")
    ] = None,
    ttl: Annotated[float, typer.Option(min=1.0, help="Seconds the token stays valid.")] = 3600.0,
) -> None:
    """Mint a bearer token signed with the configured private key (or shared secret)."""
    unknown = [name for name in role if name not in VALID_ROLES]
    if unknown:
        _usage_error(
            "unknown_role", "--role", f"{unknown} not roles; valid roles: {', '.join(VALID_ROLES)}"
        )
    from seriesguard.security.mint import mint_token  # crypto loads only for this command

    settings = load_settings()
    try:
        minted = mint_token(
            settings,
            subject=subject or _current_user(),
            roles=list(dict.fromkeys(role)),
            ttl_seconds=ttl,
        )
    except ValueError as exc:
        _usage_error("no_signing_key", "settings", str(exc))
    typer.echo(minted)


def keygen(
    directory: Annotated[Path, typer.Argument(help="Folder for private.pem and public.pem.")],
) -> None:
    """Write a new RSA-2048 key pair and print the settings that use it."""
    from seriesguard.security.mint import generate_key_pair

    try:
        private_path, public_path = generate_key_pair(directory)
    except FileExistsError as exc:
        typer.echo(f"error: key_exists at {directory}: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: keygen at {directory}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"export SERIESGUARD_AUTH_PUBLIC_KEY_FILE={shlex.quote(str(public_path.resolve()))}")
    typer.echo(
        f"export SERIESGUARD_AUTH_PRIVATE_KEY_FILE={shlex.quote(str(private_path.resolve()))}"
    )
    typer.echo(
        "servers need only the public key; keep private.pem on the machine that mints tokens",
        err=True,
    )


def register_token_commands(app: typer.Typer) -> None:
    app.command("token")(token)
    app.command("keygen")(keygen)
