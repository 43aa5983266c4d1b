"""The distributed topology on this machine's real services: PostgreSQL (metadata and MLflow's
store), RabbitMQ, moto's S3 server, an MLflow tracking server, and seriesguard's processes.

Each topology gets its own databases, bucket and queue name, so tests never see each other's
state, and tears everything down (databases dropped, queues deleted) at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.e2e.harness import Server, free_port, wait_until_up
from tests.services import MotoS3

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
RABBIT = "amqp://guest:guest@127.0.0.1:5672//"


def create_database(name: str) -> str:
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG}/{name}"


def drop_database(name: str) -> None:
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# What docs/operations.md recommends for production: gunicorn (the default uvicorn front adds
# ~50 ms to every request, DESIGN.md §7) and clients writing artifacts straight to S3 rather
# than through the server.
MLFLOW_SERVER_OPTIONS = ("--workers", "2", "--gunicorn-opts", "--timeout=60")


@dataclass
class MlflowServer:
    backend_uri: str
    artifacts: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    options: tuple[str, ...] = MLFLOW_SERVER_OPTIONS
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 90.0) -> MlflowServer:
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", self.backend_uri,
            "--default-artifact-root", self.artifacts, "--no-serve-artifacts",
            "--host", "127.0.0.1", "--port", str(self.port),
            *self.options,
        ]  # fmt: skip
        with self.log.open("ab") as log:
            # Its own process group: `mlflow server` forks uvicorn workers and job runners
            # that must go down with it.
            self.process = subprocess.Popen(
                command,
                # Job execution serves MLflow's GenAI features; seriesguard needs none, and its
                # ~8 huey consumer processes would take a 2-core machine's CPU for ~30 s.
                env={**os.environ, **self.env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_up(
            f"{self.url}/health",
            self.process,
            describe=lambda: self.log.read_text()[-3000:],
            timeout=timeout,
        )
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(20)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers of the group
        self.process.wait(10)


@dataclass
class Topology:
    root: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    moto: MotoS3 = field(default_factory=MotoS3)
    servers: dict[str, Server] = field(default_factory=dict)
    mlflow: MlflowServer | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start_backends(self) -> Topology:
        self.moto.start()
        bucket = self.moto.create_bucket(f"sg-{self.tag}")
        meta = create_database(f"sg_meta_{self.tag}")
        mlflow_db = create_database(f"sg_mlflow_{self.tag}")
        self.mlflow = MlflowServer(
            backend_uri=mlflow_db,
            artifacts=f"s3://{bucket}/mlflow",
            env=self.moto.env(),
            log=self.root / "mlflow.log",
        ).start()
        self.env = {
            **self.moto.env(),
            "SERIESGUARD_DATABASE_URL": meta,
            "SERIESGUARD_BROKER_URL": RABBIT,
            "SERIESGUARD_BROKER_QUEUE": f"seriesguard.test.{self.tag}",
            "MLFLOW_TRACKING_URI": self.mlflow.url,
            "SERIESGUARD_DATA_URL": f"s3://{bucket}/data",
            "SERIESGUARD_CATALOG_POLL_SECONDS": "1",
            # Short enough for a test to see a dead worker's job handed back, longer than a job.
            "SERIESGUARD_PROCESSING_LEASE_SECONDS": "15",
            "SERIESGUARD_RECONCILE_INTERVAL_SECONDS": "1",
            "SERIESGUARD_TRAINING_MIN_INTERVAL_SECONDS": "0",
            "SERIESGUARD_LOG_FORMAT": "json",
            "SERIESGUARD_LOG_LEVEL": "INFO",
        }
        return self

    def start(self, name: str, *command: str, **env: str) -> Server:
        home = self.root / name
        server = Server(home=home, command=command, name=name, env={**self.env, **env})
        self.servers[name] = server
        return server.start(timeout=40)

    def stop(self) -> None:
        """Every step runs even if an earlier one fails, so nothing outlives the test."""
        steps: list[Callable[[], None]] = [server.kill for server in self.servers.values()]
        if self.mlflow is not None:
            steps.append(self.mlflow.stop)
        steps.append(self.moto.stop)
        steps += [
            lambda: drop_database(f"sg_meta_{self.tag}"),
            lambda: drop_database(f"sg_mlflow_{self.tag}"),
            lambda: _delete_queues(f"seriesguard.test.{self.tag}"),
        ]
        errors = []
        for step in steps:
            try:
                step()
            except Exception as exc:
                errors.append(repr(exc))
        if errors:
            raise RuntimeError(f"topology teardown: {errors}")


def _delete_queues(name: str) -> None:
    from kombu import Connection

    with Connection(RABBIT) as connection:
        channel = connection.channel()
        for queue in (name, f"{name}.dead"):
            try:
                channel.queue_delete(queue)
            except Exception:
                channel = connection.channel()


@contextmanager
def frozen(server: MlflowServer) -> Iterator[None]:
    """SIGSTOP the MLflow server's process group for the block: every call to it hangs, so a
    worker that reaches registration stays mid-job (processing) until the block ends. Jobs take
    well under a second otherwise, too short to catch a worker with one in hand."""
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(server.process.pid, signal.SIGCONT)
