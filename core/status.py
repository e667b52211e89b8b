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
EARLIER_VERSIONS_KEPT: Final = 32
SAME_CONTENT: Final = "same content as "
"""How the reason of a file rejected as a duplicate starts (followed by the owner's raw key)."""


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
    digest: str = ""
    """Hex sha256 of the decompressed content of the generation committed, when it counts (not rejected);
    the file owns that content's record (content/<digest>.json) while this generation is current."""
    earlier_versions: list[str] = field(default_factory=list)
    """Raw versions this file no longer needs (summarized by an earlier generation, or older than the one
    summarized and deleted with it), the latest EARLIER_VERSIONS_KEPT: a late event for one is done."""
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
    layout: str = ""
    """How the columns were found: "header", or the headerless layout recognised (core.headerless)."""
    layout_evidence: str = ""
    lease_until: float = 0.0
    """Epoch seconds until which one summarize invocation holds the file (0: nobody)."""
    lease_token: str = ""
    updated_at: str = ""

    @classmethod
    def new(cls, raw_key: str) -> FileStatus:
        return cls(key=raw_key, source=source_id(raw_key), branch=branch_of(raw_key))

    def holds(self, digest: str) -> bool:
        """Whether the generation committed counts with this content."""
        return bool(digest) and self.digest == digest and self.generation > 0 and self.state != REJECTED

    def covers(self, version_id: str) -> bool:
        """Whether this raw version needs nothing more: published, or one the file no longer needs."""
        return (self.published and version_id == self.version_id) or version_id in self.earlier_versions

    def with_earlier(self, versions: list[str]) -> list[str]:
        """earlier_versions with these added, the latest EARLIER_VERSIONS_KEPT kept."""
        added = [v for v in dict.fromkeys(versions) if v and v not in self.earlier_versions]
        return [*self.earlier_versions, *added][-EARLIER_VERSIONS_KEPT:]

    @property
    def duplicate_of(self) -> str:
        """The raw key whose content this file repeated, if it was rejected for that."""
        return (
            self.reason[len(SAME_CONTENT) :] if self.state == REJECTED and self.reason.startswith(SAME_CONTENT) else ""
        )

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


FREE: Final = ""


@dataclass(frozen=True)
class ContentRecord:
    """content/<digest>.json: the raw key of the one live file whose current generation has this content
    (FREE once released), and the lease token of the invocation that wrote it: every claim rewrites the
    record, so a takeover decided on an older view loses its conditional write."""

    owner: str = FREE
    token: str = ""

    def dumps(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), sort_keys=True).encode()

    @classmethod
    def loads(cls, data: bytes) -> ContentRecord:
        document: dict[str, Any] = json.loads(data)
        return cls(owner=str(document.get("owner", FREE)), token=str(document.get("token", "")))


TAKE: Final = "take"
DUPLICATE: Final = "duplicate"
WAIT: Final = "wait"


def content_claim(
    claimant: str, record: ContentRecord | None, owner: FileStatus | None, digest: str, now: float
) -> str:
    """What `claimant` (holding its own lease) may do with a content record, given the status of the file
    it names: TAKE it (absent, free, ours, or its owner's current generation has other content), it is a
    DUPLICATE (the owner's committed generation counts with this content), or WAIT (the owner is being
    summarized and may be about to commit it; or its status is missing, which the protocol rules out:
    a read that S3 answered 404 too early)."""
    if record is None or record.owner in (FREE, claimant):
        return TAKE
    if owner is None:
        return WAIT
    if owner.holds(digest):
        return DUPLICATE
    return WAIT if owner.leased(now) else TAKE
