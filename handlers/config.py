"""Environment variables the Pulumi program gives the functions: the names live here only."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from core.flows import DateLimits

BUCKET_NAME = "BUCKET_NAME"
CONSOLIDATE_QUEUE_URL = "CONSOLIDATE_QUEUE_URL"
DELETE_RAW = "DELETE_RAW"
STATS_REBUILD_SECONDS = "STATS_REBUILD_SECONDS"
DEFAULT_STATS_REBUILD_SECONDS = 300
STATS_MAX_AGE_SECONDS = "STATS_MAX_AGE_SECONDS"
DEFAULT_STATS_MAX_AGE_SECONDS = 6 * 3600
EARLIEST_DATE = "EARLIEST_DATE"
LATEST_DATE = "LATEST_DATE"
MAX_DATES_PER_FILE = "MAX_DATES_PER_FILE"


@dataclass(frozen=True)
class Settings:
    bucket: str
    consolidate_queue_url: str
    delete_raw: bool
    stats_rebuild_seconds: int = DEFAULT_STATS_REBUILD_SECONDS
    """How long after a consolidation the tick that may rebuild traffic_stats.csv comes (its delay)."""
    stats_max_age_seconds: int = DEFAULT_STATS_MAX_AGE_SECONDS
    """How old traffic_stats.csv may grow while files keep arriving (README, "Freshness")."""
    date_limits: DateLimits = field(default_factory=DateLimits)


def summarize_settings() -> Settings:
    return Settings(
        bucket=os.environ[BUCKET_NAME],
        consolidate_queue_url=os.environ[CONSOLIDATE_QUEUE_URL],
        delete_raw=os.environ.get(DELETE_RAW, "true").lower() == "true",
        date_limits=date_limits(),
    )


def date_limits() -> DateLimits:
    """The days a file may hold; core's defaults for a variable unset or empty. A bad value fails every
    invocation (ValueError naming it), as a wrong setting should."""
    defaults = DateLimits()
    try:
        return DateLimits(
            earliest=os.environ.get(EARLIEST_DATE) or defaults.earliest,
            latest=os.environ.get(LATEST_DATE) or defaults.latest,
            max_dates=int(os.environ.get(MAX_DATES_PER_FILE) or defaults.max_dates),
        )
    except ValueError as exc:
        raise ValueError(f"{EARLIEST_DATE}, {LATEST_DATE} or {MAX_DATES_PER_FILE}: {exc}") from None


def consolidate_settings() -> Settings:
    return Settings(
        bucket=os.environ[BUCKET_NAME],
        consolidate_queue_url=os.environ[CONSOLIDATE_QUEUE_URL],
        delete_raw=False,
        stats_rebuild_seconds=int(os.environ.get(STATS_REBUILD_SECONDS, DEFAULT_STATS_REBUILD_SECONDS)),
        stats_max_age_seconds=int(os.environ.get(STATS_MAX_AGE_SECONDS, DEFAULT_STATS_MAX_AGE_SECONDS)),
    )
