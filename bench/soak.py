"""Soak: many analyses in a row through one Detector. Resident memory, temp files, threads and open files are read
after each; MediaPipe graphs are kept between analyses (``Detector.faces``), so none should be built after the first.

    nice -n 10 python bench/soak.py [--n 100] [--json bench/results/2026-12-01-soak.json] [CLIP]

Without CLIP it analyses a real dev clip of ``../shared/data`` (``dev/lrs2__00001.mp4``, 4.8 s with speech). The
process's temp folder is a fresh one, so "no temp file left" means that folder is empty at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT.parent / "shared" / "data" / "dev" / "lrs2__00001.mp4"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def counts() -> dict[str, int]:
    return {"threads": len(os.listdir("/proc/self/task")), "open_fds": len(os.listdir("/proc/self/fd"))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?", default=str(CLIP))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vaedetect-soak-")
    tempfile.tempdir = tmp  # everything the library writes through tempfile lands here
    os.environ["TMPDIR"] = tmp

    import vaedetect

    det = vaedetect.load_detector()
    rows = []
    t0 = time.perf_counter()
    for i in range(1, args.n + 1):
        t = time.perf_counter()
        report = det.analyze(args.clip)
        row = {"i": i, "s": round(time.perf_counter() - t, 3), "rss_mb": round(rss_mb(), 1), **counts()}
        row["graphs_built"] = det.faces.built
        row["verdict"] = report.verdict
        rows.append(row)
        if i in (1, 2, 5, 10) or i % 10 == 0:
            print(json.dumps(row), flush=True)
    left = sorted(os.listdir(tmp))
    base = rows[min(1, len(rows) - 1)]  # after the 2nd analysis: allocators and caches have warmed up
    out = {
        "command": "nice -n 10 python bench/soak.py " + " ".join(sys.argv[1:]),
        "clip": Path(args.clip).name,
        "n": args.n,
        "minutes": round((time.perf_counter() - t0) / 60, 1),
        "rss_mb_after_1": rows[0]["rss_mb"],
        "rss_mb_after_2": base["rss_mb"],
        "rss_mb_at_end": rows[-1]["rss_mb"],
        "rss_growth_mb_from_2nd": round(rows[-1]["rss_mb"] - base["rss_mb"], 1),
        "max_rss_mb": max(r["rss_mb"] for r in rows),
        "threads_after_2_and_at_end": [base["threads"], rows[-1]["threads"]],
        "open_fds_after_2_and_at_end": [base["open_fds"], rows[-1]["open_fds"]],
        "graphs_built": det.faces.built,
        "temp_files_left": left,
        "verdicts": sorted({r["verdict"] for r in rows}),
        "median_s": sorted(r["s"] for r in rows)[len(rows) // 2],
        "rows": rows,
    }
    det.close()
    os.rmdir(tmp) if not left else None
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
