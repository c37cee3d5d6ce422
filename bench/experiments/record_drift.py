"""Does the code of today still measure what the shipped fusion was fitted on? Re-measures a sample of the records
file's files with ``Detector.record`` and compares: per-evidence change, the shipped heads' score change, and any real
file now over its "likely manipulated" line. Run after any change to ingest, faces or evidence.

    python bench/experiments/record_drift.py .cache/records-frames.jsonl [--n 30] [--json OUT]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import vaedetect  # noqa: E402
from vaedetect.fusion import probability  # noqa: E402
from vaedetect.scoring import load_learned  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("records")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=30, help="files per group (real videos, fake videos, photos)")
    ap.add_argument("--json")
    args = ap.parse_args()
    recs = [json.loads(line) for line in Path(args.records).read_text().splitlines()]
    key = lambda r: hashlib.sha1(r["path"].encode()).hexdigest()  # noqa: E731
    groups = {
        "real_videos": [r for r in recs if not r["label"] and not r["is_image"]],
        "fake_videos": [r for r in recs if r["label"] and not r["is_image"]],
        "photos": [r for r in recs if r["is_image"]],
    }
    det = vaedetect.load_detector()
    heads = load_learned(det.bundle.calibration)
    out, t0 = {}, time.time()
    for name, rows in groups.items():
        rows = sorted(rows, key=key)[: args.n]
        d_score, over, dz = [], 0, {}
        for r in rows:
            new = det.record(Path(args.data) / r["path"])
            lh = heads["photo" if r["is_image"] else "video"]
            p_old, p_new = probability(lh.fusion, r), probability(lh.fusion, new)
            d_score.append(p_new - p_old)
            over += int(not r["label"] and p_new >= lh.head.fake)
            for k in set(r["values"]) | set(new["values"]):
                a, b = r["values"].get(k), new["values"].get(k)
                if a is not None and b is not None:
                    dz.setdefault(k, []).append(abs(b - a))
        d = np.abs(d_score)
        out[name] = {
            "n": len(rows),
            "score_change_median": float(np.median(d)),
            "score_change_max": float(d.max()),
            "files_score_moved_over_0.05": int((d > 0.05).sum()),
            "real_over_fake_line_now": over,
            "median_abs_change_per_evidence": {k: round(float(np.median(v)), 4) for k, v in sorted(dz.items())},
        }
        print(name, json.dumps(out[name]), f"{time.time() - t0:.0f}s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
