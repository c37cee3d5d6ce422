"""Audio-offset accuracy on real clips with a known artificial shift, decoded end to end (not from the training cache).

    .venv/bin/python bench/experiments/offsets.py [--checkpoint X] [--landmark-every 1 2] [--max-clips 30] [--cv]
        [--window-s 3]

Takes the validation clips the bundle records (identity-disjoint from training) that have speech, shifts their audio
by -10, -5, +5 and +10 frames, and reports how often the estimated offset is within one frame of the shift:
``abs`` assumes each recording was in sync, ``rel`` compares with the same clip's unshifted estimate (separating
"finds the shift" from "this recording or speaker is not at exactly 0"), ``model`` is the alignment model alone
without the lip-from-voice cue. With several ``--landmark-every`` values it shows what interpolating landmarks between
FaceMesh frames (a speed option in :class:`vaedetect.faces.FaceConfig`) costs.

``--window-s S`` scores non-overlapping S-second pieces of those clips instead of whole clips: short clips carry
less speech, and this shows what that costs.

``--cv`` also refits lip-from-voice leaving one identity out at a time over *all* real clips with speech (training
ones included) and scores the left-out clips with it alone: a larger, less lucky sample than the validation clips.
"""

from __future__ import annotations

import argparse
import csv
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
SHIFTS = (-10, -5, 5, 10)


@functools.cache
def _ingest(path: Path, every: int):
    """One clip decoded once per landmark setting (the cross-validation reuses the held-out clips); None if unusable."""
    from vaedetect.errors import InputError
    from vaedetect.evidence import ClipArrays
    from vaedetect.faces import FaceConfig
    from vaedetect.ingest import ingest

    try:
        return ClipArrays.from_clip(ingest(path, face_config=FaceConfig(landmark_every=every)))
    except InputError:
        return None


def _ingest_all(paths: list[Path], every: int) -> tuple[list, float]:
    t0 = time.perf_counter()
    arrays = [a for p in paths if (a := _ingest(p, every)) is not None]
    return arrays, (time.perf_counter() - t0) / max(len(arrays), 1)


def _windows(arrays: list, seconds: float | None) -> list:
    """Non-overlapping pieces of ``seconds`` (whole clips when None); audio cut to match the video frames."""
    if not seconds:
        return arrays
    n = round(seconds * 25)
    return [a.frames(st, st + n) for a in arrays if a.mel is not None for st in range(0, a.n_frames - n + 1, n)]


def _lipvoice_offset(model, a, shift: int, max_offset: int) -> int:
    b = a.audio_shifted(shift)
    return int(np.nanargmax(model.curve(b.lip, b.mel, b.speech, b.present, max_offset))) - max_offset


def _cross_validated(max_offset: int, every: int) -> dict[str, float | int]:
    """Lip-from-voice alone, refitted without each identity in turn, on every real clip with speech."""
    from vaedetect.models.lipvoice import fit_lipvoice

    with (DATA / "manifest.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["path"].startswith("real/") and r["has_audio"] == "1"]
    decoded = [(r["identity"] or r["path"], _ingest(DATA / r["path"], every)) for r in rows]
    clips = [(i, a) for i, a in decoded if a is not None and a.mel is not None and a.speech.sum() >= 25]
    hits, rel = [], []
    for ident in sorted({i for i, _ in clips}):
        train = [(a.lip, a.mel, a.speech, a.present) for i, a in clips if i != ident]
        model = fit_lipvoice(train)
        for _, a in (c for c in clips if c[0] == ident):
            base = _lipvoice_offset(model, a, 0, max_offset)
            for s in SHIFTS:
                e = _lipvoice_offset(model, a, s, max_offset)
                hits.append(abs(e - s) <= 1)
                rel.append(abs(e - base - s) <= 1)
    return {"clips": len(clips), "identities": len({i for i, _ in clips}), "abs": np.mean(hits), "rel": np.mean(rel)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--landmark-every", type=int, nargs="+", default=[2])
    ap.add_argument("--max-clips", type=int, default=30)
    ap.add_argument("--cv", action="store_true", help="also cross-validate lip-from-voice over all speech clips")
    ap.add_argument("--window-s", type=float, help="score non-overlapping pieces of this many seconds")
    args = ap.parse_args()

    import vaedetect
    from vaedetect.evidence import RawEvidence, sync_evidence
    from vaedetect.training.offsets import offset_accuracy

    det = vaedetect.load_detector(args.checkpoint)
    val = det.bundle.config.data.get("split", {}).get("val", [])
    paths = [DATA / p for p in val if p.startswith("real/")][: args.max_clips]
    if not paths:
        sys.exit("the bundle records no validation clips with sound (or ../shared/data is missing)")
    has_cue = det.bundle.lipvoice is not None
    print(f"{len(paths)} held-out real clips; bundle {det.bundle_name}; lip-from-voice cue: {has_cue}")
    head = ("landmark_every", "n", "abs", "rel", "model", "median err", "sync raw (median)", "s/clip")
    print("{:>14} {:>4} {:>6} {:>6} {:>6} {:>11} {:>18} {:>7}".format(*head))
    nan = float("nan")
    for every in args.landmark_every:
        arrays, per_clip = _ingest_all(paths, every)
        arrays = _windows(arrays, args.window_s)
        acc = offset_accuracy(det.bundle, arrays, SHIFTS)
        sync = []
        for a in arrays:
            sync_evidence(det.bundle, a, ev := RawEvidence())  # the alignment step only
            if ev.sync is not None:
                sync.append(ev.sync)
        rates = [acc[k] or nan for k in ("within_1_frame", "within_1_frame_relative", "within_1_frame_model_only")]
        print(
            f"{every:>14} {acc['n']:>4} {rates[0]:>6.3f} {rates[1]:>6.3f} {rates[2]:>6.3f} "
            f"{acc['median_abs_error_frames'] or nan:>11.1f} "
            f"{statistics.median(sync) if sync else nan:>18.4f} {per_clip:>7.2f}"
        )
    if args.cv:
        cv = _cross_validated(det.bundle.config.sync.max_offset, args.landmark_every[0])
        print(
            f"lip-from-voice alone, leave-one-identity-out over {cv['clips']} clips / {cv['identities']} identities: "
            f"abs {cv['abs']:.3f}, rel {cv['rel']:.3f} (n={4 * cv['clips']})"
        )


if __name__ == "__main__":
    main()
