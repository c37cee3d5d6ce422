"""Photo memory benchmark: peak RSS of analysing the largest photo the limits accept. Numbers, not pass/fail.

    .venv/bin/python bench/photo_memory.py [--width 8192 --height 6100] [--checkpoint X]

Issue 34's photo: an RGBA PNG of 8192x6100 (50 MP, a few hundred kB) made row by row by
``tests/media_factory.write_big_rgba_png``. A fresh child process loads the detector, analyses a small photo first
(first-call allocations are not the photo's), then the big one, and reports its peak RSS (``ru_maxrss``) before and
after; the growth is what one such upload costs the app, to compare with ``media.decode_bytes`` (the decode's stated
budget, ``vaedetect/media/limits.py``). ``tests/test_media.py`` checks the decode alone against that budget.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

CHILD = """
import json, resource, sys, time
import numpy as np
from PIL import Image
import vaedetect
from vaedetect import media
det = vaedetect.load_detector(sys.argv[3] or None)
Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(sys.argv[2])
det.analyze(sys.argv[2])
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before, t0 = rss(), time.perf_counter()
report = det.analyze(sys.argv[1])
print(json.dumps({"rss_before_mb": round(before), "rss_peak_mb": round(rss()), "growth_mb": round(rss() - before),
                  "seconds": round(time.perf_counter() - t0, 1), "verdict": report.verdict,
                  "decode_budget_mb": round(media.decode_bytes(media.MediaLimits()) / 2**20)}))
"""


def main() -> None:
    from media_factory import write_big_rgba_png

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=8192)
    parser.add_argument("--height", type=int, default=6100)
    parser.add_argument("--checkpoint", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        png = write_big_rgba_png(Path(tmp) / "big.png", args.width, args.height)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(png), str(Path(tmp) / "small.png"), args.checkpoint],
            capture_output=True, text=True, cwd=ROOT, check=True,
        )  # fmt: skip
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result |= {"photo": f"{args.width}x{args.height} RGBA PNG", "file_kb": round(png.stat().st_size / 1024)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
