"""What the analyst's clients write: `-o -` is stdout, targets checked before any work, a file appears
whole or not at all; and the unusual-day rule's arguments (--sigma, --min-days) with one set of
defaults. Exit codes and run_cli (a closed pipe, Ctrl-C) are clients.common's, as for every client."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final, TextIO

from clients.common import EXIT_USAGE, Failure
from core.anomalies import MIN_BASELINE

STDOUT: Final = "-"
DEFAULT_SIGMA: Final = 3.0
"""Under a normal spread, |z| >= 2 happens on about 1 day in 22 by chance: a month of history would show one
or two ordinary days as unusual every time. |z| >= 3 is about 1 in 370 (and leave-one-out z of a short
history has heavier tails still), so what is listed is worth a look; export and anomalies agree."""
DEFAULT_MIN_DAYS: Final = 7


def check_target(path: str | Path | None, option: str, suffix: str = "") -> None:
    """Refuse, before any work, a file that could not be written: its folder missing, a folder, or a
    wrong suffix."""
    if path is None or (str(path) == STDOUT and not suffix):
        return
    target = Path(path)
    if suffix and target.suffix.lower() != suffix:
        raise Failure(f"{option} {target}: the file name must end in {suffix}", EXIT_USAGE)
    if target.is_dir():
        raise Failure(f"{option} {target}: is a folder; give a file name", EXIT_USAGE)
    folder = target.parent
    if not folder.is_dir():
        raise Failure(f"{option} {target}: folder {folder} does not exist", EXIT_USAGE)


@contextlib.contextmanager
def written(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write; it becomes `path` only when the block succeeds, so a
    failure or Ctrl-C leaves no partial file (and an older file of that name as it was)."""
    target = Path(path)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)  # mkstemp's 0600 would surprise whoever shares the folder
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


@contextlib.contextmanager
def opened(path: str | Path) -> Iterator[TextIO]:
    """stdout for "-"; otherwise the file, written whole or not at all (see `written`)."""
    if str(path) == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    with written(path) as temporary, temporary.open("w", newline="") as out:
        yield out


def iso_date(text: str) -> str:
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _sigma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of standard deviations: {text!r}")
    return value


def _baseline_days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < MIN_BASELINE:
        raise argparse.ArgumentTypeError(
            f"must be an integer of at least {MIN_BASELINE} (a standard deviation needs two days): {text!r}"
        )
    return value


def add_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """--sigma and --min-days: the rule of core.anomalies, the same defaults in every client."""
    parser.add_argument(
        "--sigma",
        type=_sigma,
        default=DEFAULT_SIGMA,
        metavar="K",
        help=f"a day is unusual when its total lies at least K standard deviations from the pair's other days "
        f"(default {DEFAULT_SIGMA:g})",
    )
    parser.add_argument(
        "--min-days",
        type=_baseline_days,
        default=DEFAULT_MIN_DAYS,
        metavar="N",
        help=f"judge a day only against at least N other days of the pair (default {DEFAULT_MIN_DAYS}, at least 2)",
    )
