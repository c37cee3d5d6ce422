"""Alignment-model offset accuracy on held-out real clips, decoded end to end (not from the training cache).

    .venv/bin/python bench/offsets.py [--checkpoint X] [--landmark-every 1 2] [--max-clips 30]

Takes the validation clips the bundle records (identity-disjoint from training) that have speech, shifts their audio
by -10, -5, +5 and +10 frames, and reports how often the estimated offset is within one frame, the median error, and
the sync evidence on the unshifted clips. With several ``--landmark-every`` values it shows what interpolating
landmarks between FaceMesh frames (a speed option in :class:`vaedetect.faces.FaceConfig`) costs in accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--landmark-every", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--max-clips", type=int, default=30)
    args = ap.parse_args()

    import vaedetect
    from vaedetect.errors import InputError
    from vaedetect.evidence import ClipArrays, compute_evidence
    from vaedetect.faces import FaceConfig
    from vaedetect.ingest import ingest
    from vaedetect.train import offset_accuracy

    det = vaedetect.load_detector(args.checkpoint)
    val = det.bundle.config.data.get("split", {}).get("val", [])
    paths = [DATA / p for p in val if p.startswith("real/")][: args.max_clips]
    if not paths:
        sys.exit("the bundle records no validation clips with sound (or ../shared/data is missing)")
    print(f"{len(paths)} held-out real clips with sound; bundle {det.bundle_name}")
    head = ("landmark_every", "n", "within 1 frame", "median err", "sync raw (median)", "s/clip")
    print("{:>14} {:>4} {:>15} {:>11} {:>18} {:>7}".format(*head))
    for every in args.landmark_every:
        arrays, t0 = [], time.perf_counter()
        for p in paths:
            try:
                clip = ingest(p, face_config=FaceConfig(landmark_every=every))
            except InputError:
                continue
            f = clip.faces
            arrays.append(ClipArrays(f.face_crops, f.present, f.mouth_crops, clip.mel, clip.speech.speech))
        per_clip = (time.perf_counter() - t0) / max(len(arrays), 1)
        acc = offset_accuracy(det.bundle, arrays)
        evs = [compute_evidence(det.bundle, a, keep_images=False) for a in arrays]
        sync = [e.sync for e in evs if e.sync is not None]
        med_sync = statistics.median(sync) if sync else float("nan")
        print(
            f"{every:>14} {acc['n']:>4} {acc['within_1_frame'] or float('nan'):>15.3f} "
            f"{acc['median_abs_error_frames'] or float('nan'):>11.1f} {med_sync:>18.4f} {per_clip:>7.2f}"
        )


if __name__ == "__main__":
    main()
