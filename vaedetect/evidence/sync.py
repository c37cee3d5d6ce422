"""Lip-sync evidence (``sync``): the real-only alignment model's distance over audio offsets, with the
lip-from-voice curve joining in to find the offset."""

from __future__ import annotations

import numpy as np

from vaedetect.audio import MEL_PER_VIDEO_FRAME, mel_windows, minus_speech_mean
from vaedetect.evidence.arrays import ClipArrays, RawEvidence
from vaedetect.evidence.voice_vae import standardize_mel
from vaedetect.models import ModelBundle
from vaedetect.models.sync import distance_matrix

SYNC_STRIDE = 2
MIN_SYNC_WINDOWS = 8
# Weight of the lip-from-voice curve against the alignment model's when estimating the offset (both z-scored over
# offsets). Chosen on the bundle's identity-held-out validation clips, never on dev (bench/experiments/offsets.py):
# shifted whole clips found within one frame 0.66 / 0.91 / 0.91 of the time with the model alone / this weight /
# lip-from-voice alone; 3-second pieces 0.41 / 0.71 / 0.68.
LIPVOICE_WEIGHT = 2.0


def sync_mel(bundle: ModelBundle, mel: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Mel as the alignment model sees it: standardised, then (if the bundle says so) the clip's mean spectrum over
    its speech removed. Training and inference both call this."""
    out = standardize_mel(bundle, mel)
    if bundle.config.sync.clip_mel_norm:
        out = minus_speech_mean(out, np.repeat(speech, MEL_PER_VIDEO_FRAME)[: len(out)], min_rows=20)
    return out.astype(np.float32)


def sync_evidence(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence) -> None:
    """Distance-vs-offset over speech windows with a tracked mouth; raw evidence is how clearly offset 0 wins."""
    if arr.mel is None or arr.is_image:
        return
    cfg = bundle.config.sync
    half = cfg.n_frames // 2
    valid = arr.speech & arr.present
    centers = np.flatnonzero(valid & face_in_whole_window(arr.present, cfg.n_frames))
    centers = centers[(centers >= half) & (centers < arr.n_frames - half)][::SYNC_STRIDE]
    if centers.size < MIN_SYNC_WINDOWS:
        return
    mel = sync_mel(bundle, arr.mel, arr.speech)

    def windows(idx: np.ndarray) -> np.ndarray:
        return mel_windows(mel, idx, cfg.n_frames)

    dist = distance_matrix(bundle.sync, arr.mouth_crops, windows, centers, cfg.max_offset)
    mean_dist = dist.mean(axis=0)
    offsets = np.arange(-cfg.max_offset, cfg.max_offset + 1)
    zero = cfg.max_offset
    ev.sync_centers = centers
    ev.sync_mean_dist = mean_dist
    # Per-time confidence at offset 0: how far below the window's median distance the in-sync pairing sits.
    ev.sync_curve = np.median(dist, axis=1) - dist[:, zero]
    ev.sync_offset_model = int(offsets[int(np.argmin(mean_dist))])
    ev.sync_offset = ev.sync_offset_model
    lipvoice = bundle.lipvoice
    if lipvoice is not None and arr.lip is not None:
        corr = lipvoice.curve(arr.lip, arr.mel, arr.speech, arr.present, cfg.max_offset)
        ev.lipvoice_corr = corr
        if np.isfinite(corr).sum() > len(corr) // 2:
            ev.lipvoice_offset = int(offsets[int(np.nanargmax(corr))])
            ev.sync_offset = int(offsets[int(np.argmax(fuse_offset_curves(mean_dist, corr)))])
    ev.sync_confidence = float(np.median(mean_dist) - mean_dist.min())
    ev.sync = float(np.median(mean_dist) - mean_dist[zero])


def fuse_offset_curves(mean_dist: np.ndarray, corr: np.ndarray, weight: float = LIPVOICE_WEIGHT) -> np.ndarray:
    """Per-offset agreement: z-scored (negative) model distance plus ``weight`` x z-scored lip-from-voice correlation.

    Offsets the correlation could not be computed at (too few frames overlap) get its worst value.
    """

    def z(x: np.ndarray) -> np.ndarray:
        return (x - np.nanmean(x)) / (np.nanstd(x) + 1e-9)

    zc = z(corr)
    zc = np.where(np.isfinite(zc), zc, np.nanmin(zc))
    return z(-mean_dist) + weight * zc


def face_in_whole_window(present: np.ndarray, n: int) -> np.ndarray:
    """Frames whose centred ``n``-frame window has a tracked face on every frame (the alignment model's input).

    False near the ends and everywhere in a clip shorter than one window (a cut-off upload can hold two frames;
    ``np.convolve(..., "same")`` would then return the window's length instead of the clip's)."""
    if len(present) < n:
        return np.zeros(len(present), dtype=bool)
    return np.convolve(present.astype(int), np.ones(n, int), mode="same") == n


def compute(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    sync_evidence(bundle, arr, ev)
