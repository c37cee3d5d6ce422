"""Ingest benchmark: wall time of ``inspect`` per clip divided by clip duration (real-time factor), and peak RSS.

    .venv/bin/python bench/experiments/ingest.py [CLIPS...]      # default: every clip in ../shared/data/real

Each clip runs in a fresh subprocess so peak RSS (ru_maxrss of the child) is per clip. Numbers, not pass/fail.
Targets on a 2-core CPU: 10 s 720p clip <= 0.15x real time; peak RSS <= 800 MB for a 60 s clip.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "real"
CHILD = (
    "import json,resource,sys,time;from vaedetect.ingest import ingest;t=time.perf_counter();"
    "s=ingest(sys.argv[1]).summary();w=time.perf_counter()-t;"
    "print(json.dumps({'wall_s':w,'duration_s':s['analysed_duration_s'],'size':[s['width'],s['height']],"
    "'rss_mb':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))"
)


def main(argv: list[str]) -> None:
    clips = [Path(a) for a in argv] or sorted(DATA.glob("*.mp4"))
    rows = []
    print(f"{'clip':<44} {'size':>9} {'dur s':>6} {'wall s':>7} {'RTF':>6} {'RSS MB':>7}")
    for clip in clips:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, str(clip)], cwd=REPO, capture_output=True, text=True)
        if out.returncode:
            print(f"{clip.name:<44} FAILED: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["rtf"] = r["wall_s"] / max(r["duration_s"], 1e-6)
        r["clip"] = clip.name
        rows.append(r)
        print(
            f"{clip.name[:44]:<44} {r['size'][0]:>4}x{r['size'][1]:<4} {r['duration_s']:>6.1f} {r['wall_s']:>7.2f} "
            f"{r['rtf']:>6.3f} {r['rss_mb']:>7.0f}  (process {time.perf_counter() - t0:.1f} s)"
        )
    if rows:
        tot_wall = sum(r["wall_s"] for r in rows)
        tot_dur = sum(r["duration_s"] for r in rows)
        print(
            f"overall: {len(rows)} clips, {tot_dur:.1f} s of video in {tot_wall:.1f} s, "
            f"RTF {tot_wall / tot_dur:.3f}; "
            f"max peak RSS {max(r['rss_mb'] for r in rows):.0f} MB"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
