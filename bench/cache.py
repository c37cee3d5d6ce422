"""Ingest every labelled file of ``../shared/data`` once and keep what evidence research and the fit need.

Per file (one ``.npz`` in an ignored folder): the detector's record (:meth:`vaedetect.detector.Detector.record_clip`:
the seeds' evidence, region cues, quality, frames as photos), CLIP embeddings of a few aligned faces and whole frames,
the FaceMesh landmarks where the mesh ran, the face/speech masks and the 16 kHz audio. Nothing here is shipped;
``bench/generalisation.py`` and ``vaedetect.training.evidence_fit`` read it.

    python bench/cache.py [--data ../shared/data] [--out .cache/evidence] [--workers 2]
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACE_SAMPLES = 8  # aligned faces per video that CLIP reads
_detector = None


def key_of(rel: str) -> str:
    return hashlib.sha1(rel.encode()).hexdigest()[:16]


def _init(threads: int) -> None:
    import torch

    import vaedetect
    from vaedetect import pretrained

    torch.set_num_threads(threads)
    pretrained.THREADS = threads
    global _detector
    _detector = vaedetect.load_detector()


def cache_one(job: tuple[dict, str, str]) -> tuple[str, str | None, float]:
    from vaedetect import pretrained
    from vaedetect.ingest import ingest

    row, data_dir, out_dir = job
    out = Path(out_dir) / f"{key_of(row['path'])}.npz"
    if out.exists():
        return row["path"], None, 0.0
    t0 = time.perf_counter()
    try:
        det = _detector
        clip = ingest(Path(data_dir) / row["path"], det.limits, det.face_config, pool=det.faces)
        arr, skip = det._arrays(clip)
        record = det.record_clip(clip)
        crops = arr.cue_crops if arr.cue_crops is not None else np.zeros((0, 256, 256, 3), np.uint8)
        pick = np.unique(np.round(np.linspace(0, len(crops) - 1, FACE_SAMPLES)).astype(int)) if len(crops) else []
        faces = np.stack([pretrained.clip_input(crops[j]) for j in pick]) if len(pick) else np.zeros((0, 224, 224, 3))
        f = clip.faces
        mesh = np.flatnonzero(np.isfinite(f.landmarks[:, 0, 0]))
        meta = {
            "row": row,
            "kind": clip.info.kind,
            "width": clip.info.width,
            "height": clip.info.height,
            "duration_s": clip.info.duration_s,
            "has_audio": clip.info.has_audio,
            "has_speech": bool(clip.speech.has_speech),
            "max_faces": int(f.max_faces),
            "coverage": float(f.coverage),
            "skip": int(skip),
            "face_frames": (arr.cue_idx[pick] + skip).tolist() if len(pick) else [],
            "record": record,
        }
        wav = clip.audio if clip.audio is not None else np.zeros(0, np.float32)
        np.savez_compressed(
            out,
            meta=np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8),
            face_clip=pretrained.clip_embed(faces.astype(np.uint8)),
            frame_clip=pretrained.clip_embed(clip.stills),
            faces=faces.astype(np.uint8),
            stills=clip.stills,
            mesh_idx=mesh,
            landmarks=f.landmarks[mesh].astype(np.float16),
            present=f.present,
            face_size_px=f.face_size_px,
            lip=f.lip_opening,
            speech=clip.speech.speech,
            audio=(np.clip(wav, -1, 1) * 32767).astype(np.int16),
        )
        return row["path"], None, time.perf_counter() - t0
    except Exception as e:  # record and go on: one odd file must not stop a long cache run
        return row["path"], f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}", time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "evidence"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(Path(args.data) / "manifest.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("label") in ("real", "fake")]
    jobs = [(r, args.data, args.out) for r in rows]
    errors = {}
    t0 = time.time()
    with mp.get_context("spawn").Pool(args.workers, initializer=_init, initargs=(1,)) as pool:
        for n, (rel, err, dt) in enumerate(pool.imap_unordered(cache_one, jobs), 1):
            if err:
                errors[rel] = err
            if n % 20 == 0 or err:
                print(f"{n}/{len(jobs)} {time.time() - t0:.0f}s {rel} {dt:.1f}s {'ERR ' + err[:300] if err else ''}",
                      flush=True)  # fmt: skip
    (Path(args.out) / "errors.json").write_text(json.dumps(errors, indent=1))
    print(f"done {len(jobs)} files, {len(errors)} errors, {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
