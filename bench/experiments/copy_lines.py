"""Rule 10 of ``bench/results/2026-12-01-rules.md``: are re-shared copies of real videos over the video head's
"likely manipulated" line, and what does raising it above them cost?

Real copies (``bench/experiments/reshare_records.py``) are scored by the video head fitted on originals without their
identity fold; fake videos and fake copies by the head fitted on every original (in-sample: the point is the line's
cost).

    python bench/experiments/copy_lines.py .cache/records-frames.jsonl .cache/records-reshared.jsonl [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vaedetect.fusion import fit_heads, fit_records, head_features, out_of_fold, probability  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("originals")
    ap.add_argument("copies")
    ap.add_argument("--json")
    args = ap.parse_args()
    originals = [json.loads(line) for line in Path(args.originals).read_text().splitlines()]
    copies = [json.loads(line) for line in Path(args.copies).read_text().splitlines()]
    before = fit_heads(originals)["video"]["thresholds"]["fake"]
    after = fit_heads(originals + copies)["video"]["thresholds"]["fake"]
    feats = head_features("video")
    train = [r for r in originals if not r["is_image"]]

    real_copies = [r for r in copies if not r["label"] and not r["is_image"]]
    oof_a = out_of_fold(train, real_copies, feats)
    full = fit_records(train, feats)
    fakes = np.array([probability(full, r) for r in train if r["label"]])
    fake_copies = np.array([probability(full, r) for r in copies if r["label"] and not r["is_image"]])
    out = {
        "n_real_copies": len(oof_a),
        "line_before": before,
        "line_after": after,
        "real_copies_over_line_before": int((oof_a >= before).sum()),
        "real_copies_over_line_after": int((oof_a >= after).sum()),
        "fake_videos_over_line_in_sample": {
            "before": float((fakes >= before).mean()),
            "after": float((fakes >= after).mean()),
        },
        "fake_copies_over_line_in_sample": {
            "before": float((fake_copies >= before).mean()),
            "after": float((fake_copies >= after).mean()),
        },
    }
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
