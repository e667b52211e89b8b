"""A pair's daily totals against a baseline's mean and +-1 and +-K std bands, unusual days marked.

The x axis is a calendar: one labelled tick per day up to 31 days (a missing day is a gap), weekly
ticks up to half a year, monthly beyond; a single day is one labelled day. The legend sits below the
axes, outside the data; the bands have edges, so they show in print; y labels carry thousands
separators; a std of 0 (or a single day) is said in the panel's title instead of drawing an empty band.

matplotlib is an optional extra (`pip install -e '.[plot]'`); it is imported only when a plot is asked for.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from core.anomalies import Judged
from core.stats import Days, Pair, PairStats

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DAILY_TICKS_UP_TO: Final = 31
WEEKLY_TICKS_UP_TO: Final = 183
ONE_DAY: Final = datetime.timedelta(days=1)


def _duration_scale(peak_microseconds: float) -> tuple[float, str]:
    if peak_microseconds >= 3 * 3600e6:
        return 3600e6, "hours"
    if peak_microseconds >= 3 * 60e6:
        return 60e6, "minutes"
    return 1e6, "seconds"


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _date_axis(ax: Axes, first: datetime.date, last: datetime.date) -> None:
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter

    span = (last - first).days + 1
    start = datetime.datetime.combine(first, datetime.time())
    ax.set_xlim(start - ONE_DAY / 2, start + (span - 1) * ONE_DAY + ONE_DAY / 2)  # type: ignore[arg-type]
    major: mdates.DateLocator
    if span <= DAILY_TICKS_UP_TO:
        major, label = mdates.DayLocator(), "%d %b"  # type: ignore[no-untyped-call]
    elif span <= WEEKLY_TICKS_UP_TO:
        major, label = mdates.WeekdayLocator(byweekday=mdates.MO), "%d %b"  # type: ignore[no-untyped-call]
        ax.xaxis.set_minor_locator(mdates.DayLocator())  # type: ignore[no-untyped-call]
    else:
        major, label = mdates.MonthLocator(), "%b %Y"  # type: ignore[no-untyped-call]
        ax.xaxis.set_minor_locator(mdates.WeekdayLocator(byweekday=mdates.MO))  # type: ignore[no-untyped-call]

    def tick(value: float, position: int | None) -> str:
        day = mdates.num2date(value).date()  # type: ignore[no-untyped-call]
        text = str(day.strftime(label))
        # The year once, under the first tick (and at a new year), unless the label has it.
        if "%Y" not in label and (position == 0 or (day.month, day.day) == (1, 1)):
            text += f"\n{day:%Y}"
        return text

    ax.xaxis.set_major_locator(major)
    ax.xaxis.set_major_formatter(FuncFormatter(tick))
    if span > 10:
        ax.tick_params(axis="x", labelrotation=90 if span <= DAILY_TICKS_UP_TO else 45)


def figure(
    pair: Pair,
    days: Days,
    baseline: PairStats,
    *,
    sigma: float,
    unusual: Sequence[Judged] = (),
    judged: Judged | None = None,
    baseline_name: str = "all days",
) -> Figure:
    """The figure: two panels (flow duration, forward packets) over the calendar of `days`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    first, last = datetime.date.fromisoformat(min(days)), datetime.date.fromisoformat(max(days))
    calendar = [first + n * ONE_DAY for n in range((last - first).days + 1)]
    points = [datetime.datetime.combine(day, datetime.time()) for day in calendar]
    scale, unit = _duration_scale(max(counts.duration for counts in days.values()))
    metrics = (
        (f"flow duration per day ({unit})", "duration", scale, baseline.avg_flow_duration, baseline.std_flow_duration),
        ("forward packets per day", "packets", 1.0, baseline.avg_fwd_pkts, baseline.std_fwd_pkts),
    )
    fig, axes = plt.subplots(2, 1, figsize=(10, 7.5), sharex=True, layout="constrained")
    marker_size = 5 if len(calendar) <= 60 else 2.5
    for ax, (label, field, unit_scale, raw_mean, raw_std) in zip(axes, metrics, strict=True):
        mean, std = raw_mean / unit_scale, raw_std / unit_scale
        values = [
            getattr(days[d.isoformat()], field) / unit_scale if d.isoformat() in days else float("nan")
            for d in calendar
        ]
        top = max(max(v for v in values if v == v), mean + sigma * std) * 1.1 or 1.0
        digits = 0 if top >= 100 else 1 if top >= 1 else 2
        if std > 0:
            ax.axhspan(
                max(0.0, mean - sigma * std), mean + sigma * std, color="tab:blue", alpha=0.12, label=f"±{sigma:g}σ"
            )
            ax.axhspan(max(0.0, mean - std), mean + std, color="tab:blue", alpha=0.25, label="±1σ")
            for edge in (mean - sigma * std, mean + sigma * std):
                if edge > 0:
                    ax.axhline(edge, color="tab:blue", linewidth=0.8, linestyle="--")
            spread = f"mean {_number(mean, digits)}, σ {_number(std, digits)} ({baseline_name})"
        elif baseline.count == 1:
            spread = f"one day: mean {_number(mean, digits)}, σ undefined"
        else:
            spread = f"mean {_number(mean, digits)}, σ = 0: the same total every day ({baseline_name})"
        ax.axhline(mean, color="tab:blue", linewidth=1.2, label=f"mean of {baseline_name}")
        ax.plot(points, values, marker="o", markersize=marker_size, color="black", linewidth=1, label="daily total")
        # A day is marked in the panel of the metric that reached K, not in both.
        beyond = {j.date for j in unusual if (j.z_duration if field == "duration" else j.z_packets).at_least(sigma)}
        marked = [(p, v) for p, d, v in zip(points, calendar, values, strict=True) if d.isoformat() in beyond]
        if marked:
            ax.scatter(
                *zip(*marked, strict=True),
                color="tab:red",
                s=70,
                zorder=3,
                label=f"≥ {sigma:g}σ from the pair's other days",
            )
        if judged is not None:
            ax.axvline(
                datetime.datetime.fromisoformat(judged.date),
                color="tab:red",
                alpha=0.35,
                linewidth=6,
                label="judged day",
            )
        ax.set_title(spread, loc="right", fontsize="small")
        ax.set_ylabel(label)
        ax.set_ylim(0, top)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, d=digits: _number(v, d)))
        ax.grid(alpha=0.3)
    _date_axis(axes[-1], first, last)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize="small", frameon=False)
    if judged is not None:
        z_duration, z_packets = judged.z
        title = (
            f"{pair[0]} → {pair[1]} on {judged.date}: z = {z_duration:+.1f} (flow duration), "
            f"{z_packets:+.1f} (forward packets) against {judged.baseline.count} other days"
        )
    else:
        title = f"{pair[0]} → {pair[1]}: {len(days)} day(s), {first} to {last}"
    fig.suptitle(title)
    return fig


def draw(path: Path, pair: Pair, days: Days, baseline: PairStats, **options: Any) -> None:
    """Write the PNG of `figure(...)`."""
    import matplotlib.pyplot as plt

    fig = figure(pair, days, baseline, **options)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
