"""Re-shared copies of labelled files: the ways clips travel, for the learned fusion's lines.

Real footage reaches the detector re-encoded, shrunk, softened or upscaled, and lines set on pristine real files only
were crossed by re-shared copies of them (bench/results/2026-12-01-rules.md, rules 7 and 10). Each labelled file gets
one copy whose transform and parameters are drawn from its path (reproducible, and spread over the four kinds); the
copy keeps its original's label, family and identity, so a held-out fold or family takes both. The parameters avoid
``bench/invariance.py``'s fixed ones (half size, CRF 35, σ=1 blur, quarter size upscaled), so that benchmark measures
copies no fit has seen.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np

KINDS = ("downscale", "recompress", "blur", "upscaled")
SUFFIX = "#reshared"  # a copy's record path: its original's path and this


def draw(path: str) -> dict:
    """The transform of ``path``'s copy: ``downscale`` ×0.4–0.75 (CRF 23–30), ``recompress`` CRF 30–38 (JPEG 30–60),
    ``blur`` σ 0.6–1.5 (CRF 23–28) or ``upscaled`` ×0.2–0.4 and back (CRF 23–28)."""
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
    """``t`` applied to a video with the ffmpeg that imageio-ffmpeg ships (H.264, AAC 64 kb/s)."""
    import imageio_ffmpeg

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
    """``t`` applied to a photo with OpenCV, saved as JPEG (quality 90 unless ``recompress``)."""
    import cv2

    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"unreadable photo: {src}")
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


def reshared_copy(src: Path, key: str, folder: Path, *, photo: bool) -> tuple[Path, dict]:
    """Write the copy of ``src`` (transform drawn from ``key``, its manifest path) into ``folder``."""
    t = draw(key)
    dst = folder / ("reshared.jpg" if photo else "reshared.mp4")
    (copy_photo if photo else copy_video)(src, dst, t)
    return dst, t
