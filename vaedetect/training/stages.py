"""The training stages, one function each: what every model learns from and how its batches are drawn.

- face VAE: every real face (videos with or without sound, photos), then a refinement on augmented faces
- blend classifier: real faces against self- and cross-blended copies made on the fly (SBI)
- audio VAE: standardised log-mel windows of speech (silence excluded)
- alignment model: mouth windows against their own 0.2 s of speech, with time-shifted hard negatives (InfoNCE)

Each returns its loss log; :func:`vaedetect.training.loop.fit` does the optimisation.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vaedetect import pseudofakes
from vaedetect.audio import MEL_PER_VIDEO_FRAME, mel_windows
from vaedetect.evidence import ClipArrays, face_in_whole_window, sync_mel
from vaedetect.models import ModelBundle
from vaedetect.models.images import crops_to_tensor, resize_crops
from vaedetect.training.loop import Sampler, fit
from vaedetect.training.recipes import TrainConfig


def face_pool(clips: list[ClipArrays], stride: int, px: int) -> np.ndarray:
    """Every ``stride``-th tracked face of each clip (every face of a photo), at ``px``."""
    out = []
    for c in clips:
        idx = np.flatnonzero(c.present)[:: 1 if c.is_image else stride]
        if idx.size:
            out.append(resize_crops(c.face_crops[idx], px))
    return np.concatenate(out) if out else np.zeros((0, px, px, 3), np.uint8)


def mel_stats(clips: list[ClipArrays]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std of log-mel over speech: what the audio models' inputs are standardised with."""
    frames = []
    for c in clips:
        if c.mel is None or not c.speech.any():
            continue
        sp = np.repeat(c.speech, MEL_PER_VIDEO_FRAME)[: len(c.mel)]
        frames.append(c.mel[sp])
    allm = np.concatenate(frames)
    return allm.mean(axis=0).astype(np.float32), (allm.std(axis=0) + 1e-3).astype(np.float32)


def _speech_centers(c: ClipArrays, half: int, need_face: bool) -> np.ndarray:
    ok = c.speech.copy()
    if need_face:
        ok &= face_in_whole_window(c.present, 2 * half + 1)
    idx = np.flatnonzero(ok)
    return idx[(idx >= half) & (idx < c.n_frames - half)]


def _flip_to_tensor(rng: np.random.Generator, faces: np.ndarray) -> torch.Tensor:
    """Half the faces mirrored (a face is a face either way round), as model input."""
    flip = rng.random(len(faces)) < 0.5
    return crops_to_tensor(np.where(flip[:, None, None, None], faces[:, :, ::-1], faces))


