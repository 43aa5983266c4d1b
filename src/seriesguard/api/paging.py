"""Paging parameters, capped: a page is at most 1000 items, and an offset or a cursor is a
number the databases can hold (an unbounded integer is a 500 from SQLite, not a 422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_PAGE = 1000
MAX_OFFSET = 10_000_000  # 35 pages past the whole 285k fleet at the largest page
MAX_ID = 2**63 - 1

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Items per page, 1-{MAX_PAGE}.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
BeforeId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Page on: items older than this id.")
]
