"""The per-file status record (status/<branch>/<file>.json): what happened to one raw file.

The record is the commit point of the pipeline (README, "The protocol"): a summarize invocation
takes the file's lease in it, commits a new generation in it, publishes that generation's
summaries and then marks it published; the consolidator applies only published generations and
marks them consolidated.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Final

from core.layout import branch_of, source_id

PENDING: Final = "pending"
SUMMARIZING: Final = "summarizing"
SUMMARIZED: Final = "summarized"
CONSOLIDATED: Final = "consolidated"
REJECTED: Final = "rejected"
STATES: Final = (PENDING, SUMMARIZING, SUMMARIZED, CONSOLIDATED, REJECTED)


@dataclass
class FileStatus:
    key: str
    source: str
    branch: str
    state: str = PENDING
    generation: int = 0
    """Bumped each time the file's content is summarized; consolidation applies generations in order."""
    published_generation: int = 0
    """The last generation whose summaries are all written (and stale ones deleted)."""
    consolidated_generation: int = 0
    version_id: str = ""
    """S3 version of the raw object this generation summarized."""
    upload_id: str = ""
    """The upload-id metadata the upload client gave that version (how `upload --wait` knows its upload)."""
    etag: str = ""
    dates: list[str] = field(default_factory=list)
    published_dates: list[str] = field(default_factory=list)
    """Every day whose summaries/ object may exist for this file (cleaned down to `dates` on publishing)."""
    stale_dates: list[str] = field(default_factory=list)
    """Days an earlier generation covered and this one does not: consolidation removes the file from them."""
    rows_read: int = 0
    rows_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    duration_unit: str = ""
    unit_evidence: str = ""
    lease_until: float = 0.0
    """Epoch seconds until which one summarize invocation holds the file (0: nobody)."""
    lease_token: str = ""
    updated_at: str = ""

    @classmethod
    def new(cls, raw_key: str) -> FileStatus:
        return cls(key=raw_key, source=source_id(raw_key), branch=branch_of(raw_key))

    def leased(self, now: float) -> bool:
        return self.lease_until > now

    @property
    def published(self) -> bool:
        return self.generation > 0 and self.published_generation >= self.generation

    def shown_state(self, now: float) -> str:
        """The state as people see it: summarizing while an invocation holds the file's lease."""
        if self.leased(now) or (self.generation and not self.published):
            return SUMMARIZING
        return self.state

    @property
    def done(self) -> bool:
        """Rejected, or consolidated, for the generation last summarized."""
        if not self.published:
            return False
        return self.state == REJECTED or self.consolidated_generation >= self.generation

    def dumps(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=1).encode()

    @classmethod
    def loads(cls, data: bytes) -> FileStatus:
        document: dict[str, Any] = json.loads(data)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in document.items() if name in known})
