"""Detector benchmark: model load time, end-to-end analysis time per clip (median of N runs) with a per-stage split,
real-time factor, and peak RSS. Numbers, not pass/fail.

    .venv/bin/python bench/analyze.py [--runs 3] [--checkpoint X] [CLIPS...]   # default: a few ../shared/data/dev clips

Targets (issue 4): 10 s 720p clip with speech <= 0.3x real time on a 2-core CPU, model load <= 5 s,
peak RSS <= 1.5 GB for a 60 s clip.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV = REPO.parent / "shared" / "data" / "dev"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="*")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkpoint")
    args = ap.parse_args()
    clips = [Path(c) for c in args.clips] or sorted(DEV.glob("*.mp4"))[:5]

    import vaedetect

    t0 = time.perf_counter()
    det = vaedetect.load_detector(args.checkpoint)
    print(f"model load: {time.perf_counter() - t0:.2f} s ({det.bundle_name})")
    print(f"{'clip':<40} {'dur s':>6} {'median s':>9} {'RTF':>6}  stages (median s)")
    for clip in clips:
        walls, stages = [], {}
        for _ in range(args.runs):
            t = time.perf_counter()
            rep = det.analyze(clip)
            walls.append(time.perf_counter() - t)
            for k, v in rep.timings.items():
                stages.setdefault(k, []).append(v)
        med = statistics.median(walls)
        dur = max(rep.media.analysed_duration_s, 1e-6)
        split = " ".join(f"{k}={statistics.median(v):.2f}" for k, v in stages.items() if not k.startswith("ingest_"))
        print(f"{clip.name[:40]:<40} {dur:>6.1f} {med:>9.2f} {med / dur:>6.3f}  {split}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
