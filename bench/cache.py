"""Measure every labelled file of ``../shared/data`` once (:func:`vaedetect.training.records.measure_all`), into an
ignored folder that ``bench/generalisation.py`` and ``train`` read.

    python bench/cache.py [--data ../shared/data] [--out .cache/evidence] [--workers 2] [--bundle NAME|DIR] [--reshared]
    python bench/cache.py --reembed    # only embed the stored CLIP inputs again (after a change to how CLIP embeds)
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaedetect.training.records import measure_all, reembed_all  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "evidence"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bundle", help="the bundle whose seeds' evidence is recorded (default: the bundled one)")
    ap.add_argument("--reshared", action="store_true", help="also one re-shared copy of every real file (for lines)")
    ap.add_argument("--reembed", action="store_true", help="embed the cached faces and stills again, nothing else")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()
    if args.reembed:
        failed = reembed_all(Path(args.out), workers=args.workers)
        print(f"re-embedded in {time.time() - t0:.0f} s, {len(failed)} errors")
        return
    errors = measure_all(
        Path(args.data), Path(args.out), bundle=args.bundle, workers=args.workers, reshared=args.reshared
    )
    print(f"done in {time.time() - t0:.0f} s, {len(errors)} errors")


if __name__ == "__main__":
    main()
