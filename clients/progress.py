"""Upload progress: a live bar on a terminal, plain log lines elsewhere (CI, cron), nothing with --quiet."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


class Progress:
    def __init__(self, files: int, total_bytes: int, quiet: bool = False, stream: TextIO = sys.stderr) -> None:
        self.files, self.total = files, total_bytes
        self.done_files, self.done_bytes = 0, 0
        self.quiet, self.stream = quiet, stream
        self.live = stream.isatty() and not quiet
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self.done_bytes += count
            if self.live:
                self._draw()

    def file_done(self, name: str) -> None:
        with self._lock:
            self.done_files += 1
            if self.live:
                self._draw()
            elif not self.quiet:
                print(f"uploaded {name} ({self.done_files}/{self.files})", file=self.stream, flush=True)

    def _draw(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done_bytes / elapsed
        eta = (self.total - self.done_bytes) / rate if rate > 0 else 0.0
        text = (
            f" {self.done_files}/{self.files} files {_size(self.done_bytes)}/{_size(self.total)} "
            f"{_size(rate)}/s ETA {eta:4.0f}s"
        )
        # Never wider than the terminal: a line that wraps cannot be redrawn in place with \r.
        columns = shutil.get_terminal_size().columns - 1
        width = max(0, min(30, columns - len(text) - 2))
        filled = int(width * self.done_bytes / self.total) if self.total else width
        line = (f"[{'#' * filled}{'-' * (width - filled)}]" if width >= 5 else "") + text
        self.stream.write("\r" + line[:columns].ljust(columns))
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.stream, flush=True)
