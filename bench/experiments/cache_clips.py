"""Ingest every file of ``../shared/data`` once and keep what evidence research needs, in an ignored folder.

Per file: the shipped bundle's raw evidence and z-scores (the exact inference path, ``Detector.measure``), landmarks,
face sizes, quality measures (frame size, bitrate, quantiser, JPEG quality), and the first ``--max-crops`` cue crops
(``--crop-px``, the face track's own, from where the analysis starts). Nothing here is shipped;
``bench/generalisation.py`` reads it.

    python bench/cache_clips.py --data ../shared/data --out .cache/gen [--workers 2] [--only-split fakes]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

_detector = None


def key_of(rel: str) -> str:
    return hashlib.sha1(rel.encode()).hexdigest()[:16]


def _init(threads: int) -> None:
    import torch

    import vaedetect

    torch.set_num_threads(threads)
    global _detector
    _detector = vaedetect.load_detector()


def cache_one(job: tuple[dict, str, str, int, int]) -> tuple[str, str | None, float]:
    row, data_dir, out_dir, crop_px, max_crops = job
    from vaedetect import scoring
    from vaedetect.ingest import ingest

    out = Path(out_dir) / f"{key_of(row['path'])}.npz"
    if out.exists():
        return row["path"], None, 0.0
    t0 = time.perf_counter()
    path = Path(data_dir) / row["path"]
    try:
        det = _detector
        clip = ingest(path, det.limits, replace(det.face_config, cue_crop_px=crop_px))
        arr, skip, raw = det.measure(clip, keep_images=False)
        z = scoring.normalize(raw, det.bundle.calibration)
        f = clip.faces
        # the crops the cues are computed on (FaceMesh frames from where the analysis starts), frame numbers absolute
        idx, crops = arr.cue_idx[:max_crops] + skip, arr.cue_crops[:max_crops]
        info = clip.info
        meta = {
            "row": row,
            "kind": info.kind,
            "width": info.width,
            "height": info.height,
            "duration_s": info.duration_s,
            "bitrate_kbps": info.video_bitrate_kbps,
            "jpeg_quality": info.jpeg_quality,
            "quantizer": clip.quantizer,
            "size_bytes": info.size_bytes,
            "has_audio": info.has_audio,
            "has_speech": bool(clip.speech.has_speech),
            "max_faces": int(f.max_faces),
            "coverage": float(f.coverage),
            "skip": int(skip),
            "z": z,
            "raw": {k: getattr(raw, k) for k in ("face", "latent", "temporal", "audio", "sync", "blend")},
            "sync_offset": raw.sync_offset,
            "sync_confidence": raw.sync_confidence,
        }
        np.savez_compressed(
            out,
            meta=np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8),
            landmarks=f.landmarks.astype(np.float32),
            present=f.present,
            face_size_px=f.face_size_px,
            lip=f.lip_opening,
            crop_idx=idx,
            crops=crops,
            speech=clip.speech.speech,
            loudness_db=clip.speech.loudness_db,
            mel=clip.mel if clip.mel is not None else np.zeros((0, 0), np.float32),
            frame_scores=raw.frame_scores,
            frame_idx=raw.frame_idx,
            latents=raw.latents,
        )
        return row["path"], None, time.perf_counter() - t0
    except Exception as e:  # record and go on: one odd file must not stop a long cache run
        return row["path"], f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}", time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "gen"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--crop-px", type=int, default=256)
    ap.add_argument("--max-crops", type=int, default=60)
    ap.add_argument("--only-split", action="append")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(Path(args.data) / "manifest.csv") as fh:
        rows = list(csv.DictReader(fh))
    if args.only_split:
        rows = [r for r in rows if r["split"] in args.only_split]
    jobs = [(r, args.data, args.out, args.crop_px, args.max_crops) for r in rows]
    errors = {}
    t0 = time.time()
    with mp.get_context("spawn").Pool(args.workers, initializer=_init, initargs=(1,)) as pool:
        for n, (rel, err, dt) in enumerate(pool.imap_unordered(cache_one, jobs), 1):
            if err:
                errors[rel] = err
            if n % 20 == 0 or err:
                print(
                    f"{n}/{len(jobs)} {time.time() - t0:.0f}s {rel} {dt:.1f}s {'ERR ' + err[:200] if err else ''}",
                    flush=True,
                )
    (Path(args.out) / "errors.json").write_text(json.dumps(errors, indent=1))
    print(f"done {len(jobs)} files, {len(errors)} errors, {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
