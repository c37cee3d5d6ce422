"""Blend-boundary classifier: a small CNN that tells real aligned faces from self-blended ones (SBI-style).

The VAE says "this face is unlike real faces"; it is weak on swaps whose texture is real but whose face was pasted
in. Self-blended images (a face blended with a perturbed copy of itself) carry exactly that signature (a seam, a
colour or sharpness step inside the face) and nothing specific to any generator, so a classifier trained on real
faces against them generalises to unseen face-swap methods (Shiohara & Yamasaki, CVPR 2022). No real deepfake is
used to train it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class BlendConfig:
    image_px: int = 128  # the aligned crop as ingested: no resampling that would soften a blend seam
    channels: tuple[int, ...] = (16, 32, 48, 64, 96)
    dropout: float = 0.2


class BlendNet(nn.Module):
    """Aligned RGB faces in [0, 1] (N, 3, S, S) -> logit of "blended" (N,)."""

    def __init__(self, config: BlendConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or BlendConfig()
        layers, cin = [], 3
        for c in cfg.channels:
            layers += [
                nn.Conv2d(cin, c, 3, 1, 1),
                nn.BatchNorm2d(c),
                nn.SiLU(inplace=True),
                nn.Conv2d(c, c, 3, 2, 1),
                nn.BatchNorm2d(c),
                nn.SiLU(inplace=True),
            ]
            cin = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cin, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x * 2.0 - 1.0)
        # Max over positions as well as mean: a seam is local, averaging it away over the whole face would hide it.
        pooled = 0.5 * (h.mean(dim=(2, 3)) + h.amax(dim=(2, 3)))
        return self.head(pooled).squeeze(1)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logit = self(x)
        loss = nn.functional.binary_cross_entropy_with_logits(logit, y)
        acc = ((logit > 0).float() == y).float().mean()
        return loss, {"acc": acc.item()}
