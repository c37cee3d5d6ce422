"""What re-sharing changes about a clip (its quality measures), and a video's frames read as photos."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaedetect import cues
from vaedetect.evidence.arrays import ClipArrays
from vaedetect.evidence.region_cues import CUE_FRAMES
from vaedetect.fusion import CUE_COMPLEXITY, FACE_COMPLEXITY, bits_per_pixel
from vaedetect.ingest import Clip


def code_lengths(crops: np.ndarray, vae_px: int) -> dict[str, float | None]:
    """How hard the face is to compress at the two scales pixel evidence reads it (:func:`vaedetect.cues.code_length`):
    the face VAE's input size, and the cue crops' own size (rule 22 corrects each evidence for its own)."""
    return {FACE_COMPLEXITY: cues.code_length(crops, vae_px), CUE_COMPLEXITY: cues.code_length(crops)}


def clip_quality(clip: Clip, arr: ClipArrays, vae_px: int | None) -> dict[str, float | None]:
    """What re-sharing changes (:data:`vaedetect.fusion.QUALITY`): median face size, the cue crops' sharpness, and
    bits per pixel; and, given the face VAE's input size ``vae_px``, the face's code length at the scales evidence
    reads it (:func:`code_lengths`). The learned fusion removes from each evidence what these predict on real files."""
    info, size = clip.info, clip.faces.face_size_px
    crops = arr.cue_crops[:CUE_FRAMES] if arr.cue_crops is not None else np.zeros((0,))
    return {
        "face_px": float(np.nanmedian(size)) if np.isfinite(size).any() else None,
        "sharpness": cues.face_sharpness(crops),
        "bits_per_pixel": bits_per_pixel(
            info.kind, info.size_bytes, info.width, info.height, info.video_bitrate_kbps, info.source_fps
        ),
        **(code_lengths(crops, vae_px) if vae_px is not None else {}),
    }


# Frames of a video that a fit also reads as photos: photos people send are often frames of videos, small, soft and
# re-compressed, and the photo head's lines must hold for them (bench/results/2026-12-01-rules.md, rules 8 and 9).
FRAMES_AS_PHOTOS = 3


def frames_as_photos(
    crops: np.ndarray,
    crop_landmarks: np.ndarray,
    crop_frames: np.ndarray,
    face_px: np.ndarray,
    sampled: np.ndarray,
    face_z: np.ndarray,
    latent_z: np.ndarray | None,
    bits_per_pixel: float | None,
    vae_px: int,
) -> list[dict[str, Any]]:
    """Up to :data:`FRAMES_AS_PHOTOS` evenly spread frames of a video as the photo head reads a photo: one cue crop's
    frame cues, the face (and latent) z-score of the nearest frame the VAE sampled, that frame's face size and the
    crop's sharpness. ``crop_frames`` and ``sampled`` number frames alike; ``face_px`` is indexed by them."""
    if not len(crops) or not len(sampled):
        return []
    out = []
    for j in np.unique(np.round(np.linspace(0, len(crops) - 1, FRAMES_AS_PHOTOS)).astype(int)):
        k = int(np.argmin(np.abs(sampled - crop_frames[j])))
        values: dict[str, float] = {**cues.frame_cues(crops[j], crop_landmarks[j]), "face": float(face_z[k])}
        if latent_z is not None:
            values["latent"] = float(latent_z[k])
        quality = {
            "face_px": float(face_px[crop_frames[j]]),
            "sharpness": cues.face_sharpness(crops[j : j + 1]),
            "bits_per_pixel": bits_per_pixel,
            **code_lengths(crops[j : j + 1], vae_px),
        }
        out.append({"values": {k: v for k, v in values.items() if np.isfinite(v)}, "quality": quality})
    return out
