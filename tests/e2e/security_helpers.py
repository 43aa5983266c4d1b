"""What the security e2e tests need beside the harness: the CLI run as an operator runs it
(keys, tokens), a client that keeps every answer it got, TLS material, an HTTPS start-up
wait, and the secret scan."""

from __future__ import annotations

import ipaddress
import os
import shlex
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from tests.e2e.harness import Server

# Settings an engineer's shell may carry: none of them may leak into a test's processes.
INHERITED_PREFIXES = ("SERIESGUARD_", "MLFLOW_")


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any seriesguard or MLflow setting, plus ``settings``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    return {**kept, **settings}


def cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m seriesguard ARGS``, as a separate process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "seriesguard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def keygen(directory: Path, env: dict[str, str]) -> dict[str, str]:
    """Run ``seriesguard keygen DIR`` and read back the settings it prints, as an operator
    would ``eval`` them: ``{"SERIESGUARD_AUTH_PUBLIC_KEY_FILE": ..., ...}``."""
    done = cli("keygen", str(directory), env=env)
    assert done.returncode == 0, done.stderr
    printed: dict[str, str] = {}
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        assert words[0] == "export" and len(words) == 2, line
        name, _, value = words[1].partition("=")
        printed[name] = value
    assert set(printed) == {
        "SERIESGUARD_AUTH_PUBLIC_KEY_FILE",
        "SERIESGUARD_AUTH_PRIVATE_KEY_FILE",
    }, done.stdout
    return printed


def mint_tokens(env: dict[str, str], wanted: dict[str, tuple[str, str]]) -> dict[str, str]:
    """``{name: (role, subject)}`` -> ``{name: token}``, each minted by its own
    ``seriesguard token --role ROLE --subject SUBJECT`` process (all of them at once)."""
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "seriesguard", "token", "--role", role, "--subject", subject],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (role, subject) in wanted.items()
    }
    tokens = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, f"token {name}: {err}"
        token = out.strip()
        assert token.count(".") == 2 and not err.strip(), (out, err)
        tokens[name] = token
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@dataclass
class Responses:
    """Every answer a client got (status line, headers, body), for the secret scan."""

    seen: list[str] = field(default_factory=list)

    def hook(self, response: httpx.Response) -> None:
        response.read()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.seen.append(
            f"{response.request.method} {response.request.url.path} {response.status_code}\n"
            f"{headers}\n{response.content.decode('utf-8', 'replace')}"
        )

    def client(self, base_url: str, **options: object) -> httpx.Client:
        return httpx.Client(
            base_url=base_url,
            timeout=60,
            event_hooks={"response": [self.hook]},
            **options,  # type: ignore[arg-type]
        )

    def text(self) -> str:
        return "\n".join(self.seen)


def token_pieces(name: str, token: str) -> dict[str, str]:
    """A token in full and its signature on its own (a log may cut a token at its dots)."""
    return {f"{name} token": token, f"{name} signature": token.rsplit(".", 1)[1]}


def pem_pieces(path: Path) -> dict[str, str]:
    """The base64 body of a PEM key, whole and line by line (a log may keep the line breaks
    or escape them); lines too short to be telling are left out."""
    lines = [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("-----")
    ]
    pieces = {f"{path.name} body": "".join(lines)}
    pieces |= {f"{path.name} line {i}": line for i, line in enumerate(lines) if len(line) >= 40}
    return pieces


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """The names of the secrets that appear in ``text``."""
    return [name for name, secret in secrets.items() if secret and secret in text]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A P-256 key and a self-signed certificate for 127.0.0.1 and localhost (SAN), valid a
    day: (cert.pem, key.pem)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(Encoding.PEM))
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def trusting(cert: Path) -> ssl.SSLContext:
    """A client TLS context that trusts ``cert`` and nothing else."""
    return ssl.create_default_context(cafile=str(cert))


def launch(server: Server) -> None:
    """Start ``server``'s process as :meth:`Server.start` does, without waiting for it."""
    env = {
        **clean_env(),
        "SERIESGUARD_HOME": str(server.home),
        "SERIESGUARD_LOG_LEVEL": "WARNING",
        **server.env,
    }
    server.home.mkdir(parents=True, exist_ok=True)
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            [sys.executable, "-m", "seriesguard", *server.command, "--port", str(server.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_https(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    verify: ssl.SSLContext,
    describe: Callable[[], str],
    timeout: float = 90.0,
) -> None:
    """Until ``url`` answers 200 over HTTPS (certificate checked); fails at once if the
    process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}: {describe()}")
        try:
            if httpx.get(url, timeout=1, verify=verify).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not up after {timeout} s: {describe()}")
