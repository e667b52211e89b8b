"""Summarize one large file on several processes: byte ranges split at line boundaries, merged exactly.

The parent reads the header and decides the columns and the duration unit from the first lines, as
the single-process reader does; then it reads the first range itself while one worker each
(multiprocessing Process + Pipe, which also work where Pool does not, e.g. in Lambda) opens the file
at its range (a seek, or a ranged GET) and adds up the lines that *start* in it; the parent merges the
workers' compact tables (core.table), rows and skipped counts into its own. A CSV record spans lines
only inside a quoted field, so when any range meets a quote (or a worker fails) the file is read again
by one process: the result is always the single-process result. Gzip and CR-only files are read by
one process. Meanwhile a thread of the parent reads the whole file in order for its sha256 (the
content digest of core.flows.FileSummary; hashing and reading release the GIL)."""

from __future__ import annotations

import functools
import hashlib
import io
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Final

from core.flows import (
    QUOTE,
    DateLimits,
    FileSummary,
    Head,
    Lines,
    open_flow_stream,
    read_head,
    summarize_rows,
    summarize_stream,
)

MIN_BYTES_PER_JOB: Final = 16 << 20
"""Smaller ranges cost more in process start than they save."""
READ_BUFFER: Final = 1 << 16
"""Eight times the default: a tenth of the reading time on 500-byte lines goes to read calls."""
DIGEST_CHUNK: Final = 1 << 20


def usable_cores() -> int:
    """The cores this process may run on (the affinity mask where there is one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Plan:
    head: Head
    ranges: list[tuple[int, int]]


Opener = Callable[[int], io.BufferedReader]
"""Opens the file at a byte offset, to be read to its end (or closed early). Picklable (a
functools.partial of a module-level function), so that any start method can send it to a worker."""


def open_at(path: str, offset: int) -> io.BufferedReader:
    stream: io.BufferedReader = io.BufferedReader(io.FileIO(path), READ_BUFFER)  # the caller closes it
    stream.seek(offset)
    return stream


def plan(opener: Opener, size: int, jobs: int) -> Plan | None:
    """The byte ranges of the data lines, or None when the file must be read by one process."""
    with opener(0) as raw:
        flow = open_flow_stream(raw)
        if not flow.plain:  # gzip, or bare-CR lines: offsets in the file are not offsets in the text
            return None
        head = read_head(Lines(iter(flow.stream)))
    step = max(1, (size - head.data_start) // jobs)
    starts = [head.data_start + n * step for n in range(jobs)]
    return Plan(head, [(start, end) for start, end in zip(starts, [*starts[1:], size], strict=True) if start < end])


def summarize_ranges(
    opener: Opener, size: int, jobs: int, min_bytes_per_job: int | None = None, *, limits: DateLimits | None = None
) -> FileSummary:
    """The summary of the `size` bytes `opener` reads, within `limits` (default DateLimits()), in up to
    `jobs` byte ranges in parallel (at least `min_bytes_per_job` each, default MIN_BYTES_PER_JOB), else
    by one process. Raises RejectedFile as core.flows.summarize_stream does."""
    limits = limits or DateLimits()
    least = MIN_BYTES_PER_JOB if min_bytes_per_job is None else min_bytes_per_job
    if least:
        jobs = min(jobs, size // least)
    if jobs > 1:
        ranges = plan(opener, size, jobs)
        if ranges is not None and len(ranges.ranges) > 1:
            merged = run_plan(opener, ranges, limits)
            if merged is not None:
                return merged
    with opener(0) as stream:
        return summarize_stream(stream, limits=limits)


def summarize_path(
    path: str, jobs: int, min_bytes_per_job: int | None = None, *, limits: DateLimits | None = None
) -> FileSummary:
    """A local file's summary (core.summarize --jobs)."""
    opener = functools.partial(open_at, path)
    return summarize_ranges(opener, os.path.getsize(path), jobs, min_bytes_per_job, limits=limits)


