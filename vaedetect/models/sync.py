"""Audio-visual alignment: a SyncNet-style dual encoder trained contrastively on real talking faces.

A 5-frame grayscale mouth clip and the 0.2 s of log-mel it was recorded with map to nearby unit vectors; the same
clip shifted in time, or another clip's audio, map far away. At inference, distances between each video window and
audio windows shifted by -K..K frames form a distance-vs-offset matrix: its arg-min is the AV offset and the gap
between the median and the minimum is the per-time confidence (SyncNet's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class SyncConfig:
    n_frames: int = 5
    mouth_px: int = 48
    n_mels: int = 80
    mel_steps: int = 20
    embed_dim: int = 128
    width: int = 16
    temperature: float = 0.07
    max_offset: int = 15
    # Subtract each clip's mean log-mel spectrum (over its speech) before the audio encoder: removes the microphone
    # and room colouring that otherwise lets the encoder learn the recording instead of the speech (off for older
    # bundles, which were trained without it).
    clip_mel_norm: bool = False


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SyncNet(nn.Module):
    def __init__(self, config: SyncConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or SyncConfig()
        w = cfg.width
        # Frames are stacked as channels (like SyncNet): motion between frames is visible to the first layer.
        self.visual = nn.Sequential(
            _conv(cfg.n_frames, w),
            _conv(w, w * 2, 2),
            _conv(w * 2, w * 2),
            _conv(w * 2, w * 4, 2),
            _conv(w * 4, w * 4),
            _conv(w * 4, w * 8, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(w * 8, cfg.embed_dim),
        )
        self.audio = nn.Sequential(
            _conv(1, w),
            _conv(w, w * 2, (1, 2)),
            _conv(w * 2, w * 2),
            _conv(w * 2, w * 4, 2),
            _conv(w * 4, w * 4),
            _conv(w * 4, w * 8, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(w * 8, cfg.embed_dim),
        )

    def embed_video(self, mouths: torch.Tensor) -> torch.Tensor:
        """(N, n_frames, H, W) grayscale in [0, 1] -> unit vectors (N, D)."""
        x = mouths - mouths.mean(dim=(1, 2, 3), keepdim=True)  # remove lighting; keep motion and shape
        return F.normalize(self.visual(x * 4.0), dim=1)

    def embed_audio(self, mels: torch.Tensor) -> torch.Tensor:
        """(N, mel_steps, n_mels) standardised log-mel -> unit vectors (N, D)."""
        return F.normalize(self.audio(mels.unsqueeze(1)), dim=1)

    def info_nce(self, v: torch.Tensor, a: torch.Tensor, a_neg: torch.Tensor | None = None) -> torch.Tensor:
        """Symmetric InfoNCE over the batch; ``a_neg`` (N, K, D) adds same-clip time-shifted audio as hard negatives."""
        t = self.config.temperature
        logits = v @ a.T / t
        target = torch.arange(v.shape[0], device=v.device)
        if a_neg is not None:
            hard = torch.einsum("nd,nkd->nk", v, a_neg) / t
            logits_v = torch.cat([logits, hard], dim=1)
        else:
            logits_v = logits
        return 0.5 * (F.cross_entropy(logits_v, target) + F.cross_entropy(logits.T, target))


@torch.no_grad()
def distance_matrix(
    model: SyncNet, mouths: np.ndarray, mel_windows_fn, centers: np.ndarray, max_offset: int, batch: int = 64
) -> np.ndarray:
    """Distances (len(centers), 2 * max_offset + 1) between the video window at each centre and audio at centre+o.

    ``mel_windows_fn(idx)`` returns standardised mel windows for arbitrary (possibly out-of-range) frame indices.
    """
    model.eval()
    cfg = model.config
    half = cfg.n_frames // 2
    n = mouths.shape[0]
    idx = np.clip(centers[:, None] + np.arange(-half, half + 1)[None, :], 0, n - 1)
    vids = []
    for s in range(0, len(centers), batch):
        clip = torch.from_numpy(mouths[idx[s : s + batch]].astype(np.float32) / 255.0)
        vids.append(model.embed_video(clip))
    v = torch.cat(vids) if vids else torch.zeros(0, cfg.embed_dim)
    lo, hi = int(centers.min()) - max_offset, int(centers.max()) + max_offset
    all_idx = np.arange(lo, hi + 1)
    auds = []
    for s in range(0, len(all_idx), batch):
        auds.append(model.embed_audio(torch.from_numpy(mel_windows_fn(all_idx[s : s + batch]))))
    a = torch.cat(auds)
    offsets = np.arange(-max_offset, max_offset + 1)
    rows = torch.from_numpy((centers[:, None] + offsets[None, :]) - lo)
    a_sel = a[rows]  # (C, O, D)
    return torch.linalg.vector_norm(v[:, None, :] - a_sel, dim=2).numpy()
