"""The per-file status record (status/<branch>/<file>.json): what happened to one raw file."""

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
    consolidated_generation: int = 0
    etag: str = ""
    dates: list[str] = field(default_factory=list)
    shards: list[int] = field(default_factory=list)
    stale_shards: list[int] = field(default_factory=list)
    """Shards an earlier generation touched and this one does not: consolidation clears them."""
    rows_read: int = 0
    rows_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    lease_until: float = 0.0
    """Epoch seconds until which one summarize invocation holds the file (0: nobody)."""
    updated_at: str = ""

    @classmethod
    def new(cls, raw_key: str) -> FileStatus:
        return cls(key=raw_key, source=source_id(raw_key), branch=branch_of(raw_key))

    def shown_state(self, now: float) -> str:
        """The state as people see it: summarizing while an invocation holds the file's lease."""
        return SUMMARIZING if self.lease_until > now else self.state

    @property
    def done(self) -> bool:
        """Consolidated or rejected, for the generation last summarized."""
        if self.state == REJECTED:
            return True
        return self.state == CONSOLIDATED and self.consolidated_generation >= self.generation

    def dumps(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=1).encode()

    @classmethod
    def loads(cls, data: bytes) -> FileStatus:
        document: dict[str, Any] = json.loads(data)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in document.items() if name in known})
