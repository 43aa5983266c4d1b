"""A CeleryQueue consumer in a process of its own, for the crash tests in
test_queue_contract.py: ``python queue_consumer_proc.py BROKER_URL QUEUE_NAME``.

It prints ``ready`` once consuming, then ``started <job id>`` when a job reaches the handler,
which then hangs so the test can SIGKILL the process mid-job.
"""

from __future__ import annotations

import sys
import time

from seriesguard.queue.base import Carrier
from seriesguard.queue.celery_queue import CeleryQueue


def main() -> None:
    broker_url, queue_name = sys.argv[1], sys.argv[2]
    queue = CeleryQueue(broker_url=broker_url, concurrency=1, queue_name=queue_name)

    def hang(job_id: str, _trace_context: Carrier) -> None:
        print(f"started {job_id}", flush=True)
        time.sleep(600)

    queue.start(hang)
    print("ready", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main()
