"""A bucket on moto whose consolidated state was built by the real handlers from flow files with planted
spikes and drops, pairs of many and few days, flat pairs, an IPv6 pair and a one-way pair; with the
daily totals read back from those files independently (local.naive)."""

from __future__ import annotations

import datetime
import json
import math
import os
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import boto3
import pytest

from handlers import consolidate, summarize
from local.naive import daily_totals
from tests.handlers.conftest import FakeContext, moto_bucket, s3_notification, sqs_event

HEADER = "Src IP,Dst IP,Timestamp,Flow Duration,Tot Fwd Pkts\n"
FIRST_DAY = datetime.date(2024, 1, 20)
DAYS = 24  # across a month boundary: month parts and day parts both read
STACK = ["--bucket", "data", "--outputs", "none"]
Expected = dict[tuple[str, str], dict[str, list[int]]]


@dataclass
class Planted:
    expected: Expected
    """pair -> date -> [flow duration, forward packets], read from the uploaded files"""
    spikes: list[tuple[tuple[str, str], str]]
    dates: list[str]


def _history(rng: random.Random) -> list[tuple[tuple[str, str], list[int], int, int]]:
    """(pair, its day numbers, base duration, base packets)."""
    pairs = []
    for n in range(18):
        pairs.append(((f"10.1.{n // 6}.{n % 6 + 1}", f"13.{n}.0.9"), list(range(DAYS)), 10**9 * (n + 1), 500 * (n + 1)))
    for n, count in enumerate((3, 5, 7, 8, 9)):
        days = [*rng.sample(range(DAYS - 1), count - 1), DAYS - 1]
        pairs.append(((f"10.2.0.{n + 1}", "8.8.8.8"), sorted(set(days)), 4 * 10**8, 90))
    pairs.append((("2001:db8::1", "2001:db8::2"), list(range(0, DAYS, 2)), 3 * 10**9, 2000))
    pairs.append((("10.3.0.1", "1.1.1.1"), list(range(DAYS)), 5 * 10**8, 100))  # flat: every day the same
    pairs.append((("10.3.0.2", "1.1.1.1"), list(range(DAYS)), 5 * 10**8, 100))  # flat but the last day
    pairs.append((("10.4.0.1", "9.9.9.9"), [DAYS - 1], 7 * 10**8, 70))  # new on the last day
    return pairs


def write_files(folder: Path, seed: int = 7) -> list[tuple[tuple[str, str], str]]:
    """Two branches' files; a (pair, day) total is split into flows across both. Returns the planted spikes
    (at most one per pair: a second would widen the first one's baseline)."""
    rng = random.Random(seed)
    rows: dict[str, list[str]] = {"north": [], "south": []}
    spikes = []
    for pair, numbers, duration, packets in _history(rng):
        flat = pair[0].startswith("10.3.")
        for number in numbers:
            day = FIRST_DAY + datetime.timedelta(days=number)
            d = duration if flat else int(duration * rng.uniform(0.85, 1.15))
            p = packets if flat else int(packets * rng.uniform(0.8, 1.2))
            if pair == ("10.3.0.2", "1.1.1.1") and number == DAYS - 1:
                d += 1
            elif not flat and len(numbers) == DAYS and pair not in {p for p, _ in spikes} and rng.random() < 0.08:
                d, p = (d * 5, p) if rng.random() < 0.5 else (d, max(1, p // 20))
                spikes.append((pair, day.isoformat()))
            for part, branch in enumerate(rng.sample(["north", "south"], 2)):
                share_d, share_p = (d // 3, p // 3) if part == 0 else (d - d // 3, p - p // 3)
                stamp = f"{day:%d/%m/%Y} {1 + rng.randrange(11):02d}:{rng.randrange(60):02d}:00 PM"
                rows[branch].append(f"{pair[0]},{pair[1]},{stamp},{share_d},{share_p}\n")
    for branch, lines in rows.items():
        (folder / branch).mkdir(parents=True, exist_ok=True)
        (folder / branch / "flows.csv").write_text(HEADER + "".join(lines))
    return spikes


def run_pipeline(s3: object, folder: Path) -> None:
    keys = []
    for path in sorted(folder.glob("*/*.csv")):
        key = f"raw/{path.parent.name}/{path.name}"
        s3.put_object(Bucket="data", Key=key, Body=path.read_bytes())  # type: ignore[attr-defined]
        assert summarize.handler(sqs_event(s3_notification(key)), FakeContext()) == {"batchItemFailures": []}
        keys.append(key)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="consolidate")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["key"] for m in messages) == keys
    bodies = [json.loads(m["Body"]) for m in messages]
    assert consolidate.handler(sqs_event(*bodies), FakeContext()) == {"batchItemFailures": []}
    # the tick the consolidator scheduled, delivered now: traffic_stats.csv (clients.pairs) is written
    assert consolidate.handler(sqs_event({"tick": 0}), FakeContext()) == {"batchItemFailures": []}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    """The bucket "data" on moto for every test of the module (the mock is active while they run)."""
    folder = tmp_path_factory.mktemp("planted")
    spikes = write_files(folder)
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.delenv("IOT_BUCKET", raising=False)
        with moto_bucket(monkeypatch) as s3:
            run_pipeline(s3, folder)
            dates = [(FIRST_DAY + datetime.timedelta(days=n)).isoformat() for n in range(DAYS)]
            yield Planted(daily_totals(sorted(folder.glob("*/*.csv"))), spikes, dates)


@dataclass(frozen=True)
class Verdict:
    """A (pair, day) as the independent computation judges it."""

    pair: tuple[str, str]
    baseline_days: int
    means: tuple[float, float]
    stds: tuple[float, float]
    zs: tuple[float, float]
    unusual: bool


def leave_one_out(pair: tuple[str, str], days: dict[str, list[int]], date: str, sigma: float) -> Verdict | None:
    """The day against the pair's other days: `statistics` for the baseline, two-pass exact fractions for
    whether |z| reaches sigma, a plain float division for z. None without two other days."""
    others = [totals for day, totals in days.items() if day != date]
    if len(others) < 2:
        return None
    means, stds, zs, unusual = [], [], [], False
    for metric in (0, 1):
        values, total = [v[metric] for v in others], days[date][metric]
        mean, std = statistics.mean(values), statistics.stdev(values)
        exact_mean = Fraction(sum(values), len(values))
        variance = sum((Fraction(v) - exact_mean) ** 2 for v in values) / (len(values) - 1)
        deviation = (total - exact_mean) ** 2
        if variance == 0:
            z = 0.0 if total == exact_mean else math.copysign(math.inf, total - exact_mean)
            unusual |= total != exact_mean
        else:
            z = (total - mean) / std
            unusual |= deviation >= Fraction(sigma) ** 2 * variance
        means.append(float(mean))
        stds.append(std)
        zs.append(z)
    return Verdict(pair, len(others), (means[0], means[1]), (stds[0], stds[1]), (zs[0], zs[1]), unusual)
