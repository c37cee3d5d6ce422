"""Face VAE evidence: how a real-faces VAE redraws the face (``face``), where its latent lies (``latent``), how it
moves between frames (``temporal``), and the blend classifier where a bundle has one (``blend``)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from vaedetect.evidence.arrays import ClipArrays, RawEvidence
from vaedetect.faces import face_mask
from vaedetect.models import ModelBundle
from vaedetect.models.images import crops_to_tensor

FACE_SAMPLES_PER_S = 2.0
MIN_FACE_SAMPLES = 8
MAX_FACE_SAMPLES = 48
TOP_FRACTION = 0.1  # frame face score: mean of the worst 10% of face pixels (blend seams are local)
BATCH = 32  # crops per forward pass: results do not depend on it (one thread), peak memory does


@torch.no_grad()
def run_face_vae(bundle: ModelBundle, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reconstructions (N, P, P, 3) uint8, per-pixel errors (N, P, P), latent means (N, D) at the VAE resolution."""
    px = bundle.config.face_vae.image_px
    recs, errs, mus = [], [], []
    for s in range(0, len(crops), BATCH):
        recon, err, mu = bundle.face_vae.error_map(crops_to_tensor(crops[s : s + BATCH], px))
        recs.append((recon.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().byte().numpy())
        errs.append(err.numpy())
        mus.append(mu.numpy())
    if not recs:
        d = bundle.config.face_vae.latent_dim
        return np.zeros((0, px, px, 3), np.uint8), np.zeros((0, px, px), np.float32), np.zeros((0, d), np.float32)
    return np.concatenate(recs), np.concatenate(errs), np.concatenate(mus)


@torch.no_grad()
def blend_logits(net: torch.nn.Module, crops: np.ndarray, px: int) -> np.ndarray:
    """A blend classifier's logits (N,) for aligned face crops, in batches, resized to its ``px``."""
    out = [net(crops_to_tensor(crops[s : s + BATCH], px)).numpy() for s in range(0, len(crops), BATCH)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def run_blend(bundle: ModelBundle, crops: np.ndarray) -> np.ndarray | None:
    """Blend-classifier logits (N,) for aligned face crops; None when the bundle has no blend model."""
    if bundle.blend is None:
        return None
    return blend_logits(bundle.blend, crops, bundle.config.blend.image_px)


@lru_cache(maxsize=8)
def face_region(px: int) -> np.ndarray:
    """The face area (template coordinates) the face score is taken from; the heatmap and the reasons show the same.
    Cached read-only: every sampled frame and every reason asks for it at the same size."""
    region = face_mask(px, None, blur=False) > 0.5
    region.setflags(write=False)
    return region


def pixel_zmap(bundle: ModelBundle, err: np.ndarray) -> np.ndarray:
    """Per-pixel z-scores against the error statistics of held-out real faces (detail is not anomaly)."""
    mean, std = bundle.stats.get("pixel_err_mean"), bundle.stats.get("pixel_err_std")
    if mean is None:
        return err
    return (err - mean) / std


def frame_face_scores(zmap: np.ndarray) -> np.ndarray:
    region = face_region(zmap.shape[-1])
    vals = zmap[:, region]
    k = max(1, int(TOP_FRACTION * vals.shape[1]))
    return np.sort(vals, axis=1)[:, -k:].mean(axis=1)


def mahalanobis(bundle: ModelBundle, mu: np.ndarray) -> np.ndarray:
    mean, prec = bundle.stats.get("latent_mean"), bundle.stats.get("latent_precision")
    if mean is None:
        return np.sqrt((mu**2).sum(axis=1))
    d = mu - mean
    return np.sqrt(np.maximum(np.einsum("nd,de,ne->n", d, prec, d), 0.0) / mu.shape[1])


def sample_frames(present: np.ndarray, fps: float) -> np.ndarray:
    """Evenly spaced frame indices with a face, ~2 per second, between 8 and 48 (cost stays flat for long clips)."""
    idx = np.flatnonzero(present)
    if idx.size == 0:
        return idx
    want = int(np.clip(round(len(present) / fps * FACE_SAMPLES_PER_S), MIN_FACE_SAMPLES, MAX_FACE_SAMPLES))
    if idx.size <= want:
        return idx
    return idx[np.round(np.linspace(0, idx.size - 1, want)).astype(int)]


def face_evidence(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    sel = sample_frames(arr.present, arr.fps)
    if sel.size == 0:
        return
    # Temporal flicker: the latent step to the next frame, where the next frame has a face too.
    nxt = sel + 1
    has_next = (nxt < arr.n_frames) & arr.present[np.minimum(nxt, arr.n_frames - 1)]
    batch = np.concatenate([arr.face_crops[sel], arr.face_crops[nxt[has_next]]])
    recon, err, mu = run_face_vae(bundle, batch)
    k = sel.size
    zmap = pixel_zmap(bundle, err[:k])
    ev.frame_idx = sel
    ev.frame_scores = frame_face_scores(zmap)
    ev.frame_latent = mahalanobis(bundle, mu[:k])
    ev.latents = mu[:k]
    ev.face = float(np.mean(ev.frame_scores))
    ev.latent = float(np.mean(ev.frame_latent))
    blend = run_blend(bundle, arr.face_crops[sel])
    if blend is not None:
        ev.frame_blend = blend
        ev.blend = float(np.mean(blend))
    if has_next.sum() >= 3:
        step = np.linalg.norm(mu[k:] - mu[:k][has_next], axis=1) / np.sqrt(mu.shape[1])
        ev.temporal = float(np.mean(step))
    if keep_images:
        ev.recon = recon[:k]
        ev.zmap = zmap


def compute(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    face_evidence(bundle, arr, ev, keep_images=keep_images)
