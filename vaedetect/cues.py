"""Forensic cues: how one part of a face differs from another part of the same face, on the same frame.

Why region *ratios*: the first bundle's evidence followed image detail (a sharp real face looked more anomalous than a
soft generated one). Re-sharing, blur or a small face change the detail of the whole frame alike, so a ratio between
two regions of one face cancels them to first order, while the fakes people meet leave a *local* footprint:
- lip-sync generators (Wav2Lip and kin) redraw the lower face at their own resolution and paste it back, so its
  detail, noise and colour differ from the upper face they left alone (LIPINC; LipForensics);
- face swaps paste an inner face onto a real head, so detail and noise inside the face outline differ from the ring
  just outside it, and the outline itself carries a seam (SBI; Face X-ray);
- whole-face generators (talking heads) render the face smoother than the hair and background around it, and its
  texture flickers over time.
Every cue is computed per frame on an aligned crop; a clip's cue is a robust aggregate over frames. Signs are not
assumed here: scoring normalises each cue against real footage and the fusion learns how much each counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from vaedetect.faces import FACE_OVAL, LIPS, keypoints_of, landmarks_in_crop

# Per-frame cues (photos have these too) and clip-only cues (need several frames).
FRAME_CUES = (
    "lower_upper_detail",
    "lower_upper_noise",
    "lower_upper_colour",
    "mouth_upper_detail",
    "face_ring_detail",
    "face_ring_noise",
    "seam",
)
CLIP_CUES = ("lower_upper_flicker", "face_ring_flicker")
CUES = FRAME_CUES + CLIP_CUES

_EPS = 1e-3
_MIN_PIXELS = 80  # a region smaller than this in the crop gives no number (profile views, faces cut by the frame)


@dataclass
class Regions:
    """Boolean masks in crop coordinates."""

    inner: np.ndarray
    ring: np.ndarray
    outline: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    mouth: np.ndarray


def regions(landmarks: np.ndarray, crop_px: int) -> Regions:
    """Face regions of an aligned crop, from the frame's 468 landmarks (the crop's own similarity transform)."""
    pts = landmarks_in_crop(landmarks, crop_px)
    oval = np.zeros((crop_px, crop_px), np.uint8)
    cv2.fillPoly(oval, [np.round(pts[list(FACE_OVAL)]).astype(np.int32)], 1)

    # Distances in pixels to the outline, inside and outside (one transform each beats repeated morphology).
    d_in = cv2.distanceTransform(oval, cv2.DIST_L2, 3)
    d_out = cv2.distanceTransform(1 - oval, cv2.DIST_L2, 3)
    inner = d_in > 0.04 * crop_px
    ring = (d_out > 0.015 * crop_px) & (d_out <= 0.08 * crop_px)
    outline = ((oval > 0) & (d_in <= 0.015 * crop_px)) | ((oval == 0) & (d_out <= 0.015 * crop_px))
    y = np.arange(crop_px)[:, None] * np.ones((1, crop_px))
    eye_y = float(pts[[33, 133, 362, 263], 1].mean())
    nose_y = float(pts[1, 1])
    mouth_y = float(pts[[13, 14], 1].mean())
    upper = inner & (y < (eye_y + nose_y) / 2)
    lower = inner & (y > (nose_y + mouth_y) / 2)
    mouth = np.zeros((crop_px, crop_px), np.uint8)
    cv2.fillPoly(mouth, [cv2.convexHull(np.round(pts[list(LIPS)]).astype(np.int32))], 1)
    mouth = cv2.distanceTransform(1 - mouth, cv2.DIST_L2, 3) <= 0.03 * crop_px
    return Regions(inner=inner, ring=ring, outline=outline, upper=upper, lower=lower, mouth=mouth)


def _gray(crop: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _detail(gray: np.ndarray) -> np.ndarray:
    return np.abs(cv2.Laplacian(gray, cv2.CV_32F, ksize=3))


def _noise(crop: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return np.abs(g.astype(np.float32) - cv2.medianBlur(g, 3).astype(np.float32))


def _mean(x: np.ndarray, mask: np.ndarray) -> float | None:
    return float(x[mask].mean()) if mask.sum() >= _MIN_PIXELS else None


def _log_ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None:
        return float("nan")
    return float(np.log((a + _EPS) / (b + _EPS)))


def frame_cues(crop: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """The per-frame cues of one aligned RGB crop (NaN where a region is missing)."""
    r = regions(landmarks, crop.shape[0])
    gray = _gray(crop)
    return _frame_cues(crop, r, gray, _detail(gray))


def _frame_cues(crop: np.ndarray, r: Regions, gray: np.ndarray, det: np.ndarray) -> dict[str, float]:
    noi = _noise(crop)
    ycc = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    grad = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))

    def chroma(mask: np.ndarray) -> np.ndarray | None:
        return ycc[mask][:, 1:].mean(axis=0) if mask.sum() >= _MIN_PIXELS else None

    cl, cu = chroma(r.lower), chroma(r.upper)
    return {
        "lower_upper_detail": _log_ratio(_mean(det, r.lower), _mean(det, r.upper)),
        "lower_upper_noise": _log_ratio(_mean(noi, r.lower), _mean(noi, r.upper)),
        "lower_upper_colour": float(np.linalg.norm(cl - cu)) if cl is not None and cu is not None else float("nan"),
        "mouth_upper_detail": _log_ratio(_mean(det, r.mouth), _mean(det, r.upper)),
        "face_ring_detail": _log_ratio(_mean(det, r.inner), _mean(det, r.ring)),
        "face_ring_noise": _log_ratio(_mean(noi, r.inner), _mean(noi, r.ring)),
        "seam": _log_ratio(_mean(grad, r.outline), _mean(grad, r.inner)),
    }


def _flicker(d0: np.ndarray, d1: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Frame-to-frame change of fine texture in region ``a`` relative to region ``b`` (both masks of frame 0)."""
    diff = np.abs(d1 - d0)
    return _log_ratio(_mean(diff, a), _mean(diff, b))


