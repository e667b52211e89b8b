"""Where everything lives in the bucket: one place for every key the pipeline reads or writes.

summaries/ is a Hive-partitioned table (summaries/dt=YYYY-MM-DD/<source id>.csv) for Athena;
consolidated/ holds a ledger per file, pending deltas and folded tables per shard of the pair space
(core.consolidated), so that consolidating a file costs what the file holds and an export what the
pair holds, whatever the history and the population.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

RAW_PREFIX: Final = "raw/"
REJECTED_PREFIX: Final = "rejected/"
STATUS_PREFIX: Final = "status/"
SUMMARIES_PREFIX: Final = "summaries/"
CONTENT_PREFIX: Final = "content/"
CONSOLIDATED_PREFIX: Final = "consolidated/"
FILES_PREFIX: Final = "consolidated/files/"
PENDING_PREFIX: Final = "consolidated/pending/"
SHARDS_PREFIX: Final = "consolidated/shards/"
TICK_KEY: Final = "consolidated/tick.json"
TRAFFIC_STATS_KEY: Final = "consolidated/traffic_stats.csv"
MAX_KEY_BYTES: Final = 1024
"""S3's limit on an object key (UTF-8 bytes)."""
GENERATION: Final = "generation"
"""Object metadata of a summaries/ object: the file generation it belongs to (the consolidator checks it)."""
UPLOAD_ID: Final = "upload-id"
"""Object metadata the upload client gives each upload, recorded in the status (upload --wait)."""


def is_raw(key: str) -> bool:
    return key.startswith(RAW_PREFIX) and not key.endswith("/")


def raw_key(branch: str, path: str) -> str:
    """The key of a file uploaded from a branch: raw/<branch>/<path relative to the uploaded folder>."""
    return f"{RAW_PREFIX}{branch}/{path}"


def key_problem(raw_key: str) -> str | None:
    """Why a raw key cannot be processed: every key derived from it must fit S3's limit."""
    longest = max(len(status_key(raw_key).encode()), len(rejected_key(raw_key).encode()))
    if longest > MAX_KEY_BYTES:
        excess = longest - MAX_KEY_BYTES
        return f"object key too long: its status key would exceed S3's {MAX_KEY_BYTES}-byte limit by {excess} bytes"
    return None


def relative(raw_key: str) -> str:
    if not is_raw(raw_key):
        raise ValueError(f"not a raw object key: {raw_key!r}")
    return raw_key[len(RAW_PREFIX) :]


def branch_of(raw_key: str) -> str:
    return relative(raw_key).split("/", 1)[0]


def source_id(raw_key: str) -> str:
    """Stable id of a raw file name: a re-upload under the same name replaces the same source."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()[:24]


def status_key(raw_key: str) -> str:
    return f"{STATUS_PREFIX}{relative(raw_key)}.json"


def status_prefix(branch: str) -> str:
    return f"{STATUS_PREFIX}{branch}/"


def raw_key_of_status(key: str) -> str:
    return RAW_PREFIX + key[len(STATUS_PREFIX) : -len(".json")]


def rejected_key(raw_key: str) -> str:
    return REJECTED_PREFIX + relative(raw_key)


def content_key(digest: str) -> str:
    """The record naming the one live file whose current generation has this content (hex sha256 of
    the decompressed bytes): how the same content counts once, whatever its name, branch or compression."""
    return f"{CONTENT_PREFIX}{digest}.json"


def summary_key(date: str, source: str) -> str:
    return f"{SUMMARIES_PREFIX}dt={date}/{source}.csv"


def file_ledger_key(source: str) -> str:
    """A file's ledger in the consolidated state: the generation applied and its rows."""
    return f"{FILES_PREFIX}{source}.json"


def pending_prefix(shard: int) -> str:
    return f"{PENDING_PREFIX}shard={shard:02d}/"


def delta_key(shard: int, name: str, rows: int | None = None) -> str:
    """Pending changes of one shard (a transition's delta, or a bundle of a batch's), until the shard's
    next fold. The name ends with the (day, pair) changes it holds (".nROWS"), for the tick to weigh it
    from a listing."""
    return f"{pending_prefix(shard)}{name}{'' if rows is None else f'.n{rows}'}.json"


def shard_of_key(key: str) -> int:
    """The shard of a key under consolidated/pending/ or consolidated/shards/ (".../shard=NN/...")."""
    return int(key.split("/shard=", 1)[1][:2])


_DELTA_NAME: Final = re.compile(r"(?P<id>.*?)(?:\.n(?P<rows>\d+))?\.json")


def delta_rows_of(key: str) -> int | None:
    """The rows a delta's key names (None: a key written before they were named)."""
    rows = _delta_name(key).group("rows")
    return int(rows) if rows is not None else None


def _delta_name(key: str) -> re.Match[str]:
    found = _DELTA_NAME.fullmatch(key.rsplit("/", 1)[1])
    assert found is not None  # every name ending in .json matches
    return found


def stats_table_key(shard: int) -> str:
    return f"{SHARDS_PREFIX}shard={shard:02d}/stats.tbl"


def day_tables_prefix(shard: int) -> str:
    return f"{SHARDS_PREFIX}shard={shard:02d}/days/"


def day_table_key(shard: int, date: str) -> str:
    return f"{day_tables_prefix(shard)}dt={date}.tbl"


def date_of_day_table(key: str) -> str:
    return key.rsplit("dt=", 1)[1][: -len(".tbl")]
