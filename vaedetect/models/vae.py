"""Variational autoencoders for aligned faces and for log-mel speech windows.

Both learn *real* data only. What they reconstruct badly, or encode far from where real data lives, is evidence.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class FaceVAEConfig:
    image_px: int = 96
    latent_dim: int = 128
    channels: tuple[int, ...] = (16, 32, 64, 128)
    beta: float = 1.0  # weight of the KL term, itself normalised per pixel (see ``loss``)
    ssim_weight: float = 0.5


@dataclass(frozen=True)
class AudioVAEConfig:
    n_mels: int = 80
    n_steps: int = 20  # 0.2 s of 10 ms mel frames
    hidden: int = 512
    latent_dim: int = 32
    beta: float = 1.0


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 4 if stride == 2 else 3, stride, 1),
        nn.GroupNorm(min(8, cout), cout),
        nn.SiLU(inplace=True),
    )


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-sample KL(q(z|x) || N(0, I))."""
    return 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar, dim=1)


def box_mean(t: torch.Tensor, window: int) -> torch.Tensor:
    """Mean over the ``window`` x ``window`` box around each pixel, counting only pixels inside the image: what
    ``F.avg_pool2d(t, window, 1, window // 2, count_include_pad=False)`` gives, as a depthwise convolution with a box of
    ones, which a CPU runs ~4x faster (the face VAE's error map spent most of its time in average pooling)."""
    c, pad = t.shape[1], window // 2
    ones = t.new_ones(c, 1, window, window)
    total = F.conv2d(t, ones, padding=pad, groups=c)
    count = F.conv2d(t.new_ones(1, 1, *t.shape[2:]), ones[:1], padding=pad)
    return total / count


def ssim_map(x: torch.Tensor, y: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Per-pixel SSIM (box window), averaged over channels: structure errors the L1 term under-weights."""
    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y, xx, yy, xy = box_mean(torch.cat([x, y, x * x, y * y, x * y], dim=1), window).chunk(5, dim=1)
    sxx = xx - mu_x.pow(2)
    syy = yy - mu_y.pow(2)
    sxy = xy - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x.pow(2) + mu_y.pow(2) + c1) * (sxx + syy + c2))
    return s.mean(dim=1)


class FaceVAE(nn.Module):
    """Convolutional beta-VAE on aligned RGB faces in [0, 1] (N, 3, S, S)."""

    def __init__(self, config: FaceVAEConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or FaceVAEConfig()
        ch = cfg.channels
        self.down = len(ch)
        self.base_px = cfg.image_px // 2**self.down
        # Extra 3x3 convolutions only at coarse scales: capacity where it is cheap, so training fits a laptop CPU.
        extra_below_px = 24
        layers, cin, px = [], 3, cfg.image_px
        for c in ch:
            px //= 2
            layers.append(_block(cin, c, 2))
            if px <= extra_below_px:
                layers.append(_block(c, c, 1))
            cin = c
        self.encoder = nn.Sequential(*layers)
        flat = ch[-1] * self.base_px**2
        self.to_stats = nn.Linear(flat, 2 * cfg.latent_dim)
        self.from_latent = nn.Linear(cfg.latent_dim, flat)
        dec, rev = [], list(reversed(ch))
        for cin_, cout in itertools.pairwise(rev):
            px *= 2
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), _block(cin_, cout, 1)]
            if px <= extra_below_px:
                dec.append(_block(cout, cout, 1))
        self.decoder = nn.Sequential(*dec, nn.ConvTranspose2d(ch[0], 3, 4, 2, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x * 2.0 - 1.0).flatten(1)
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(z).view(z.shape[0], self.config.channels[-1], self.base_px, self.base_px)
        return torch.sigmoid(self.decoder(h))

    def forward(self, x: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar) if sample else mu
        return self.decode(z), mu, logvar

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        recon, mu, logvar = self(x)
        l1 = (recon - x).abs().mean()
        ssim = 1.0 - ssim_map(recon, x).mean()
        kl = kl_divergence(mu, logvar).mean() / x[0].numel()
        total = l1 + self.config.ssim_weight * ssim + self.config.beta * kl
        return total, {"l1": l1.item(), "ssim": ssim.item(), "kl": kl.item()}

    @torch.no_grad()
    def error_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Deterministic reconstruction, its per-pixel error (L1 + SSIM dissimilarity) and the latent means."""
        recon, mu, _ = self(x, sample=False)
        err = (recon - x).abs().mean(dim=1) + self.config.ssim_weight * (1.0 - ssim_map(recon, x))
        return recon, err, mu


class AudioVAE(nn.Module):
    """MLP beta-VAE on standardised log-mel windows (N, n_steps, n_mels)."""

    def __init__(self, config: AudioVAEConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or AudioVAEConfig()
        d = cfg.n_steps * cfg.n_mels
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(d, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.hidden // 2), nn.SiLU()
        )
        self.to_stats = nn.Linear(cfg.hidden // 2, 2 * cfg.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.hidden // 2),
            nn.SiLU(),
            nn.Linear(cfg.hidden // 2, cfg.hidden),
            nn.SiLU(),
            nn.Linear(cfg.hidden, d),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def forward(self, x: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar) if sample else mu
        return self.decoder(z).view_as(x), mu, logvar

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        recon, mu, logvar = self(x)
        mse = (recon - x).pow(2).mean()
        kl = kl_divergence(mu, logvar).mean() / x[0].numel()
        return mse + self.config.beta * kl, {"mse": mse.item(), "kl": kl.item()}

    @torch.no_grad()
    def error(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-window mean squared reconstruction error and latent means."""
        recon, mu, _ = self(x, sample=False)
        return (recon - x).pow(2).flatten(1).mean(dim=1), mu
