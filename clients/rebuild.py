"""python -m clients.rebuild: rebuild consolidated/ from the published summaries of every file.

For operators: migrating a stack from an older consolidated layout, or repairing the state after a
bug. It reads each file's status record and its published summaries (summaries/, the Athena
table), deletes everything under consolidated/, applies the files again with the protocol the
consolidate function runs (storage.consolidated), folds every shard and writes traffic_stats.csv.
Run it while nothing is in flight (it checks), with uploads paused.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from clients.common import (
    EXIT_FAILED,
    Failure,
    Stack,
    add_stack_arguments,
    exit_codes,
    run_cli,
)
from core import layout
from core.status import REJECTED, FileStatus
from storage.consolidated import Source, State, read_generation
from storage.store import Store


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.rebuild",
        description="Delete consolidated/ and rebuild it (file ledgers, shard tables, traffic_stats.csv) "
        "from the published summaries of every file. Pause uploads first; files still being summarized "
        "or consolidated make it stop unless --force is given.",
        epilog=exit_codes(
            (EXIT_FAILED, "files are in flight (without --force), or AWS refused a request"),
        ),
    )
    parser.add_argument("--batch", type=int, default=50, help="files applied together (default: 50)")
    parser.add_argument("--force", action="store_true", help="rebuild even while files are in flight")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    started: list[bool] = []

    def run() -> int:
        stack = Stack.from_args(args)
        with stack.errors():
            started.append(True)
            return rebuild(stack.store(), args.batch, args.force, args.quiet)

    return run_cli(run, lambda: INCOMPLETE if started else "nothing was changed")


INCOMPLETE = (
    "consolidated/ may be partly rebuilt, and statistics and exports are incomplete until "
    "`python -m clients.rebuild` runs again to its end"
)


def rebuild(store: Store, batch: int, force: bool, quiet: bool) -> int:
    started = time.monotonic()
    statuses = list(store.statuses())
    now = time.time()
    busy = [s.key for s in statuses if s.leased(now) or (s.generation and not s.published)]
    if busy and not force:
        raise Failure(
            f"{len(busy)} file(s) are being summarized (e.g. {busy[0]}): wait for them "
            "(python -m clients.status), or pass --force",
            EXIT_FAILED,
        )
    live = [s for s in statuses if s.published and s.state != REJECTED and s.dates]
    deleted = store.delete_all(layout.CONSOLIDATED_PREFIX)
    if not quiet:
        print(f"deleted {deleted} object(s) under {layout.CONSOLIDATED_PREFIX}; applying {len(live)} file(s)")
    state = State(store)
    applied = 0
    for first in range(0, len(live), batch):
        sources = [source for source in map(lambda s: _read(store, s), live[first : first + batch]) if source]
        state.apply_all([(source.status.source, source.status.generation, source.rows) for source in sources])
        applied += len(sources)
        if not quiet:
            print(f"  {min(first + batch, len(live))}/{len(live)} file(s)", flush=True)
    folded = state.fold_all()
    pairs = state.rebuild_traffic_stats()
    print(
        f"rebuilt {layout.CONSOLIDATED_PREFIX} from {applied} file(s) ({folded} delta(s) folded, "
        f"{max(pairs, 0)} pair(s)) in {time.monotonic() - started:.1f} s"
    )
    return 0


def _read(store: Store, status: FileStatus) -> Source | None:
    source = read_generation(store, status)
    if source is None:
        print(f"  {status.key}: its summaries moved on while reading (a newer upload); its own message applies it")
    return source


if __name__ == "__main__":
    raise SystemExit(main())
