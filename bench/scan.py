"""Scanning throughput: files per minute with 1 and 2 worker processes, and what Ray adds over plain processes.

Each run scans the same files into a fresh output (so nothing is skipped) and is timed from the call to the last line,
detector loading included: that is what a user waits for. The files are the first ``--files`` videos of the shared
data's ``real/`` folder (or any folder / CSV given with ``--source``).

    nice -n 10 python bench/scan.py --files 16 --out bench/results/2026-12-01-scan.json
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vaedetect import scan

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(files_csv: Path, workers: int, ray_address: str | None, tmp: Path) -> dict[str, float | int]:
    out = tmp / f"w{workers}-{ray_address or 'proc'}.jsonl"
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
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=Path, default=DATA / "real")
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    paths = scan.list_inputs(args.source)[: args.files]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        listing = tmp / "files.csv"
        listing.write_text("path\n" + "".join(f"{p}\n" for p in paths))
        runs = {
            "processes_1": timed(listing, 1, None, tmp),
            "processes_2": timed(listing, 2, None, tmp),
            "ray_local_2": timed(listing, 2, "local", tmp),
        }
    p2, r2 = runs["processes_2"], runs["ray_local_2"]
    result = {
        "what": "python -m vaedetect scan throughput (detector loading included), bundled checkpoint",
        "command": "nice -n 10 python bench/scan.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs, shared with other jobs (numbers are noisy)",
        "subsample": f"first {len(paths)} files of {args.source} (sorted)",
        "runs": runs,
        "speedup_2_processes_vs_1": round(p2["files_per_minute"] / runs["processes_1"]["files_per_minute"], 2),
        "ray_overhead_vs_processes_s": round(r2["wall_s"] - p2["wall_s"], 2),
        "ray_overhead_vs_processes_fraction": round(r2["wall_s"] / p2["wall_s"] - 1, 3),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
