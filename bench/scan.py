"""Scanning throughput: files per minute with 1 and 2 worker processes, and what Ray adds over plain processes.

Each run scans the same files into a fresh output (so nothing is skipped) and is timed from the call to the last line,
detector loading included: that is what a user waits for. The setups alternate order between rounds and the medians
are compared, because on a shared machine the load moves between runs (the 1-minute load average is recorded). The
files are the first ``--files`` videos of the shared data's ``real/`` folder (or any folder / CSV with ``--source``).

    nice -n 10 python bench/scan.py --files 10 --rounds 2 --out bench/results/2026-12-01-scan.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vaedetect import scan

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(files_csv: Path, workers: int, ray_address: str | None, tmp: Path) -> dict[str, float | int]:
    out = tmp / f"w{workers}-{ray_address or 'proc'}-{time.monotonic_ns()}.jsonl"
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    summary = scan.scan(files_csv, out, workers=workers, ray_address=ray_address, progress=False)
    wall = time.perf_counter() - t0
    lines = [json.loads(t) for t in out.read_text().splitlines()]
    busy = sum(line["seconds"] or 0.0 for line in lines)
    return {
        "files": summary.scored,
        "errors": len(summary.errors),
        "wall_s": round(wall, 2),
        "files_per_minute": round(60 * summary.scored / wall, 2),
        "sum_of_per_file_seconds": round(busy, 2),
        "startup_and_overhead_s": round(wall - busy / workers, 2),
        "load_average_1min_before": round(load, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=Path, default=DATA / "real")
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the three setups (order reversed each round)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    paths = scan.list_inputs(args.source)[: args.files]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        listing = tmp / "files.csv"
        listing.write_text("path\n" + "".join(f"{p}\n" for p in paths))
        setups = {"processes_1": (1, None), "processes_2": (2, None), "ray_local_2": (2, "local")}
        runs: dict[str, list[dict]] = {k: [] for k in setups}
        for r in range(args.rounds):
            for name in list(setups)[:: 1 if r % 2 == 0 else -1]:
                runs[name].append(timed(listing, *setups[name], tmp))
    wall = {k: float(np.median([run["wall_s"] for run in v])) for k, v in runs.items()}
    fpm = {k: round(60 * len(paths) / w, 2) for k, w in wall.items()}
    result = {
        "what": "python -m vaedetect scan throughput (detector loading included), bundled checkpoint",
        "command": "nice -n 10 python bench/scan.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs, shared with other jobs (numbers are noisy)",
        "subsample": f"first {len(paths)} files of {args.source} (sorted)",
        "runs": runs,
        "median_wall_s": wall,
        "files_per_minute_at_median": fpm,
        "speedup_2_processes_vs_1": round(fpm["processes_2"] / fpm["processes_1"], 2),
        "ray_overhead_vs_processes_s": round(wall["ray_local_2"] - wall["processes_2"], 2),
        "ray_overhead_vs_processes_fraction": round(wall["ray_local_2"] / wall["processes_2"] - 1, 3),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
