"""The stack's configuration: read once from `pulumi config`, validated before any resource is declared.

A value AWS would refuse (or that would break the pipeline's own guarantees) fails `pulumi preview`
with the key and the allowed values, instead of failing `pulumi up` late and half-deployed.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Final

import pulumi

LOG_RETENTION_DAYS: Final = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The values CloudWatch Logs accepts for a log group's retention."""
VISIBILITY_PER_TIMEOUT: Final = 6
"""Lambda refuses an SQS mapping whose queue visibility timeout is below the function timeout; AWS advises 6x."""
MAX_BATCH_WITHOUT_WINDOW: Final = 10
DLQ_RETENTION_SECONDS: Final = 14 * 24 * 3600
"""SQS's maximum: a message keeps its first enqueue time when it moves to a DLQ, so the DLQ must keep
messages longer than its source queue or a message could expire there as soon as it arrives."""
EARLIEST_DATE: Final = "1970-01-01"
"""Early enough for every real capture, including a probe whose clock restarted at the Unix epoch."""
LATEST_DATE: Final = "2099-12-31"


class ConfigError(pulumi.RunError):
    """A config value out of range: the message names the key and the allowed values."""


@dataclass(frozen=True)
class StackConfig:
    summarize_timeout: int = 300
    consolidate_timeout: int = 120
    summarize_memory: int = 512
    consolidate_memory: int = 1024
    """A DDoS capture of 500k new pairs peaks at 718 MB in its consolidation (docs/benchmarks.md)."""
    summarize_batch_size: int = 1
    consolidate_batch_size: int = 10
    consolidate_batching_window: int = 0
    summarize_max_concurrency: int = 10
    consolidate_max_concurrency: int = 5
    max_receive_count: int = 5
    queue_retention_seconds: int = 4 * 24 * 3600
    backlog_age_alarm_seconds: int = 3600
    delete_raw_after_summarize: bool = True
    raw_noncurrent_days: int = 7
    state_noncurrent_days: int = 1
    infrequent_access_days: int = 30
    """summaries/ and the file ledgers move to S3 Standard-IA after this many days (0: never)."""
    log_retention_days: int = 30
    force_destroy: bool = False
    earliest_date: str = EARLIEST_DATE
    latest_date: str = LATEST_DATE
    max_dates_per_file: int = 366
    stats_rebuild_seconds: int = 300
    stats_max_age_seconds: int = 6 * 3600
    """traffic_stats.csv is rebuilt when what it lacks is worth it (README, "Freshness") or at this age."""
    athena_start_date: str = EARLIEST_DATE
    """Never derived from the deploy date: by default the earliest date a summary can hold."""
    uploader_branch: str | None = None
    """The one branch the uploader policy may write under raw/, or None for every branch."""
    alarm_email: str | None = None


_RANGES: Final[dict[str, tuple[int, int]]] = {
    "summarizeTimeout": (1, 900),
    "consolidateTimeout": (1, 900),
    "summarizeMemory": (128, 10240),
    "consolidateMemory": (128, 10240),
    "summarizeBatchSize": (1, 10000),
    "consolidateBatchSize": (1, 10000),
    "consolidateBatchingWindow": (0, 300),
    "summarizeMaxConcurrency": (2, 1000),
    "consolidateMaxConcurrency": (2, 1000),
    "maxReceiveCount": (1, 1000),
    "queueRetentionSeconds": (60, DLQ_RETENTION_SECONDS),
    "backlogAgeAlarmSeconds": (60, 1209600),
    "rawNoncurrentDays": (1, 3650),
    "stateNoncurrentDays": (1, 3650),
    "infrequentAccessDays": (0, 36500),
    "maxDatesPerFile": (1, 100000),
    "statsRebuildSeconds": (10, 900),
    "statsMaxAgeSeconds": (60, 7 * 24 * 3600),
}
MIN_INFREQUENT_ACCESS_DAYS: Final = 30
"""S3 refuses a lifecycle transition to Standard-IA sooner than 30 days after creation."""
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_BRANCH: Final = re.compile(r"[^/*?$]+")
"""A raw/ folder name that is also a literal in an IAM resource ARN (no `*`, `?` or policy variable)."""


