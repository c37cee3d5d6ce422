"""Synthetic talking faces for tests, made from a real photo a package ships (scikit-image's ``astronaut``).

FaceMesh does not track drawn cartoon faces, so we animate a real face instead: the jaw below the mouth line is
pulled down by a displacement field and the gap is painted as a dark mouth cavity. Loudness follows the same opening
curve, so lip opening and speech loudness correlate the way they do in real speech.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

# Geometry of the astronaut's face inside the 256 x 256 crop below (found once with FaceMesh, then fixed).
_CROP_Y0, _CROP_X0, CROP_PX = 20, 96, 256
_MOUTH_Y, _MOUTH_X = 126.0, 128.0
_MOUTH_HALF_W = 24.0
_CHIN_Y = 158.0
_JAW_HALF_W = 46.0


@lru_cache(maxsize=1)
def astronaut_face() -> np.ndarray:
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut()[_CROP_Y0 : _CROP_Y0 + CROP_PX, _CROP_X0 : _CROP_X0 + CROP_PX])


@lru_cache(maxsize=1)
def _grid() -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:CROP_PX, 0:CROP_PX].astype(np.float32)
    return xs, ys


def open_jaw(face: np.ndarray, opening_px: float) -> np.ndarray:
    """The face with its jaw pulled down by ``opening_px`` pixels and a dark gap between the lips."""
    if opening_px <= 0.05:
        return face.copy()
    xs, ys = _grid()
    # Weight 1 between mouth line and chin, fading below the chin and towards the jaw's sides.
    below = np.clip((ys - _MOUTH_Y + 2.0) / 4.0, 0, 1)
    fade = np.clip(1.0 - (ys - _CHIN_Y) / 30.0, 0, 1)
    side = np.clip(1.0 - (np.abs(xs - _MOUTH_X) - _JAW_HALF_W * 0.6) / (_JAW_HALF_W * 0.4), 0, 1)
    w = below * fade * side
    map_y = ys - opening_px * w
    out = cv2.remap(face, xs, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # Mouth cavity: an ellipse between the upper lip and the displaced lower lip.
    mask = np.zeros(face.shape[:2], dtype=np.uint8)
    center = (int(_MOUTH_X), round(_MOUTH_Y + opening_px / 2))
    axes = (int(_MOUTH_HALF_W * 0.8), max(1, round(opening_px / 2)))
    cv2.ellipse(mask, center, axes, 0, 0, 360, 255, -1)
    mask = cv2.GaussianBlur(mask, (5, 5), 0).astype(np.float32)[..., None] / 255.0
    cavity = np.array([60, 20, 25], dtype=np.float32)
    return (out * (1 - mask) + cavity * mask).astype(np.uint8)


def opening_curve(n_frames: int, fps: float = 25.0, syllable_hz: float = 3.0, seed: int = 0) -> np.ndarray:
    """Speech-like jaw opening (pixels, 0..~14): syllables at a few Hz with random amplitude and pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / fps
    base = np.clip(np.sin(2 * np.pi * syllable_hz * t + rng.uniform(0, np.pi)), 0, None)
    amp = np.repeat(rng.uniform(0.4, 1.0, size=n_frames // 8 + 1), 8)[:n_frames]
    pauses = np.repeat(rng.random(n_frames // 12 + 1) < 0.2, 12)[:n_frames]
    return (14.0 * base * amp * ~pauses).astype(np.float32)


def talking_face_frames(openings: np.ndarray, size_px: int = CROP_PX, jitter_px: float = 1.0) -> np.ndarray:
    """(T, H, W, 3) frames of the astronaut opening her jaw by ``openings`` pixels, with slight head jitter."""
    face = astronaut_face()
    rng = np.random.default_rng(1)
    frames = []
    for i, op in enumerate(openings):
        f = open_jaw(face, float(op))
        dx, dy = (rng.normal(0, jitter_px, 2) if jitter_px else (0.0, 0.0)) if i else (0.0, 0.0)
        m = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        f = cv2.warpAffine(f, m, (CROP_PX, CROP_PX), borderMode=cv2.BORDER_REFLECT)
        if size_px != CROP_PX:
            f = cv2.resize(f, (size_px, size_px), interpolation=cv2.INTER_AREA)
        frames.append(f)
    return np.stack(frames)


def speech_like_audio(openings: np.ndarray, fps: float = 25.0, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """A buzzy voiced sound whose loudness follows the jaw opening (louder when the mouth is open)."""
    rng = np.random.default_rng(seed)
    n = round(len(openings) / fps * sample_rate)
    t = np.arange(n) / sample_rate
    env = np.interp(t, np.arange(len(openings)) / fps, openings / max(float(openings.max()), 1e-6))
    f0 = 140.0 + 20.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    sig = env * (0.25 * voiced / 2.0 + 0.02 * rng.standard_normal(n))
    return sig.astype(np.float32)


def two_face_frames(n_frames: int, size: tuple[int, int] = (240, 480)) -> np.ndarray:
    """Two astronaut faces side by side (one mirrored and smaller), for the multiple-faces warning."""
    h, w = size
    face = astronaut_face()
    left = cv2.resize(face, (w // 2, h), interpolation=cv2.INTER_AREA)
    right = cv2.resize(face[:, ::-1], (int(w // 2 * 0.8), int(h * 0.8)), interpolation=cv2.INTER_AREA)
    canvas = np.full((h, w, 3), 128, dtype=np.uint8)
    canvas[:, : w // 2] = left
    y0 = (h - right.shape[0]) // 2
    canvas[y0 : y0 + right.shape[0], w // 2 : w // 2 + right.shape[1]] = right
    return np.repeat(canvas[None], n_frames, axis=0)


def panel_frames(
    n_frames: int, crop_px: int, n_faces: int, size: tuple[int, int] = (360, 640), seed: int = 0
) -> np.ndarray:
    """A debate-panel wide shot: ``n_faces`` astronaut faces in a row (alternately mirrored), each face about
    ``0.4 * crop_px`` wide, with a little sensor noise per frame so the video codec has something to encode."""
    h, w = size
    face = cv2.resize(astronaut_face(), (crop_px, crop_px), interpolation=cv2.INTER_AREA)
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = (90, 100, 110)
    y = int(h * 0.3)
    for i, x in enumerate(np.linspace(w * 0.1, w * 0.9 - crop_px, n_faces).astype(int)):
        canvas[y : y + crop_px, x : x + crop_px] = face if i % 2 == 0 else face[:, ::-1]
    rng = np.random.default_rng(seed)
    noise = rng.integers(-3, 4, (n_frames, h, w, 3))
    return np.clip(canvas[None].astype(np.int16) + noise, 0, 255).astype(np.uint8)
