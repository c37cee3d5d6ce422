"""The training loop every stage shares: AdamW with a cosine schedule, resumable checkpoints, DistributedDataParallel.

Checkpoints hold weights and optimizer state as safetensors plus JSON (never pickle), and every step draws its batch
from its own seeded stream, so an interrupted run resumes exactly where an uninterrupted one would be. Under
``torchrun`` each rank samples its own batches and DDP averages gradients; without it everything runs in one process.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file as load_torch
from safetensors.torch import save_file as save_torch
from torch import nn
from tqdm.auto import tqdm

from vaedetect import settings
from vaedetect.models.bundle import state_tensors
from vaedetect.training.recipes import TrainConfig

log = logging.getLogger("vaedetect.train")

LossFn = Callable[..., tuple[torch.Tensor, dict[str, float]]]
Sampler = Callable[[np.random.Generator], tuple[torch.Tensor, ...]]


def dist_setup(device: str) -> tuple[int, int]:
    """Join the process group when started by torchrun; returns (rank, world size), (0, 1) in a plain process."""
    world, local_rank = settings.distributed()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    if world > 1 and device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
    return (dist.get_rank() if dist.is_initialized() else 0), world


def is_main() -> bool:
    """Rank 0 (or the only process): the one that writes files."""
    return not dist.is_initialized() or dist.get_rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def save_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, extra: dict) -> None:
    tensors = {f"model.{k}": v for k, v in state_tensors(model).items()}
    sd = opt.state_dict()
    for pid, st in sd["state"].items():
        for name, val in st.items():
            t = val if torch.is_tensor(val) else torch.tensor(val)
            tensors[f"opt.{pid}.{name}"] = t.detach().cpu().contiguous()
    meta = {"step": step, "param_groups": sd["param_groups"], "extra": extra}
    tmp = path.with_suffix(".tmp")
    save_torch(tensors, str(tmp))
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(meta))


def load_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer) -> tuple[int, dict]:
    tensors = load_torch(str(path))
    meta = json.loads(path.with_suffix(".json").read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return int(meta["step"]), meta.get("extra", {})


class _LossModule(nn.Module):
    """Wraps ``model.loss`` as ``forward`` so DistributedDataParallel's gradient hooks see the computation."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, *batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return self.loss_fn(self.model, *batch)


def fit(
    name: str,
    model: nn.Module,
    loss_fn: LossFn,
    sample: Sampler,
    steps: int,
    cfg: TrainConfig,
    work: Path,
    device: str,
) -> list[dict[str, float]]:
    """Train ``model`` for ``steps`` on batches from ``sample``; returns the loss log (empty for 0 steps).

    A finished stage (``work/NAME.safetensors``) is loaded instead of retrained; an interrupted one resumes from its
    last checkpoint.
    """
    if steps <= 0:
        return []
    final = work / f"{name}.safetensors"
    log_path = work / f"{name}.log.json"
    if final.exists():
        model.load_state_dict(load_torch(str(final)))
        return json.loads(log_path.read_text()) if log_path.exists() else []
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    ckpt = work / f"{name}.ckpt.safetensors"
    start, history = 0, []
    if ckpt.exists():
        start, extra = load_checkpoint(ckpt, model, opt)
        history = extra.get("history", [])
        sched.last_epoch = start - 1
        with warnings.catch_warnings():  # no optimizer step yet in this process, on purpose: the lr is being restored
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
            sched.step()  # lr for step ``start`` (lambda of the step count), as the uninterrupted run had it
        log.info("%s: resuming at step %d", name, start)
    wrapped: nn.Module = _LossModule(model, loss_fn)
    if dist.is_initialized():
        wrapped = nn.parallel.DistributedDataParallel(
            wrapped, device_ids=[torch.cuda.current_device()] if device.startswith("cuda") else None
        )
    rank = dist.get_rank() if dist.is_initialized() else 0
    bar = tqdm(range(start, steps), desc=f"train {name}", disable=not is_main(), leave=False)
    running: dict[str, float] = {}
    for step in bar:
        # Every step draws from its own seeded streams (numpy for batches, torch for VAE noise), so a resumed run
        # takes exactly the steps an uninterrupted one would.
        step_seed = [cfg.seed, rank, step, zlib.crc32(name.encode())]
        rng = np.random.default_rng(step_seed)
        torch.manual_seed(int(np.random.SeedSequence(step_seed).generate_state(1)[0]))
        batch = tuple(t.to(device) for t in sample(rng))
        loss, parts = wrapped(*batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        parts = {"loss": loss.item(), **parts}
        running = {k: 0.9 * running.get(k, v) + 0.1 * v for k, v in parts.items()}
        if steps <= 200 or step % 10 == 0 or step == steps - 1:
            history.append({"step": step, **{k: round(v, 5) for k, v in parts.items()}})
            bar.set_postfix({k: f"{v:.4f}" for k, v in running.items()})
        if is_main() and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < steps:
            save_checkpoint(ckpt, model, opt, step + 1, {"history": history})
    model.eval().cpu()
    if is_main():
        save_torch(state_tensors(model), str(final))
        log_path.write_text(json.dumps(history))
        if ckpt.exists():
            ckpt.unlink()
            ckpt.with_suffix(".json").unlink(missing_ok=True)
    barrier()
    return history