def load(config: pulumi.Config) -> StackConfig:
    """Every key, its default, and its check; unknown-to-AWS values raise ConfigError."""
    defaults = StackConfig()

    def integer(key: str, default: int) -> int:
        value = config.get_int(key)
        if value is None:
            return default
        low, high = _RANGES[key]
        if not low <= value <= high:
            raise ConfigError(f"config {key}={value}: allowed values are {low} to {high}")
        return value

    def boolean(key: str, default: bool) -> bool:
        value = config.get_bool(key)
        return default if value is None else value

    def checked(key: str, default: int, allowed: tuple[int, ...]) -> int:
        value = config.get_int(key)
        if value is None:
            return default
        if value not in allowed:
            raise ConfigError(f"config {key}={value}: allowed values are {', '.join(map(str, allowed))}")
        return value

    def date(key: str, default: str) -> str:
        value = config.get(key) or default
        try:
            if not _ISO_DATE.fullmatch(value):
                raise ValueError(value)
            datetime.date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"config {key}={value}: expected a date yyyy-mm-dd") from None
        return value

    def branch(key: str) -> str | None:
        value = config.get(key) or None
        if value is not None and not _BRANCH.fullmatch(value):
            raise ConfigError(f"config {key}={value}: a branch name, without '/', '*', '?' or '$'")
        return value

    earliest_date = date("earliestDate", defaults.earliest_date)

    settings = StackConfig(
        summarize_timeout=integer("summarizeTimeout", defaults.summarize_timeout),
        consolidate_timeout=integer("consolidateTimeout", defaults.consolidate_timeout),
        summarize_memory=integer("summarizeMemory", defaults.summarize_memory),
        consolidate_memory=integer("consolidateMemory", defaults.consolidate_memory),
        summarize_batch_size=integer("summarizeBatchSize", defaults.summarize_batch_size),
        consolidate_batch_size=integer("consolidateBatchSize", defaults.consolidate_batch_size),
        consolidate_batching_window=integer("consolidateBatchingWindow", defaults.consolidate_batching_window),
        summarize_max_concurrency=integer("summarizeMaxConcurrency", defaults.summarize_max_concurrency),
        consolidate_max_concurrency=integer("consolidateMaxConcurrency", defaults.consolidate_max_concurrency),
        max_receive_count=integer("maxReceiveCount", defaults.max_receive_count),
        queue_retention_seconds=integer("queueRetentionSeconds", defaults.queue_retention_seconds),
        backlog_age_alarm_seconds=integer("backlogAgeAlarmSeconds", defaults.backlog_age_alarm_seconds),
        delete_raw_after_summarize=boolean("deleteRawAfterSummarize", defaults.delete_raw_after_summarize),
        raw_noncurrent_days=integer("rawNoncurrentDays", defaults.raw_noncurrent_days),
        state_noncurrent_days=integer("stateNoncurrentDays", defaults.state_noncurrent_days),
        infrequent_access_days=integer("infrequentAccessDays", defaults.infrequent_access_days),
        log_retention_days=checked("logRetentionDays", defaults.log_retention_days, LOG_RETENTION_DAYS),
        force_destroy=boolean("forceDestroy", defaults.force_destroy),
        earliest_date=earliest_date,
        latest_date=date("latestDate", defaults.latest_date),
        max_dates_per_file=integer("maxDatesPerFile", defaults.max_dates_per_file),
        stats_rebuild_seconds=integer("statsRebuildSeconds", defaults.stats_rebuild_seconds),
        stats_max_age_seconds=integer("statsMaxAgeSeconds", defaults.stats_max_age_seconds),
        athena_start_date=date("athenaStartDate", earliest_date),
        uploader_branch=branch("uploaderBranch"),
        alarm_email=config.get("alarmEmail") or None,
    )
    if settings.queue_retention_seconds >= DLQ_RETENTION_SECONDS:
        raise ConfigError(
            f"config queueRetentionSeconds={settings.queue_retention_seconds}: allowed values are 60 to "
            f"{DLQ_RETENTION_SECONDS - 1}, below the DLQs' retention ({DLQ_RETENTION_SECONDS} s, SQS's maximum): "
            "a message keeps its first enqueue time in the DLQ and would expire there at once"
        )
    if 0 < settings.infrequent_access_days < MIN_INFREQUENT_ACCESS_DAYS:
        raise ConfigError(
            f"config infrequentAccessDays={settings.infrequent_access_days}: allowed values are 0 (never) or "
            f"{MIN_INFREQUENT_ACCESS_DAYS} to 36500 (S3 moves nothing to Standard-IA sooner)"
        )
    if settings.earliest_date > settings.latest_date:
        raise ConfigError(
            f"config earliestDate={settings.earliest_date}: must not be after latestDate={settings.latest_date}"
        )
    if settings.athena_start_date > settings.latest_date:
        raise ConfigError(
            f"config athenaStartDate={settings.athena_start_date}: must not be after latestDate={settings.latest_date}"
        )
    if settings.summarize_batch_size > MAX_BATCH_WITHOUT_WINDOW:
        raise ConfigError(
            f"config summarizeBatchSize={settings.summarize_batch_size}: allowed values are 1 to 10 "
            "(one raw file per invocation keeps a large file within the function timeout)"
        )
    return settings


def batching_window(batch_size: int, window: int) -> int:
    """SQS mappings take more than 10 messages only with a batching window of at least 1 s."""
    return max(window, 1) if batch_size > MAX_BATCH_WITHOUT_WINDOW else window
