"""One partition of the consolidated state: every source's contribution to the pairs of a shard.

Applying a source is idempotent and ordered by the source's generation, so duplicate, late and
concurrent consolidations converge to the same state (DESIGN 5.2). The `sources` ledger keeps a
tombstone for a source that no longer has rows here, so a late, older generation cannot return.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.counts import Counts, Key
from core.layout import shard_of
from core.stats import Days, Pair, by_pair

Row = list[str | int]
"""[date, src, dst, flow duration, fwd packets, flows]"""


@dataclass
class ShardState:
    revision: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=dict)

    def apply(self, source: str, generation: int, rows: Sequence[Row]) -> bool:
        """Make `rows` the contribution of `source`, unless a newer or equal generation is in."""
        if self.sources.get(source, -1) >= generation:
            return False
        self.sources[source] = generation
        if rows:
            self.rows[source] = list(rows)
        else:
            self.rows.pop(source, None)
        self.revision += 1
        return True

    def pairs(self) -> dict[Pair, Days]:
        return by_pair(
            (Key(str(r[0]), str(r[1]), str(r[2])), Counts(int(r[3]), int(r[4]), int(r[5])))
            for rows in self.rows.values()
            for r in rows
        )

    def dumps(self) -> bytes:
        document = {"format": 1, "revision": self.revision, "sources": self.sources, "rows": self.rows}
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def loads(cls, data: bytes) -> ShardState:
        document = json.loads(data)
        if document.get("format") != 1:
            raise ValueError(f"unknown shard format {document.get('format')!r}")
        return cls(int(document["revision"]), dict(document["sources"]), dict(document["rows"]))


def rows_by_shard(totals: Mapping[Key, Counts]) -> dict[int, list[Row]]:
    shards: dict[int, list[Row]] = {}
    for (date, src, dst), (duration, packets, flows) in sorted(totals.items()):
        shards.setdefault(shard_of(src, dst), []).append([date, src, dst, duration, packets, flows])
    return shards
