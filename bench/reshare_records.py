"""One re-shared copy of every labelled file of ``../shared/data``, measured into fusion records (rule 7 of
``bench/results/2026-12-01-rules.md``).

Each file's transform and its parameters are drawn from the file's path hash, among ways clips travel, with
parameters *other than* ``bench/invariance.py``'s fixed ones, so that benchmark still measures copies the fit never saw:

- ``downscale``: ×0.4–0.75, then CRF 23–30;
- ``recompress``: CRF 30–38;
- ``blur``: Gaussian σ 0.6–1.5, then CRF 23–28;
- ``upscaled``: ×0.2–0.4 and back up (bicubic), then CRF 23–28.

Photos get the same with JPEG quality 90 (or 30–60 for ``recompress``). A copy carries its original's label, family,
identity and ties (``training.learned.record_of``), so leave-one-family-out and the identity folds hold it out with its
original; ``copy_of`` and ``transform`` say what it is. Nothing is shipped; the copies live in a temporary folder only
while they are measured.

    python bench/reshare_records.py [--out .cache/records-reshared.jsonl] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("downscale", "recompress", "blur", "upscaled")
_detector = None


def draw(path: str) -> dict:
    """The transform and parameters of ``path``'s copy, fixed by its name."""
    rng = np.random.default_rng(int(hashlib.sha1(f"reshare:{path}".encode()).hexdigest()[:12], 16))
    kind = KINDS[int(rng.integers(len(KINDS)))]
    t: dict = {"kind": kind, "crf": int(rng.integers(23, 31 if kind == "downscale" else 29))}
    if kind == "downscale":
        t["scale"] = round(float(rng.uniform(0.4, 0.75)), 3)
    elif kind == "recompress":
        t["crf"] = int(rng.integers(30, 39))
        t["jpeg_quality"] = int(rng.integers(30, 61))
    elif kind == "blur":
        t["sigma"] = round(float(rng.uniform(0.6, 1.5)), 3)
    else:
        t["scale"] = round(float(rng.uniform(0.2, 0.4)), 3)
    return t


def _even(expr: str) -> str:
    return f"trunc({expr}/2)*2"


def copy_video(src: Path, dst: Path, t: dict) -> None:
    vf = []
    if t["kind"] in ("downscale", "upscaled"):
        s = t["scale"]
        vf = [f"scale={_even(f'iw*{s}')}:{_even(f'ih*{s}')}"]
        if t["kind"] == "upscaled":
            vf.append(f"scale={_even(f'iw/{s}')}:{_even(f'ih/{s}')}:flags=bicubic")
    elif t["kind"] == "blur":
        vf = [f"gblur=sigma={t['sigma']}"]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), *(["-vf", ",".join(vf)] if vf else []),
           "-c:v", "libx264", "-preset", "veryfast", "-crf", str(t["crf"]), "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "64k", str(dst)]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=300, capture_output=True)


def copy_photo(src: Path, dst: Path, t: dict) -> None:
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("unreadable photo")
    h, w = img.shape[:2]
    quality = 90
    small_size = (max(int(w * t.get("scale", 1)), 2), max(int(h * t.get("scale", 1)), 2))
    if t["kind"] == "downscale":
        img = cv2.resize(img, small_size, interpolation=cv2.INTER_AREA)
    elif t["kind"] == "recompress":
        quality = t["jpeg_quality"]
    elif t["kind"] == "blur":
        img = cv2.GaussianBlur(img, (0, 0), t["sigma"])
    else:
        small = cv2.resize(img, small_size, interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, quality])


def _init() -> None:
    import torch

    import vaedetect

    torch.set_num_threads(1)
    global _detector
    _detector = vaedetect.load_detector()


def measure(job: tuple[dict, str]) -> tuple[dict | None, str | None, float]:
    from vaedetect.training.learned import record_of

    row, data_dir = job
    t0 = time.perf_counter()
    src = Path(data_dir) / row["path"]
    photo = row["split"] == "stills" or src.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    t = draw(row["path"])
    try:
        with tempfile.TemporaryDirectory(prefix="vaedetect-reshare-") as tmp:
            dst = Path(tmp) / ("copy.jpg" if photo else "copy.mp4")
            (copy_photo if photo else copy_video)(src, dst, t)
            rec = record_of(row, _detector.record(dst))
    except Exception as e:  # one odd file must not stop a long run; it is listed at the end
        return None, f"{row['path']}: {type(e).__name__}: {e}", time.perf_counter() - t0
    rec.update(path=row["path"] + "#reshared", copy_of=row["path"], transform=t)
    return rec, None, time.perf_counter() - t0


def main() -> None:
    from vaedetect.training.learned import labelled_rows

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "records-reshared.jsonl"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    done = {json.loads(line)["copy_of"] for line in out.read_text().splitlines()} if out.exists() else set()
    rows = [r for r in labelled_rows(Path(args.data)) if r["path"] not in done]
    # photos are quick: interleave so a partial run has every kind
    rows.sort(key=lambda r: hashlib.sha1(r["path"].encode()).hexdigest())
    print(f"{len(done)} done, {len(rows)} to measure", flush=True)
    errors, t0 = [], time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh, mp.get_context("spawn").Pool(args.workers, initializer=_init) as pool:
        for n, (rec, err, dt) in enumerate(pool.imap_unordered(measure, [(r, args.data) for r in rows]), 1):
            if rec is not None:
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
            else:
                errors.append(err)
            if n % 20 == 0 or err:
                print(f"{n}/{len(rows)} {time.time() - t0:.0f}s {dt:.1f}s {err or ''}", flush=True)
    print(f"done: {len(rows) - len(errors)} measured, {len(errors)} errors, {time.time() - t0:.0f}s")
    for e in errors:
        print("  ", e)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
