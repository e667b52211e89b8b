"""The pictures an analyst looks at, for 1, 2, 5, 20 and 365 days: one labelled tick per day up to a
month and never a repeated date, a calendar of weeks or months beyond, the legend outside the data,
thousands separators, a std of 0 said. Set PLOT_PICTURES=folder to keep the PNGs and look at them."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure

from clients.plot import draw, figure
from core.anomalies import judge, sums_of, unusual_days
from core.counts import Counts
from core.stats import Days, pair_stats

PAIR = ("10.1.0.5", "13.188.247.102")
START = datetime.date(2024, 2, 26)


def history(span: int, spike: int | None = None, flat: bool = False) -> Days:
    days: Days = {}
    for n in range(span):
        if span > 20 and n % 9 == 4:
            continue  # a missing day is a gap
        date = (START + datetime.timedelta(days=n)).isoformat()
        duration = 7_200_000_000 if flat else 7_000_000_000 + 400_000_000 * (n % 5)
        packets = 12_000 if flat else 11_000 + 900 * (n % 4)
        if n == spike:
            duration, packets = duration * 4, packets * 3
        days[date] = Counts(duration, packets, 10)
    return days


def labels(fig: Figure) -> list[str]:
    fig.canvas.draw()
    return [label.get_text() for label in fig.axes[-1].get_xticklabels() if label.get_text()]


def legend_clear_of_the_axes(fig: Figure) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not legend.overlaps(ax.get_window_extent(renderer)), "the legend covers a panel"
        dates = ax.xaxis.get_tightbbox(renderer)
        assert dates is None or not legend.overlaps(dates), "the legend covers the date labels"


def keep(fig: Figure, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("PLOT_PICTURES", tmp_path))
    fig.savefig(folder / name, dpi=100)
    assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("span", [1, 2, 5, 20])
def test_up_to_a_month_one_labelled_tick_per_day(span: int, tmp_path: Path) -> None:
    days = history(span, spike=span - 1 if span >= 5 else None)
    fig = figure(PAIR, days, pair_stats(days), sigma=3, unusual=unusual_days(PAIR, days, 3, 2))
    text = labels(fig)
    calendar = [START + datetime.timedelta(days=n) for n in range(span)]
    assert [t.split("\n")[0] for t in text] == [f"{d:%d %b}" for d in calendar]
    assert text[0].endswith("\n2024") and len(set(text)) == len(text)
    legend_clear_of_the_axes(fig)
    keep(fig, f"days-{span}.png", tmp_path)


def test_a_year_has_monthly_ticks_and_thousands_separators(tmp_path: Path) -> None:
    days = history(365, spike=200)
    fig = figure(PAIR, days, pair_stats(days), sigma=3, unusual=unusual_days(PAIR, days, 3, 7))
    text = labels(fig)
    assert text[0] == "Mar 2024" and text[-1] == "Feb 2025" and len(text) == len(set(text)) == 12
    fig.canvas.draw()
    packet_ticks = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert any("," in t for t in packet_ticks), packet_ticks
    legend_clear_of_the_axes(fig)
    keep(fig, "days-365.png", tmp_path)


def test_a_judged_day_and_its_z_are_in_the_title_against_the_other_days(tmp_path: Path) -> None:
    days = history(20, spike=12)
    date = (START + datetime.timedelta(days=12)).isoformat()
    judged = judge(date, PAIR, days[date], sums_of(days))
    assert judged is not None
    fig = figure(PAIR, days, judged.baseline, sigma=3, unusual=[judged], judged=judged, baseline_name="the other days")
    title = fig.get_suptitle()
    assert f"on {date}: z = +{judged.z[0]:.1f} (flow duration)" in title and "19 other days" in title
    legend_clear_of_the_axes(fig)
    keep(fig, "judged.png", tmp_path)


def test_sigma_zero_and_a_single_day_are_said(tmp_path: Path) -> None:
    flat = history(5, flat=True)
    fig = figure(PAIR, flat, pair_stats(flat), sigma=3)
    assert "σ = 0" in fig.axes[0].get_title(loc="right")
    one = history(1)
    fig = figure(PAIR, one, pair_stats(one), sigma=3)
    assert "σ undefined" in fig.axes[1].get_title(loc="right")
    draw(tmp_path / "flat.png", PAIR, flat, pair_stats(flat), sigma=3)
    assert (tmp_path / "flat.png").stat().st_size > 10_000


def test_a_day_is_marked_only_in_the_panel_of_the_metric_that_reached_k() -> None:
    days = history(20, spike=12)
    date = (START + datetime.timedelta(days=12)).isoformat()
    days[date] = Counts(days[date].duration, 12_000, 10)  # packets as usual
    judged = judge(date, PAIR, days[date], sums_of(days))
    assert judged is not None and abs(judged.z[0]) >= 3 > abs(judged.z[1])
    fig = figure(PAIR, days, judged.baseline, sigma=3, unusual=[judged], judged=judged)
    assert [len(ax.collections) for ax in fig.axes] == [1, 0]
