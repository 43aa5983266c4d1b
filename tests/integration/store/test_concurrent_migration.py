"""Several processes migrating one fresh SQLite database at once (the workers of
``--workers N`` on a new home): one migrates, the others wait and find nothing to do."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import inspect

from seriesguard.store.db import create_db_engine, upgrade

PROCESSES = 4


def migrate(url: str) -> None:
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()


def test_processes_starting_together_on_a_fresh_database_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'fresh-{attempt}.db'}"
        workers = [context.Process(target=migrate, args=(url,)) for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert [w.exitcode for w in workers] == [0] * PROCESSES
        engine = create_db_engine(url)
        assert "series_stats" in inspect(engine).get_table_names()
        engine.dispose()
