"""The pair's daily totals against its mean and +-1/2 sigma bands, days beyond 2 sigma marked.

matplotlib is an optional extra (`pip install -e '.[plot]'`); it is imported only when a plot is asked for.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

from core.stats import Days, Pair, PairStats


def _duration_scale(peak_microseconds: float) -> tuple[float, str]:
    if peak_microseconds >= 3 * 3600e6:
        return 3600e6, "hours"
    if peak_microseconds >= 3 * 60e6:
        return 60e6, "minutes"
    return 1e6, "seconds"


def draw(path: Path, pair: Pair, days: Days, stats: PairStats, unusual: list[str]) -> None:
    """Write the PNG: one point per day on a daily axis, a missing day is a gap in the line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    first, last = min(days), max(days)
    start = datetime.date.fromisoformat(first)
    span = (datetime.date.fromisoformat(last) - start).days + 1
    calendar = [start + datetime.timedelta(days=n) for n in range(span)]
    scale, unit = _duration_scale(max(counts.duration for counts in days.values()))
    metrics: tuple[tuple[str, Callable[[str], float], float, float], ...] = (
        (
            f"Flow duration per day ({unit})",
            lambda iso: days[iso].duration / scale,
            stats.avg_flow_duration / scale,
            stats.std_flow_duration / scale,
        ),
        ("Forward packets per day", lambda iso: float(days[iso].packets), stats.avg_fwd_pkts, stats.std_fwd_pkts),
    )
    figure, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True, constrained_layout=True)
    for ax, (label, value, mean, std) in zip(axes, metrics, strict=True):
        values = [value(d.isoformat()) if d.isoformat() in days else float("nan") for d in calendar]
        if std > 0:
            ax.axhspan(max(0.0, mean - 2 * std), mean + 2 * std, color="tab:blue", alpha=0.08, label="±2σ")
            ax.axhspan(max(0.0, mean - std), mean + std, color="tab:blue", alpha=0.15, label="±1σ")
        ax.axhline(mean, color="tab:blue", linewidth=1, label="mean")
        ax.plot(calendar, values, marker="o", color="black", linewidth=1, label="daily total")
        marked = [(d, v) for d, v in zip(calendar, values, strict=True) if d.isoformat() in unusual]
        if marked:
            ax.scatter(*zip(*marked, strict=True), color="tab:red", s=80, zorder=3, label="beyond 2σ")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("day")
    axes[-1].xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=12))  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    figure.suptitle(f"{pair[0]} → {pair[1]}: {stats.count} day(s), {first} to {last}")
    figure.autofmt_xdate()
    figure.savefig(path, dpi=110)
    plt.close(figure)
