"""Environment variables the Pulumi program gives the functions: the names live here only."""

from __future__ import annotations

import os
from dataclasses import dataclass

from core import consolidated

BUCKET_NAME = "BUCKET_NAME"
CONSOLIDATE_QUEUE_URL = "CONSOLIDATE_QUEUE_URL"
DELETE_RAW = "DELETE_RAW"
COMPACT_AFTER_DAYS = "COMPACT_AFTER_DAYS"


@dataclass(frozen=True)
class Settings:
    bucket: str
    consolidate_queue_url: str
    delete_raw: bool
    compact_after_days: int = consolidated.COMPACT_AFTER_DAYS


def summarize_settings() -> Settings:
    return Settings(
        bucket=os.environ[BUCKET_NAME],
        consolidate_queue_url=os.environ[CONSOLIDATE_QUEUE_URL],
        delete_raw=os.environ.get(DELETE_RAW, "true").lower() == "true",
    )


def consolidate_settings() -> Settings:
    return Settings(
        bucket=os.environ[BUCKET_NAME],
        consolidate_queue_url="",
        delete_raw=False,
        compact_after_days=int(os.environ.get(COMPACT_AFTER_DAYS, consolidated.COMPACT_AFTER_DAYS)),
    )