class _ContentDigest(threading.Thread):
    """The sha256 of everything `opener` reads from offset 0, read in order beside the range readers."""

    def __init__(self, opener: Opener) -> None:
        super().__init__(name="content-digest", daemon=True)
        self._opener = opener
        self.stop = threading.Event()
        self.hexdigest = ""
        self.error: Exception | None = None

    def run(self) -> None:
        sha256 = hashlib.sha256()
        try:
            with self._opener(0) as stream:
                while not self.stop.is_set():
                    chunk = stream.read(DIGEST_CHUNK)
                    if not chunk:
                        self.hexdigest = sha256.hexdigest()
                        return
                    sha256.update(chunk)
        except Exception as exc:  # handed to the parent, which raises it
            self.error = exc

    def result(self) -> str:
        self.join()
        if self.error is not None:
            raise self.error
        return self.hexdigest


def run_plan(opener: Opener, ranges: Plan, limits: DateLimits | None = None) -> FileSummary | None:
    """This process reads the first range and one worker each of the others; the merged summary, or
    None when one process must read the file. Raises RejectedFile when the merged rows hold more
    dates than `limits` allow."""
    limits = limits or DateLimits()
    context = multiprocessing.get_context()
    workers: list[tuple[Any, Connection]] = []
    for start, end in ranges.ranges[1:]:
        receive, send = context.Pipe(duplex=False)
        args = (opener, start, end, ranges.head, limits, send)
        process = context.Process(target=_worker, args=args, daemon=True)
        process.start()
        send.close()
        workers.append((process, receive))
    digest = _ContentDigest(opener)
    digest.start()
    own: FileSummary | None = None
    results: list[FileSummary | None] = []
    complete = False
    try:
        own = _read_range(opener, *ranges.ranges[0], ranges.head, limits)
        for _, receive in workers if own is not None else []:  # else the file is read again: do not wait
            try:
                results.append(receive.recv())
            except EOFError:  # the worker died
                results.append(None)
        complete = own is not None and all(result is not None for result in results)
    finally:  # on a quote, a worker's failure or an exception (Ctrl-C): nobody waits for the rest
        for process, receive in workers:
            receive.close()
            if not complete:
                process.terminate()
            process.join()
        if not complete:
            digest.stop.set()
        digest.join()
    if not complete or own is None:
        return None  # a quote, or a worker's failure: one process reads the file again
    merged = own
    for summary in results:
        assert summary is not None
        merged.table.merge(summary.table)
        merged.rows_read += summary.rows_read
        merged.skipped.update(summary.skipped)
    limits.check(merged.table)
    merged.digest = digest.result()
    return merged


class _Quoted(Exception):
    """A range holds a quote: a record may continue across its boundary."""


class _LinesBefore(io.RawIOBase):
    """The bytes of the lines that start within `limit` bytes of the source's position: a line that
    starts before the limit is read to its end, and nothing after it. Raises _Quoted at a quote.
    (Checked per buffer, not per line: the hot loop iterates the lines at C speed.)"""

    def __init__(self, source: io.BufferedReader, limit: int) -> None:
        self._source = source
        self._left = limit
        self._done = limit <= 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._done:
            return 0
        data = self._source.read(len(buffer))
        if len(data) < self._left or (len(data) == self._left and not data.endswith(b"\n")):
            self._left -= len(data)  # all before the limit (or the line at the limit goes on)
        else:
            cut = data.find(b"\n", max(self._left - 1, 0))
            self._left = 0
            if cut != -1:
                data = data[: cut + 1]
                self._done = True
        if not data:
            self._done = True
        if QUOTE in data:
            raise _Quoted
        buffer[: len(data)] = data
        return len(data)


def _read_range(opener: Opener, start: int, end: int, head: Head, limits: DateLimits) -> FileSummary | None:
    """The summary of the lines that start in [start, end), or None when one of them has a quote."""
    first = start == head.data_start
    with opener(start if first else start - 1) as stream:
        if not first:  # the line that starts before the range belongs to the previous range
            start = start - 1 + len(stream.readline())
        lines = io.BufferedReader(_LinesBefore(stream, end - start), READ_BUFFER)
        try:
            return summarize_rows(Lines(iter(lines)), head, limits)
        except _Quoted:
            return None


def _worker(opener: Opener, start: int, end: int, head: Head, limits: DateLimits, send: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to report; it ends the workers
    try:
        send.send(_read_range(opener, start, end, head, limits))
    except Exception:
        send.send(None)
    finally:
        send.close()