def fit_face_vae(bundle: ModelBundle, faces: np.ndarray, cfg: TrainConfig, work: Path, device: str) -> dict[str, list]:
    """Face VAE on real faces, then a gentler phase on augmented ones (see ``TrainConfig.face_refine_steps``)."""

    def sample_faces(rng: np.random.Generator, augment: bool = False) -> tuple[torch.Tensor]:
        b = faces[rng.integers(0, len(faces), cfg.batch_size)]
        if augment:
            b = np.stack([pseudofakes.augment_face(img, rng) for img in b])
        return (_flip_to_tensor(rng, b),)

    def loss(m: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return m.loss(x)

    refine_cfg = replace(cfg, lr=cfg.face_refine_lr)
    return {
        "face_vae": fit("face_vae", bundle.face_vae, loss, sample_faces, cfg.face_steps, cfg, work, device),
        "face_vae_refine": fit(
            "face_vae_refine",
            bundle.face_vae,
            loss,
            lambda rng: sample_faces(rng, augment=True),
            cfg.face_refine_steps,
            refine_cfg,
            work,
            device,
        ),
    }


def blend_sampler(faces: np.ndarray, batch_size: int, *, low_quality: bool = False) -> Sampler:
    """Batches of real faces (label 0) against self-blended (70%) and cross-blended (30%) copies of them (label 1),
    every image then degraded the same way for both classes, so quality is not a cue (``low_quality``: the stronger
    :func:`pseudofakes.degrade_low_quality`)."""
    degrade = pseudofakes.degrade_low_quality if low_quality else pseudofakes.degrade

    def sample(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        b = faces[rng.integers(0, len(faces), batch_size)].copy()
        y = (np.arange(len(b)) % 2).astype(np.float32)
        for i in np.flatnonzero(y):
            if rng.random() < 0.7:
                b[i], _ = pseudofakes.self_blend(b[i], rng)
            else:
                donor = faces[rng.integers(0, len(faces))]
                b[i], _ = pseudofakes.cross_blend(b[i], donor, rng)
        b = np.stack([degrade(img, rng) for img in b])
        return _flip_to_tensor(rng, b), torch.from_numpy(y)

    return sample


def train_blend_net(
    net: nn.Module, faces: np.ndarray, cfg: TrainConfig, work: Path, device: str, name: str = "blend"
) -> list:
    """Seams first on faces with the shipped degradation (from scratch the net finds none through heavy degradation),
    then ``cfg.blend_low_quality_steps`` through the low-quality augmentation at a gentler rate, so that it does not
    fire on soft real faces (rules 16 and 16b of ``bench/results/2026-12-01-rules.md``)."""

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return m.loss(x, y)

    log = fit(name, net, loss, blend_sampler(faces, cfg.batch_size), cfg.blend_steps, cfg, work, device)
    low = blend_sampler(faces, cfg.batch_size, low_quality=True)
    lq_cfg = replace(cfg, lr=cfg.blend_low_quality_lr)
    return log + fit(f"{name}_lq", net, loss, low, cfg.blend_low_quality_steps, lq_cfg, work, device)


def fit_blend(bundle: ModelBundle, train_clips: list[ClipArrays], cfg: TrainConfig, work: Path, device: str) -> list:
    """Blend classifier: real faces against self-blended and cross-blended copies made on the fly (SBI)."""
    blend_faces = face_pool(train_clips, cfg.face_frame_stride, cfg.blend.image_px)
    return train_blend_net(bundle.blend, blend_faces, cfg, work, device)


def fit_audio_vae(
    bundle: ModelBundle, speech_clips: list[ClipArrays], cfg: TrainConfig, work: Path, device: str
) -> list:
    """Audio VAE on standardised log-mel windows of speech (silence excluded)."""
    mel_mean, mel_std = bundle.stats["mel_mean"], bundle.stats["mel_std"]
    std_mels = [((c.mel - mel_mean) / mel_std).astype(np.float32) for c in speech_clips]
    centers = [_speech_centers(c, cfg.sync.n_frames // 2, need_face=False) for c in speech_clips]

    def sample_audio(rng: np.random.Generator) -> tuple[torch.Tensor]:
        ci = rng.integers(0, len(speech_clips), cfg.batch_size)
        wins = [
            mel_windows(std_mels[i], rng.choice(centers[i], 1), cfg.sync.n_frames)[0] for i in ci if centers[i].size
        ]
        return (torch.from_numpy(np.stack(wins)),)

    return fit("audio_vae", bundle.audio_vae, lambda m, x: m.loss(x), sample_audio, cfg.audio_steps, cfg, work, device)


def fit_sync(bundle: ModelBundle, speech_clips: list[ClipArrays], cfg: TrainConfig, work: Path, device: str) -> list:
    """Alignment model: mouth windows against their own 0.2 s of speech, with time-shifted hard negatives (InfoNCE)."""
    half = cfg.sync.n_frames // 2
    sync_centers = [_speech_centers(c, half, need_face=True) for c in speech_clips]
    usable = [i for i, c in enumerate(sync_centers) if c.size]
    k_neg = cfg.sync_hard_negatives
    sync_mels = [sync_mel(bundle, c.mel, c.speech) for c in speech_clips]

    def sample_sync(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        vids, auds, negs = [], [], []
        for i in rng.choice(usable, cfg.sync_batch_size):
            c, mel = speech_clips[i], sync_mels[i]
            t = int(rng.choice(sync_centers[i]))
            window = c.mouth_crops[t - half : t + half + 1]
            vids.append(pseudofakes.jitter_window(window, rng, 1.0 if cfg.sync_augment else 0.0))
            offs = rng.integers(cfg.sync_min_negative_offset, cfg.sync.max_offset + 1, k_neg) * rng.choice(
                [-1, 1], k_neg
            )
            idx = np.concatenate([[t], t + offs])
            w = mel_windows(mel, idx, cfg.sync.n_frames)
            auds.append(w[0])
            negs.append(w[1:])
        v = torch.from_numpy(np.stack(vids))
        if rng.random() < 0.5:
            v = v.flip(-1)
        a, n = np.stack(auds), np.stack(negs)
        if cfg.sync_augment:  # frequency masking (SpecAugment), the same band for positive and negatives
            for j in np.flatnonzero(rng.random(len(a)) < 0.5):
                f0, width = int(rng.integers(0, a.shape[-1] - 10)), int(rng.integers(2, 10))
                a[j, :, f0 : f0 + width] = 0.0
                n[j, :, :, f0 : f0 + width] = 0.0
        return v, torch.from_numpy(a), torch.from_numpy(n)

    def sync_loss(m: nn.Module, v: torch.Tensor, a: torch.Tensor, neg: torch.Tensor):
        ev, ea = m.embed_video(v), m.embed_audio(a)
        en = m.embed_audio(neg.flatten(0, 1)).view(neg.shape[0], neg.shape[1], -1)
        loss = m.info_nce(ev, ea, en)
        with torch.no_grad():
            acc = float(((ev * ea).sum(1, keepdim=True) > torch.einsum("nd,nkd->nk", ev, en)).all(1).float().mean())
        return loss, {"hard_neg_acc": acc}

    return fit("sync", bundle.sync, sync_loss, sample_sync, cfg.sync_steps, cfg, work, device)
