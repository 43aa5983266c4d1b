"""Real servers for integration tests, started on 127.0.0.1 and always stopped.

``MotoS3`` runs moto's S3 server (real S3 over HTTP; DESIGN.md §6: no MinIO binary here) as a
subprocess on a free port::

    from tests.services import MotoS3

    with MotoS3() as s3:
        s3.create_bucket("data")
        store = S3DataStore("s3://data/jobs", endpoint_url=s3.endpoint_url)

Why a subprocess and not ``mock_aws``: the code under test (and MLflow) must talk to S3 over
real sockets, so timeouts, connection errors and a server that goes away are the real thing.

Robustness: the server's output goes to a file (a pipe nobody reads would block it once full);
if it does not answer within ``start_timeout`` seconds, or exits, the error carries that output;
it is stopped on ``stop()``, on leaving the ``with`` block, at interpreter exit (atexit), and on
Linux also when the test process dies hard (the kernel sends it SIGTERM: PR_SET_PDEATHSIG; this
fires when the *thread* that started it ends, so start it from the main thread, as fixtures do).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any

import pytest

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_PORT_ATTEMPTS = 3  # another process may take the free port between probe and bind


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM this child when the thread that started it ends."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServiceDidNotStart(RuntimeError):
    """The server exited or did not answer in time; the message holds its output."""


class MotoS3:
    """moto's S3 server on ``127.0.0.1:<free port>``; a context manager, or start()/stop()."""

    def __init__(self, *, host: str = "127.0.0.1", start_timeout: float = 20.0) -> None:
        self.host = host
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("MotoS3 is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def env(self) -> dict[str, str]:
        """Environment for code that finds S3 through variables (MLflow, boto3)."""
        return {**TEST_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url}

    def start(self) -> MotoS3:
        if self.running:
            return self
        failure: ServiceDidNotStart | None = None
        for _ in range(_PORT_ATTEMPTS):
            try:
                self._start_once(free_port(self.host))
                return self
            except ServiceDidNotStart as exc:
                failure = exc
                if "in use" not in str(exc):  # only a lost port race is worth another try
                    break
        assert failure is not None
        raise failure

    def _start_once(self, port: int) -> None:
        self.port = port
        self._log = tempfile.TemporaryFile(prefix="moto-s3-")  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(port)]
        process = self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = self._output()
                self.stop()
                raise ServiceDidNotStart(
                    f"moto S3 server exited with {process.returncode} before answering "
                    f"on {self.endpoint_url}; `{' '.join(command)}` said:\n{output}"
                )
            if self._answers():
                return
            time.sleep(0.1)
        output = self._output()
        self.stop()
        raise ServiceDidNotStart(
            f"moto S3 server did not answer on {self.endpoint_url} within "
            f"{self.start_timeout:.0f} s; `{' '.join(command)}` said:\n{output}"
        )

    def _answers(self) -> bool:
        """True once the server speaks HTTP (any status: moto may answer an anonymous
        ListBuckets with an error, which still proves it is up)."""
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        return text[-4000:] or "(no output)"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def client(self) -> Any:
        """A boto3 S3 client for this server (test credentials, path-style addressing)."""
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str) -> str:
        """Create ``name`` (no error if it exists); returns the name."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        return name

    def __enter__(self) -> MotoS3:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["TEST_CREDENTIALS", "MotoS3", "ServiceDidNotStart", "free_port"]


def moto_s3_in_env(monkeypatch: pytest.MonkeyPatch, bucket: str) -> Iterator[MotoS3]:
    """For a fixture: moto's S3 with ``bucket`` made, found by MLflow and boto3 through the
    environment (as they would find MinIO)."""
    with MotoS3() as server:
        server.create_bucket(bucket)
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server
