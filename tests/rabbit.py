"""The local RabbitMQ the queue tests use, and cleaning up after a test's queue."""

from __future__ import annotations

import contextlib
import os

from kombu import Connection

AMQP_URL = os.environ.get("SERIESGUARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def delete_topology(name: str) -> None:
    """Remove a test's queue, its dead-letter queue and their exchanges from RabbitMQ."""
    with Connection(AMQP_URL, connect_timeout=3) as conn:
        for method, entity in [
            ("queue_delete", name),
            ("queue_delete", f"{name}.dead"),
            ("exchange_delete", name),
            ("exchange_delete", f"{name}.dlx"),
        ]:
            channel = conn.channel()  # a failed delete closes its channel: one each
            with contextlib.suppress(Exception):
                getattr(channel, method)(entity)
            with contextlib.suppress(Exception):
                channel.close()
