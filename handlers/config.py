"""Environment variables the Pulumi program gives the functions: the names live here only."""

from __future__ import annotations

import os
from dataclasses import dataclass

BUCKET_NAME = "BUCKET_NAME"
CONSOLIDATE_QUEUE_URL = "CONSOLIDATE_QUEUE_URL"
DELETE_RAW = "DELETE_RAW"
STATS_REBUILD_SECONDS = "STATS_REBUILD_SECONDS"
DEFAULT_STATS_REBUILD_SECONDS = 300


@dataclass(frozen=True)
class Settings:
    bucket: str
    consolidate_queue_url: str
    delete_raw: bool
    stats_rebuild_seconds: int = DEFAULT_STATS_REBUILD_SECONDS
    """How long after a consolidation traffic_stats.csv is rebuilt (the tick's delay)."""


def summarize_settings() -> Settings:
    return Settings(
        bucket=os.environ[BUCKET_NAME],
        consolidate_queue_url=os.environ[CONSOLIDATE_QUEUE_URL],
        delete_raw=os.environ.get(DELETE_RAW, "true").lower() == "true",
    )


def consolidate_settings() -> Settings:
    return Settings(
        bucket=os.environ[BUCKET_NAME],
        consolidate_queue_url=os.environ[CONSOLIDATE_QUEUE_URL],
        delete_raw=False,
        stats_rebuild_seconds=int(os.environ.get(STATS_REBUILD_SECONDS, DEFAULT_STATS_REBUILD_SECONDS)),
    )
