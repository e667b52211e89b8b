"""The pair's daily totals against its mean and +-1/2 sigma bands, days beyond 2 sigma marked.

matplotlib is an optional extra (`pip install '.[plot]'`); it is imported only when a plot is asked for.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from core.stats import Days, Pair, PairStats

METRICS = (("Flow duration per day (µs)", 0), ("Forward packets per day", 1))


def draw(path: Path, pair: Pair, days: Days, stats: PairStats) -> int:
    """Write the PNG; returns how many (day, metric) points lie beyond 2 sigma."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dates = sorted(days)
    x = [datetime.date.fromisoformat(d) for d in dates]
    figure, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True, constrained_layout=True)
    unusual = 0
    centres = ((stats.avg_flow_duration, stats.std_flow_duration), (stats.avg_fwd_pkts, stats.std_fwd_pkts))
    for ax, (title, index), (mean, std) in zip(axes, METRICS, centres, strict=True):
        values = [days[d][index] for d in dates]
        ax.axhspan(mean - 2 * std, mean + 2 * std, color="tab:blue", alpha=0.08, label="±2σ")
        ax.axhspan(mean - std, mean + std, color="tab:blue", alpha=0.15, label="±1σ")
        ax.axhline(mean, color="tab:blue", linewidth=1, label="mean")
        ax.plot(x, values, marker="o", color="black", linewidth=1, label="daily total")
        outliers = [(day, v) for day, v in zip(x, values, strict=True) if std > 0 and abs(v - mean) > 2 * std]
        unusual += len(outliers)
        if outliers:
            ax.scatter(*zip(*outliers, strict=True), color="tab:red", s=80, zorder=3, label="beyond 2σ")
        ax.set_title(title)
        ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
    figure.suptitle(f"{pair[0]} → {pair[1]}: {stats.count} day(s)")
    figure.autofmt_xdate()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return unusual
