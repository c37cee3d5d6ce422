"""Run by ``torchrun`` in test_models: the training loop under DistributedDataParallel (gloo, CPU).

Each rank draws different batches (the rank is part of the step seed); DDP averages gradients, so every rank must end
with the same weights. Each rank saves what it ended with for the test to compare.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import save_file

from vaedetect.models.vae import FaceVAE, FaceVAEConfig
from vaedetect.training.loop import dist_setup, fit
from vaedetect.training.recipes import TrainConfig


def main(out: Path) -> None:
    rank, world = dist_setup("cpu")
    torch.manual_seed(0)  # same initial weights on every rank (DDP also broadcasts rank 0's)
    model = FaceVAE(FaceVAEConfig(image_px=16, latent_dim=4, channels=(4, 8)))
    data = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(1))

    def sample(rng: np.random.Generator) -> tuple[torch.Tensor]:
        return (data[rng.integers(0, 64, 8)],)

    hist = fit("m", model, lambda m, x: m.loss(x), sample, 6, TrainConfig(checkpoint_every=100), out, "cpu")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
    (out / f"rank{rank}.txt").write_text(f"{world} {len(hist)}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
