"""The demo: start the local stack, generate a sample, upload it with --wait, export the busiest pair."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from clients import export, upload
from core import layout
from local.samples import demo_dataset
from local.stack import LocalStack
from storage.consolidated import State
from storage.store import Store

OUT = Path("demo-output")


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m local.demo",
        description="The whole pipeline on generated sample data: start the local stack, generate 3 branches of "
        "flow logs under demo-output/sample/, upload them with --wait, export the busiest pair, print where every "
        "artifact is, and stop the stack.",
    ).parse_args(argv)
    started = time.monotonic()
    shutil.rmtree(OUT, ignore_errors=True)
    sample = OUT / "sample"
    files = demo_dataset(sample)
    print(f"generated {len(files)} files, {sum(f.rows for f in files):,} flows, under {sample}/<branch>/", flush=True)
    function_logs = OUT / "function-logs.jsonl"
    # traffic_stats.csv is rebuilt by the consolidator's tick, statsRebuildSeconds after a consolidation
    with LocalStack(workers=4, function_logs=function_logs, config={"statsRebuildSeconds": "10"}) as stack:
        outputs_file = OUT / "outputs.json"
        outputs_file.write_text(json.dumps(stack.outputs, indent=2))
        os.environ.pop("AWS_ENDPOINT_URL", None)
        common = ["--outputs", str(outputs_file)]
        status = 0
        for branch in sorted(p for p in sample.iterdir() if p.is_dir()):
            status |= upload.main([str(branch), "--wait", "--timeout", "120", *common])
        s3 = stack.client("s3")
        state = State(Store(stack.outputs["bucket_name"], s3))
        print("waiting for the tick that rebuilds traffic_stats.csv (statsRebuildSeconds=10) ...", flush=True)
        deadline = time.monotonic() + 120
        while not state.traffic_stats_current() and time.monotonic() < deadline:
            time.sleep(1)
        stats = s3.get_object(Bucket=stack.outputs["bucket_name"], Key=layout.TRAFFIC_STATS_KEY)
        rows = [line.split(",") for line in stats["Body"].read().decode().splitlines()[1:]]
        busiest = max(rows, key=lambda row: (float(row[3]), row[0], row[1]))
        target = OUT / f"export_{busiest[0]}_{busiest[1]}.csv"
        status |= export.main([busiest[0], busiest[1], "-o", str(target), *common])
        print(flush=True)
        print(target.read_text())
        print("artifacts:")
        print(f"  sample flow logs       {sample}/")
        print(f"  export of busiest pair {target}")
        print(f"  stack outputs          {outputs_file}")
        print(f"  Lambda logs (JSON)     {function_logs}")
        bucket = stack.outputs["bucket_name"]
        print(
            f"  in the bucket          s3://{bucket}/{layout.SUMMARIES_PREFIX}, "
            f"{layout.CONSOLIDATED_PREFIX}, {layout.STATUS_PREFIX}"
        )
    print(f"demo finished in {time.monotonic() - started:.1f}s")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
