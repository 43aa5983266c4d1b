"""Pick the training data store by URL, like the other backends (DESIGN.md §1).

``/some/folder`` or ``file:///some/folder`` -> :class:`LocalDataStore` (embedded mode);
``s3://bucket/prefix`` -> ``S3DataStore`` (distributed mode: API and workers on different
machines). boto3 is imported only for ``s3://``, so the embedded mode does not pay for it.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from seriesguard.core.breaker import BreakerPolicy
from seriesguard.training.data import LocalDataStore, TrainingDataStore


def create_data_store(
    *, url: str, s3_endpoint_url: str | None, breaker_policy: BreakerPolicy | None = None
) -> TrainingDataStore:
    """The store behind ``url``. ``s3_endpoint_url`` is for S3-compatible servers (MinIO);
    None means AWS S3. Nothing is touched on the network or disk here."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        from seriesguard.training.s3_data import S3DataStore

        breaker = (breaker_policy or BreakerPolicy()).make("s3", clock=time.monotonic)
        return S3DataStore(url, endpoint_url=s3_endpoint_url, breaker=breaker)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file:// URL on another host is not supported: {url!r}")
        return LocalDataStore(Path(url2pathname(parts.path)))
    if scheme == "" or (len(scheme) == 1 and url[1:2] == ":"):  # a path (C:\... on Windows)
        if not url:
            raise ValueError("training data URL is empty")
        return LocalDataStore(Path(url))
    raise ValueError(f"unsupported training data URL {url!r}: use a folder, file:// or s3://")
