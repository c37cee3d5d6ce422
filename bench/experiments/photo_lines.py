"""Rule 9 of ``bench/results/2026-12-01-rules.md``: does the photo head's "likely manipulated" line hold for frames of
real videos sent as photos, and what does setting it on them too cost?

Every real photo and every real video's frames (``record["frames"]``, see ``Detector.record``) is scored by a photo
head fitted without its identity fold; the lines are set as ``fusion.fit_heads`` sets them, once on real photos only
(the head before rule 9) and once on real photos and real frames. Fake photos and fake frames are scored by the head
fitted on everything (in-sample: the point is the lines' cost, not the head's accuracy, which is measured
leave-one-family-out by ``bench/generalisation.py --frames``).

    python bench/generalisation.py --frames --dump-records .cache/records-frames.jsonl
    python bench/photo_lines.py .cache/records-frames.jsonl [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vaedetect.fusion import (  # noqa: E402
    UNCERTAIN_FPR,
    fit_records,
    head_features,
    out_of_fold,
    probability,
    real_frames,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("records", nargs="+", help="JSON lines files (joined)")
    ap.add_argument("--json")
    args = ap.parse_args()
    records = [json.loads(line) for f in args.records for line in Path(f).read_text().splitlines()]
    feats = head_features("photo")
    photos = [r for r in records if r["is_image"] and not r["label"]]
    frames = real_frames(records)
    op, of = out_of_fold(records, photos, feats), out_of_fold(records, frames, feats)
    full = fit_records(records, feats)
    fake_photos = np.array([probability(full, r) for r in records if r["is_image"] and r["label"]])
    fake_frames = np.array(
        [probability(full, f) for r in records if r["label"] and not r["is_image"] for f in r.get("frames", [])]
    )
    out = {"n_real_photos": len(op), "n_real_frames": len(of), "n_fake_photos": len(fake_photos),
           "n_fake_frames": len(fake_frames)}  # fmt: skip
    variants = (("lines_on_photos (before rule 9)", op), ("lines_on_photos_and_frames (rule 9)", np.r_[op, of]))
    for name, reals in variants:
        fake_line = float(np.nextafter(reals.max(), 1.0))
        uncertain = float(np.quantile(reals, 1 - UNCERTAIN_FPR))
        out[name] = {
            "uncertain_line": uncertain,
            "fake_line": fake_line,
            "oof_real_frames_over_fake_line": int((of >= fake_line).sum()),
            "oof_real_frames_at_or_over_uncertain": float((of >= uncertain).mean()),
            "oof_real_photos_at_or_over_uncertain": float((op >= uncertain).mean()),
            "fake_photos_over_fake_line_in_sample": float((fake_photos >= fake_line).mean()),
            "fake_frames_over_fake_line_in_sample": float((fake_frames >= fake_line).mean()),
            "fake_photos_at_or_over_uncertain_in_sample": float((fake_photos >= uncertain).mean()),
            "fake_frames_at_or_over_uncertain_in_sample": float((fake_frames >= uncertain).mean()),
        }
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
