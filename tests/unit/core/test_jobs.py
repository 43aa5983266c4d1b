from __future__ import annotations

import itertools

from seriesguard.core.jobs import FINISHED, JobStatus, can_transition


def test_finished_states_are_terminal() -> None:
    for done, target in itertools.product(FINISHED, JobStatus):
        assert not can_transition(done, target)


def test_lifecycle_edges() -> None:
    assert can_transition(JobStatus.QUEUED, JobStatus.PROCESSING)
    assert can_transition(JobStatus.PROCESSING, JobStatus.COMPLETED)
    assert can_transition(JobStatus.PROCESSING, JobStatus.QUEUED)  # handed back on shutdown
    assert can_transition(JobStatus.QUEUED, JobStatus.CANCELLED)
    assert not can_transition(JobStatus.QUEUED, JobStatus.COMPLETED)