def clip_cues(crops: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """Cues of a sequence of aligned crops (``landmarks[i]`` belongs to ``crops[i]``): per-frame cues' medians plus
    the temporal ones. A photo (one crop) gets NaN for the temporal cues."""
    rs = [regions(lm, c.shape[0]) for c, lm in zip(crops, landmarks, strict=True)]
    grays = [_gray(c) for c in crops]
    dets = [_detail(g) for g in grays]
    per = [_frame_cues(c, r, g, d) for c, r, g, d in zip(crops, rs, grays, dets, strict=True)]
    out = {k: _nanmedian([p[k] for p in per]) for k in FRAME_CUES}
    lu, fr = [], []
    for i in range(len(crops) - 1):
        lu.append(_flicker(dets[i], dets[i + 1], rs[i].lower, rs[i].upper))
        fr.append(_flicker(dets[i], dets[i + 1], rs[i].inner, rs[i].ring))
    out["lower_upper_flicker"] = _nanmedian(lu)
    out["face_ring_flicker"] = _nanmedian(fr)
    return out


def face_sharpness(crops: np.ndarray) -> float | None:
    """Median variance of the Laplacian over cue crops: how much fine detail the face has (a quality measure, not a
    cue: re-sharing changes it, so the fusion corrects evidence for it)."""
    if not len(crops):
        return None
    return float(np.median([cv2.Laplacian(_gray(c), cv2.CV_32F).var() for c in crops]))


COMPLEXITY_CROPS = 16  # evenly spread crops a code length is measured on (each costs a PNG encoding)


def code_length(crops: np.ndarray, px: int | None = None) -> float | None:
    """Median lossless code length (PNG, bits per pixel) of up to :data:`COMPLEXITY_CROPS` evenly spread crops,
    resized (area) to ``px`` first when given: how hard the face is to compress at the scale an evidence reads it.
    A quality measure, not a cue: the generic-compressor complexity Serrà et al. (ICLR 2020) take out of a
    likelihood score, since reconstruction error follows it (rule 22 of bench/results/2026-12-01-rules.md)."""
    if not len(crops):
        return None
    pick = np.unique(np.round(np.linspace(0, len(crops) - 1, min(len(crops), COMPLEXITY_CROPS))).astype(int))
    bits = []
    for c in crops[pick]:
        if px is not None and c.shape[0] != px:
            c = cv2.resize(c, (px, px), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".png", np.ascontiguousarray(c))
        if ok:
            bits.append(8.0 * buf.size / (c.shape[0] * c.shape[1]))
    return float(np.median(bits)) if bits else None


def head_speed(landmarks: np.ndarray) -> float | None:
    """How fast the head moves: the median landmark displacement per frame between consecutive FaceMesh frames (NaN
    rows where FaceMesh did not run; a gap of more than 2 frames is not one step), in inter-ocular distances. Content,
    not manipulation, yet some evidence follows it (bench/experiments/motion_confound.py); None under 5 steps."""
    valid = np.flatnonzero(~np.isnan(landmarks).any(axis=(1, 2)))
    steps = []
    for i, j in pairwise(valid):
        if j - i > 2:
            continue
        a, b = landmarks[i], landmarks[j]
        eyes = keypoints_of(a)[:2]
        iod = float(np.linalg.norm(eyes[0] - eyes[1]))
        if iod > 1:
            steps.append(float(np.median(np.linalg.norm(b - a, axis=1))) / iod / (j - i))
    return float(np.median(steps)) if len(steps) >= 5 else None


def _nanmedian(values: list[float]) -> float:
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")
