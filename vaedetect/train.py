"""Training on real footage only: face VAE, audio VAE, alignment encoder, then calibration against pseudo-fakes.

    python -m vaedetect train --data ../shared/data --out runs/default [--device cuda] [--preset default|sbi|tiny]
    torchrun --nproc_per_node=N -m vaedetect train ...      # DistributedDataParallel, one process per GPU

Stages run in order and each leaves its result in ``OUT/work/``; a re-run skips finished stages and resumes an
interrupted one from its last checkpoint (weights and optimizer state as safetensors + JSON, never pickle).
The split is by identity, so no person in the held-out set was seen in training; it is recorded in the bundle.
The ``dev`` split of the data folder is never read here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file as load_torch
from safetensors.torch import save_file as save_torch
from torch import nn
from tqdm.auto import tqdm

from vaedetect import pseudofakes
from vaedetect.audio import MEL_PER_VIDEO_FRAME, mel_windows
from vaedetect.errors import InputError
from vaedetect.evidence import ClipArrays, RawEvidence, compute_evidence, face_in_whole_window, sync_mel
from vaedetect.faces import mouth_crop_from_aligned
from vaedetect.models import BundleConfig, ModelBundle
from vaedetect.models.blend import BlendConfig, BlendNet
from vaedetect.models.lipvoice import LipVoice, fit_lipvoice
from vaedetect.models.sync import SyncConfig
from vaedetect.models.vae import AudioVAEConfig, FaceVAEConfig
from vaedetect.scoring import EVIDENCE, Head, normalize, select_head

log = logging.getLogger("vaedetect.train")

TRAIN_SPLITS = ("train", "train_silent", "stills")
HEAD_FEATURES = {
    "full": ("face", "latent", "temporal", "blend", "audio", "sync"),
    "face": ("face", "latent", "temporal", "blend"),
    "photo": ("face", "latent", "blend"),
    "audio": ("audio",),
}
FACE_KINDS = ("self-blend", "cross-blend", "vae-regen")
AUDIO_KINDS = ("audio-shift", "audio-swap", "audio-smooth")
# Which pseudo-fakes each expert is fitted against: the manipulations it can see at all.
EXPERT_KINDS = {
    "face": FACE_KINDS,
    "latent": FACE_KINDS,
    "temporal": FACE_KINDS,
    "blend": FACE_KINDS,
    "sync": ("audio-shift", "audio-swap"),
    "audio": ("audio-smooth",),
}
FAKE_FPR = 0.05
UNCERTAIN_FPR = 0.20
# The uncertain tier never vanishes (it can when a head has too few held-out reals to resolve both rates): a score
# just under the "fake" line is not "likely real".
MIN_UNCERTAIN_BAND = 0.01


@dataclass
class TrainConfig:
    """A training recipe. ``default`` is the recipe of the shipped bundle; ``sbi`` adds the blend classifier and the
    later alignment-model changes, which measured worse on the dev split (see bench/results); ``tiny`` is for tests."""

    preset: str = "default"
    seed: int = 0
    val_fraction: float = 0.25
    face_steps: int = 1500
    # Then a gentler face-VAE phase on augmented faces (colour, exposure, small pose, upload-quality changes): with
    # ~100 training identities the VAE otherwise learns those people's exact looks and redraws every new face badly
    # (held-out L1 0.085 -> 0.068 on 1061 validation faces when the shipped VAE got this phase).
    face_refine_steps: int = 2000
    face_refine_lr: float = 3e-4
    audio_steps: int = 1000
    sync_steps: int = 1500
    blend_steps: int = 0  # 0: no blend classifier (it fired on real low-resolution photos; the ``sbi`` preset has one)
    batch_size: int = 32
    sync_batch_size: int = 64
    lr: float = 1e-3
    sync_hard_negatives: int = 3
    sync_augment: bool = False  # mouth-window jitter and mel frequency masks
    sync_min_negative_offset: int = 3  # shifted-in-time negatives start at this many frames
    checkpoint_every: int = 250
    face_frame_stride: int = 2
    segment_s: float = 3.0
    max_segments_per_clip: int = 4
    umap_points: int = 1500
    # How the evidence is weighed: "equal" counts every evidence's z-score against real clips alike (Stouffer's
    # sum / sqrt(k)) and uses the pseudo-fakes for the Platt step, the checks and the map; "poe" fits each expert's
    # weight on the pseudo-fakes it can see (the recipe before 2026-11-30). See ``calibrate`` for why.
    fusion: str = "equal"
    face_vae: FaceVAEConfig = field(default_factory=FaceVAEConfig)
    audio_vae: AudioVAEConfig = field(default_factory=AudioVAEConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)
    max_files: int | None = None

    @classmethod
    def from_preset(cls, name: str) -> TrainConfig:
        if name == "tiny":  # seconds on a CPU; for tests and smoke runs (every stage and option exercised)
            return cls(
                preset="tiny",
                face_steps=25,
                face_refine_steps=5,
                audio_steps=25,
                sync_steps=12,
                blend_steps=12,
                batch_size=8,
                sync_batch_size=16,
                sync_hard_negatives=5,
                sync_augment=True,
                sync_min_negative_offset=2,
                checkpoint_every=5,
                segment_s=1.0,
                umap_points=60,
                face_vae=FaceVAEConfig(image_px=32, latent_dim=16, channels=(8, 8, 16)),
                audio_vae=AudioVAEConfig(hidden=64, latent_dim=8),
                sync=SyncConfig(width=8, embed_dim=16, max_offset=6, clip_mel_norm=True),
                blend=BlendConfig(image_px=32, channels=(8, 16)),
                fusion="poe",  # the fitted experts; "equal" is exercised by recalibrating the tiny bundle
            )
        if name == "default":
            return cls()
        if name == "sbi":
            return cls(
                preset="sbi",
                fusion="poe",  # as it was trained and measured
                blend_steps=2000,
                sync_steps=2000,
                sync_hard_negatives=5,
                sync_augment=True,
                sync_min_negative_offset=2,
                sync=SyncConfig(clip_mel_norm=True),
            )
        raise ValueError(f"unknown preset {name!r}")


# ---------------------------------------------------------------------------------------------------------------
# Data: manifest, identity split, ingest cache


@dataclass
class Item:
    path: Path
    split: str
    identity: str
    has_audio: bool
    kind: str  # "video" | "image"


def read_manifest(data_dir: Path) -> list[Item]:
    """Training material from ``manifest.csv`` (or, without one, every file under the training folders)."""
    manifest = data_dir / "manifest.csv"
    items: list[Item] = []
    if manifest.exists():
        with manifest.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row["split"] not in TRAIN_SPLITS or row.get("label", "real") != "real":
                    continue
                p = data_dir / row["path"]
                kind = "image" if row["split"] == "stills" else "video"
                identity = row.get("identity") or f"file:{row['path']}"
                items.append(Item(p, row["split"], identity, row.get("has_audio") == "1", kind))
    else:
        folders = {"real": "train", "real_silent": "train_silent", "stills": "stills"}
        for folder, split in folders.items():
            for p in sorted((data_dir / folder).glob("*")):
                if p.is_file():
                    kind = "image" if split == "stills" else "video"
                    items.append(Item(p, split, f"file:{folder}/{p.name}", split == "train", kind))
    return items


def identity_split(items: list[Item], val_fraction: float, seed: int) -> tuple[list[Item], list[Item]]:
    """Disjoint identities between train and validation, stratified by split so each kind of material is in both.

    A person is on one side for every split: someone whose talking clips train the models must not have a silent clip
    among the held-out ones (the face model has seen that face). Splits are visited in order; a person already placed
    by an earlier split keeps their side, and new people fill each split's validation share.
    """
    rng = np.random.default_rng(seed)
    side: dict[str, str] = {}
    for split in TRAIN_SPLITS:
        ids = sorted({it.identity for it in items if it.split == split})
        if len(ids) < 2:
            for ident in ids:
                side.setdefault(ident, "train")
            continue
        target = max(1, round(len(ids) * val_fraction))
        have = sum(1 for ident in ids if side.get(ident) == "val")
        new = [ident for ident in ids if ident not in side]
        rng.shuffle(new)
        for ident in new:
            side[ident] = "val" if have < target else "train"
            have += side[ident] == "val"
    train = [it for it in items if side.get(it.identity) == "train"]
    val = [it for it in items if side.get(it.identity) == "val"]
    return train, val


def _cache_key(path: Path) -> str:
    """File identity plus the ingest settings that shape the crops, so a changed pipeline is never read stale."""
    from vaedetect.faces import FaceConfig

    st = path.stat()
    version = f"v2:{FaceConfig()}"
    h = hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{version}".encode()).hexdigest()[:16]
    return f"{path.stem}-{h}"


def cache_clip(item: Item, cache_dir: Path) -> Path | None:
    """Ingest one file once and keep only what training needs (crops, mel, speech). None if unusable."""
    from vaedetect.ingest import ingest

    out = cache_dir / f"{_cache_key(item.path)}.npz"
    if out.exists():
        return out
    try:
        clip = ingest(item.path)
    except InputError as err:
        log.warning("skipping %s: %s", item.path.name, err)
        return None
    f = clip.faces
    arrays: dict[str, np.ndarray] = {
        "face_crops": f.face_crops,
        "present": f.present,
        "mouth_crops": f.mouth_crops,
        "lip": f.lip_opening,
        "speech": clip.speech.speech,
        "is_image": np.array(clip.is_image),
    }
    if clip.mel is not None:
        arrays["mel"] = clip.mel
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    return out


def load_cached(path: Path) -> ClipArrays:
    with np.load(path, allow_pickle=False) as z:
        return ClipArrays(
            face_crops=z["face_crops"],
            present=z["present"],
            mouth_crops=z["mouth_crops"],
            mel=z["mel"] if "mel" in z.files else None,
            speech=z["speech"],
            is_image=bool(z["is_image"]),
            lip=z["lip"] if "lip" in z.files else None,
        )


# ---------------------------------------------------------------------------------------------------------------
# Distributed helpers (torchrun / DDP); single process when WORLD_SIZE is unset


def _dist_setup(device: str) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    if world > 1 and device.startswith("cuda"):
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return (dist.get_rank() if dist.is_initialized() else 0), world


def _is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints: safetensors for tensors, JSON for structure (resumable without pickle)


def save_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, extra: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
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

    def __init__(self, model: nn.Module, loss_fn: Callable[..., tuple[torch.Tensor, dict[str, float]]]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, *batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return self.loss_fn(self.model, *batch)


def fit(
    name: str,
    model: nn.Module,
    loss_fn: Callable[..., tuple[torch.Tensor, dict[str, float]]],
    sample: Callable[[np.random.Generator], tuple[torch.Tensor, ...]],
    steps: int,
    cfg: TrainConfig,
    work: Path,
    device: str,
) -> list[dict[str, float]]:
    """Generic resumable training loop (AdamW + cosine schedule); returns the loss log (empty for 0 steps)."""
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
    bar = tqdm(range(start, steps), desc=f"train {name}", disable=not _is_main(), leave=False)
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
        if _is_main() and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < steps:
            save_checkpoint(ckpt, model, opt, step + 1, {"history": history})
    model.eval().cpu()
    if _is_main():
        save_torch({k: v.contiguous() for k, v in model.state_dict().items()}, str(final))
        log_path.write_text(json.dumps(history))
        if ckpt.exists():
            ckpt.unlink()
            ckpt.with_suffix(".json").unlink(missing_ok=True)
    _barrier()
    return history


# ---------------------------------------------------------------------------------------------------------------
# Stage data samplers


def _resize_batch(crops: np.ndarray, px: int) -> np.ndarray:
    import cv2

    if crops.shape[1] == px:
        return crops
    return np.stack([cv2.resize(c, (px, px), interpolation=cv2.INTER_AREA) for c in crops])


def face_pool(clips: list[ClipArrays], stride: int, px: int) -> np.ndarray:
    out = []
    for c in clips:
        idx = np.flatnonzero(c.present)[:: 1 if c.is_image else stride]
        if idx.size:
            out.append(_resize_batch(c.face_crops[idx], px))
    return np.concatenate(out) if out else np.zeros((0, px, px, 3), np.uint8)


def mel_stats(clips: list[ClipArrays]) -> tuple[np.ndarray, np.ndarray]:
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


# ---------------------------------------------------------------------------------------------------------------
# Calibration: evidence on held-out real segments and their pseudo-fakes


def _segments(c: ClipArrays, seconds: float, max_n: int) -> list[slice]:
    n = c.n_frames
    if c.is_image:
        return [slice(0, 1)]
    length = max(int(seconds * c.fps), 10)
    if n < length:
        return [slice(0, n)] if c.present.sum() >= 5 else []
    starts = np.linspace(0, n - length, min(max_n, max(1, n // length))).astype(int)
    return [slice(int(s), int(s) + length) for s in starts if c.present[s : s + length].mean() > 0.5]


def make_pseudofake(
    kind: str, seg: ClipArrays, donor: ClipArrays, bundle: ModelBundle, rng: np.random.Generator
) -> ClipArrays | None:
    """Apply one pseudo-fake kind to a real segment (the same perturbation on every frame, like a real forgery)."""
    if kind in AUDIO_KINDS:
        if seg.mel is None or seg.is_image:
            return None
        if kind == "audio-smooth":
            return replace(seg, mel=pseudofakes.smooth_mel(seg.mel, rng))
        if kind == "audio-shift":
            return seg.audio_shifted(int(rng.choice([-1, 1]) * rng.integers(5, 26)))  # 0.2-1.0 s at 25 fps
        if donor.mel is None:
            return None
        mel = pseudofakes.swap_audio(seg.mel, donor.mel)
        return replace(seg, mel=mel, speech=pseudofakes.swap_audio(seg.speech, donor.speech))
    faces = seg.face_crops.copy()
    mouths = seg.mouth_crops.copy()
    seed = int(rng.integers(2**31))
    donor_idx = np.flatnonzero(donor.present)
    if kind == "cross-blend" and donor_idx.size == 0:
        return None
    if kind == "vae-regen":
        from vaedetect.evidence import run_face_vae

        idx = np.flatnonzero(seg.present)
        recon, _, _ = run_face_vae(bundle, faces[idx])
    for j, i in enumerate(np.flatnonzero(seg.present)):
        frame_rng = np.random.default_rng(seed)  # same perturbation for every frame of the segment
        if kind == "self-blend":
            faces[i], _ = pseudofakes.self_blend(faces[i], frame_rng)
        elif kind == "cross-blend":
            src = donor.face_crops[donor_idx[j % donor_idx.size]]
            faces[i], _ = pseudofakes.cross_blend(faces[i], src, frame_rng)
        elif kind == "vae-regen":
            faces[i] = pseudofakes.regenerate_mouth(faces[i], recon[j])
        else:
            raise ValueError(kind)
        mouths[i] = mouth_crop_from_aligned(faces[i], mouths.shape[1])
    return replace(seg, face_crops=faces, mouth_crops=mouths)


def threshold_at_fpr(real_scores: np.ndarray, fpr: float) -> float:
    """The lowest threshold that at most ``fpr`` of these real scores reach (``score >= threshold``).

    With k = floor(fpr * n) it lies between the k-th and (k+1)-th highest real score; with k = 0 (fewer than 1/fpr
    reals) just above the highest, so no real seen is called fake. An interpolated quantile does not hold the rate
    on the ~20 real clips a head may have: it let 2 of 22 (9%) reach a "5%" threshold.
    """
    s = np.sort(np.asarray(real_scores, dtype=np.float64))[::-1]
    k = int(np.floor(fpr * len(s) + 1e-9))
    if k == 0:
        return float(np.nextafter(s[0], np.inf))
    if k >= len(s):
        return float(s[-1])
    t = (s[k - 1] + s[k]) / 2
    return float(t if t > s[k] else np.nextafter(s[k], np.inf))  # ties: stay above the (k+1)-th


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, soft: bool = False) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (LBFGS); ``y`` may be soft targets (distillation)."""
    xt = torch.from_numpy(x).double()
    yt = torch.from_numpy(y).double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    pos = float(y.mean()) if not soft else 0.5
    weights = torch.where(yt > 0.5, 0.5 / max(pos, 1e-3), 0.5 / max(1 - pos, 1e-3)) if not soft else torch.ones_like(yt)
    opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = xt @ w + b
        loss = (weights * nn.functional.binary_cross_entropy_with_logits(logits, yt, reduction="none")).mean()
        loss = loss + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


def _impute(z: dict[str, float | None], features: tuple[str, ...]) -> np.ndarray | None:
    vals = [z.get(f) for f in features]
    return None if any(v is None for v in vals) else np.array(vals, dtype=np.float64)


def calibrate(
    bundle: ModelBundle,
    train_clips: list[ClipArrays],
    val_clips: list[tuple[Item, ClipArrays]],
    cfg: TrainConfig,
    work: Path,
) -> dict[str, Any]:
    """Real-data statistics, fusion heads (Platt-scaled on pseudo-fakes), thresholds at measured FPR, reference map."""
    from vaedetect.evidence import mahalanobis, run_face_vae

    rng = np.random.default_rng(cfg.seed + 7)
    px = bundle.config.face_vae.image_px
    # 1. Latent Gaussian of real training faces (shrinkage covariance: few samples for 64-256 dims).
    pool = face_pool(train_clips, cfg.face_frame_stride * 2, px)
    if len(pool) > 6000:
        pool = pool[rng.choice(len(pool), 6000, replace=False)]
    _, _, mu_train = run_face_vae(bundle, pool)
    mean = mu_train.mean(axis=0)
    cov = np.cov(mu_train - mean, rowvar=False)
    shrink = 0.1
    cov = (1 - shrink) * cov + shrink * np.eye(cov.shape[0]) * np.trace(cov) / cov.shape[0]
    bundle.stats["latent_mean"] = mean.astype(np.float32)
    bundle.stats["latent_precision"] = np.linalg.inv(cov).astype(np.float32)
    # 2. Per-pixel error statistics on held-out real faces.
    val_pool = face_pool([c for _, c in val_clips], cfg.face_frame_stride * 2, px)
    if len(val_pool) > 3000:
        val_pool = val_pool[rng.choice(len(val_pool), 3000, replace=False)]
    _, err_val, mu_val = run_face_vae(bundle, val_pool)
    bundle.stats["pixel_err_mean"] = err_val.mean(axis=0).astype(np.float32)
    bundle.stats["pixel_err_std"] = (err_val.std(axis=0) + 1e-3).astype(np.float32)

    # 3. Evidence on held-out real segments and on their pseudo-fakes.
    samples: list[tuple[RawEvidence, int, str, str]] = []  # (evidence, label, kind, identity)
    video_val = [(it, c) for it, c in val_clips if not c.is_image]
    image_val = [(it, c) for it, c in val_clips if c.is_image and c.present.any()]
    jobs = []
    for k, (it, c) in enumerate(video_val):
        for s in _segments(c, cfg.segment_s, cfg.max_segments_per_clip):
            jobs.append((it, c.frames(s.start, s.stop), video_val[(k + 1) % len(video_val)][1]))
    for k, (it, c) in enumerate(image_val):
        jobs.append((it, c, image_val[(k + 1) % len(image_val)][1]))
    reference_fake_latents, reference_fake_kinds = [], []
    for it, seg, donor in tqdm(jobs, desc="calibrate", leave=False):
        samples.append((compute_evidence(bundle, seg, keep_images=False), 0, "real", it.identity))
        if seg.is_image:
            # The same real photo tightly cropped and low-resolution, as dataset face crops arrive: thresholds must
            # hold for those too, and this is how we measure real inputs of that quality without any fake.
            edge = replace(seg, face_crops=np.stack([pseudofakes.frame_edge(f, rng) for f in seg.face_crops]))
            small = replace(edge, face_crops=np.stack([pseudofakes.degrade(f, rng) for f in edge.face_crops]))
            for variant in (edge, small):
                samples.append((compute_evidence(bundle, variant, keep_images=False), 0, "real-variant", it.identity))
        kinds = FACE_KINDS + (AUDIO_KINDS if seg.mel is not None and seg.speech.sum() >= 8 else ())
        for kind in kinds:
            fake = make_pseudofake(kind, seg, donor, bundle, rng)
            if fake is None:
                continue
            ev = compute_evidence(bundle, fake, keep_images=False)
            samples.append((ev, 1, kind, it.identity))
            if kind in FACE_KINDS and ev.latents.size:
                reference_fake_latents.append(ev.latents[:: max(1, len(ev.latents) // 4)])
                reference_fake_kinds += [kind] * len(reference_fake_latents[-1])

    # 4. Normalise each evidence against the real segments.
    evidence_norm = {}
    for name in EVIDENCE:
        vals = np.array([getattr(ev, name) for ev, y, _, _ in samples if y == 0 and getattr(ev, name) is not None])
        if vals.size >= 2:
            evidence_norm[name] = {"mean": float(vals.mean()), "std": float(vals.std() + 1e-6), "n": int(vals.size)}
    bundle.calibration = {"evidence": evidence_norm}
    zs = [(normalize(ev, bundle.calibration), y, kind, ident) for ev, y, kind, ident in samples]

    # 5. Product of experts. Each evidence is one expert: a 1-D logistic model of its z-score, fitted on the real
    # segments against the pseudo-fakes it can see at all (sync against shifted/swapped audio, the face experts against
    # blended or regenerated faces). Its log-odds is that evidence's likelihood ratio; under PoE the fused log-odds is
    # their sum, so experts that saw different manipulations do not wash each other out (a joint logistic model fitted
    # on the pooled pseudo-fakes does: a sync fake looks real to the face experts and vice versa). The face-only and
    # audio-only students are the same experts restricted to what a photo or a faceless clip offers, which under the
    # PoE's independence assumption is exactly the teacher with the missing experts marginalised out. Weights are kept
    # >= 0: being *more* real-looking than real footage is never evidence of manipulation.
    #
    # With ``fusion="equal"`` no expert is fitted: every evidence with real-clip statistics counts alike, the one-class
    # reading of the z-scores (each already says how unusual the input is next to real footage). Why it is the
    # default: our face and voice pseudo-fakes move the latent and voice evidence the wrong way (a VAE regeneration or
    # a smoothed voice is *more* typical for the VAE, calibration AUC < 0.5), so fitted weights for those are 0 by
    # construction, and whether the face expert clears 0 is a coin flip between trainings (the seed-1 run of the
    # default recipe left photos and silent clips with no head at all: every one "uncertain" at 50 %). Over three
    # trainings the dev AUC went 0.80/0.47/0.44 (poe) to 0.82/0.90/0.85 (equal; a 4th: 0.72 -> 0.86); see bench/results.
    experts: dict[str, tuple[float, float]] = {}
    equal = cfg.fusion == "equal"
    if equal:  # an evidence has a z-score exactly when it has real-clip statistics
        experts = {name: (1.0, 0.0) for name in EXPERT_KINDS if name in evidence_norm}
    else:
        for name, kinds in EXPERT_KINDS.items():
            data = [(z[name], y) for z, y, kind, _ in zs if z.get(name) is not None and (y == 0 or kind in kinds)]
            ys = np.array([y for _, y in data], dtype=np.float64)
            if len(set(ys.tolist())) < 2:
                continue
            w, b = _fit_logistic(np.array([[v] for v, _ in data], dtype=np.float64), ys)
            experts[name] = (max(float(w[0]), 0.0), float(b) if w[0] > 0 else 0.0)
    heads: dict[str, Head] = {}
    for name, feats in HEAD_FEATURES.items():
        feats = tuple(f for f in feats if f in experts)
        if not feats:
            continue
        w = np.array([experts[f][0] for f in feats])
        b = float(sum(experts[f][1] for f in feats))
        if equal:
            w = w / np.sqrt(len(feats))  # Stouffer: about N(0, 1) on real inputs when the evidence is independent
        # Platt step: one scale and offset on the summed log-odds, fitted on real segments against the pseudo-fakes
        # this head can see, so fake_probability is calibrated (independent experts overcount correlated evidence).
        # Monotone, so rankings (and AUC) are the sum's own. Skipped when the pseudo-fakes score *below* the real
        # segments on the sum (a negative scale would invert the score); the head then keeps the plain sum.
        visible = {k for f in feats for k in EXPERT_KINDS[f]}
        rows = [(float(w @ x), y) for z, y, kind, _ in zs if (x := _impute(z, feats)) is not None
                and (y == 0 or kind in visible)]  # fmt: skip
        ys = np.array([y for _, y in rows], dtype=np.float64)
        if len(set(ys.tolist())) == 2 and np.ptp([s for s, _ in rows]) > 0:
            a, c = _fit_logistic(np.array([[s] for s, _ in rows]), ys, l2=1e-4)
            if a[0] > 0:
                w, b = w * float(a[0]), float(c)
        head = Head(name, feats, w, b, 0.0, 1.0)
        if head.informative:
            heads[name] = head
    # Thresholds: each head on the real samples it will actually score (a photo's single frame is noisier than a
    # 3-second segment's average, so photos get their own quantiles), falling back to all samples it can see.
    reals = [z for z, y, _, _ in zs if y == 0]
    for head in heads.values():
        mine = [z for z in reals if select_head(heads, z) is head]
        if len(mine) < 20:
            mine = [z for z in reals if _impute(z, head.features) is not None]
        p_real = np.array([head.probability(z) for z in mine])
        fake_thr = threshold_at_fpr(p_real, FAKE_FPR) if p_real.size else 0.9
        unc_thr = threshold_at_fpr(p_real, UNCERTAIN_FPR) if p_real.size else 0.5
        # "Likely manipulated" also needs the fused probability itself to favour manipulation.
        fake_thr = min(max(fake_thr, 0.5), 0.99)
        head.fake, head.uncertain = fake_thr, min(unc_thr, fake_thr - MIN_UNCERTAIN_BAND)
    experts_json = {
        k: {"weight": w, "bias": b, "fitted_against": [] if equal else list(EXPERT_KINDS[k])}
        for k, (w, b) in experts.items()
    }

    # 6. Measured metrics of each head on its calibration samples (in-sample: reported as such).
    from vaedetect.evaluate import binary_metrics

    metrics: dict[str, Any] = {"note": "on held-out real segments and their pseudo-fakes (calibration set)"}
    for name, head in heads.items():
        ps, ys, ks = [], [], []
        for z, y, kind, _ in zs:
            if _impute(z, head.features) is None:
                continue
            ps.append(head.probability(z))
            ys.append(y)
            ks.append(kind)
        ps_a, ys_a = np.array(ps), np.array(ys)
        m = binary_metrics(ys_a, ps_a)
        m["fpr_at_fake_threshold"] = float(np.mean(ps_a[ys_a == 0] >= head.fake)) if (ys_a == 0).any() else None
        m["fpr_at_uncertain_threshold"] = (
            float(np.mean(ps_a[ys_a == 0] >= head.uncertain)) if (ys_a == 0).any() else None
        )
        m["per_kind_detection"] = {
            k: float(np.mean(ps_a[np.array(ks) == k] >= head.fake)) for k in sorted(set(ks)) if k != "real"
        }
        m["n_real"], m["n_fake"] = int((ys_a == 0).sum()), int((ys_a == 1).sum())
        metrics[name] = m
    per_evidence = {}
    for name in EVIDENCE:
        ys_e = np.array([y for z, y, _, _ in zs if z[name] is not None])
        ps_e = np.array([z[name] for z, _, _, _ in zs if z[name] is not None])
        if len(set(ys_e.tolist())) == 2:
            per_evidence[name] = binary_metrics(ys_e, ps_e)["auc"]
    metrics["per_evidence_auc"] = per_evidence

    bundle.calibration["heads"] = {n: h.to_json() for n, h in heads.items()}
    bundle.calibration["experts"] = experts_json
    bundle.calibration["metrics"] = metrics
    bundle.calibration["fpr_targets"] = {"fake": FAKE_FPR, "uncertain": UNCERTAIN_FPR}
    bundle.calibration["fusion"] = cfg.fusion

    # 7. Reference map: real latents (held-out) and pseudo-fake latents, embedded in 2-D with UMAP at build time.
    real_lat = mu_val[rng.choice(len(mu_val), min(len(mu_val), cfg.umap_points), replace=False)]
    fake_lat = np.concatenate(reference_fake_latents) if reference_fake_latents else np.zeros((0, real_lat.shape[1]))
    fake_kinds = np.array(reference_fake_kinds, dtype="<U16")
    if len(fake_lat) > cfg.umap_points:
        keep = rng.choice(len(fake_lat), cfg.umap_points, replace=False)
        fake_lat, fake_kinds = fake_lat[keep], fake_kinds[keep]
    both = np.concatenate([real_lat, fake_lat]).astype(np.float32)
    xy = embed_2d(both, cfg.seed)
    bundle.reference = {
        "real_latents": real_lat.astype(np.float32),
        "fake_latents": fake_lat.astype(np.float32),
        "real_xy": xy[: len(real_lat)].astype(np.float32),
        "fake_xy": xy[len(real_lat) :].astype(np.float32),
        "fake_kinds": fake_kinds,
        "real_mahalanobis": mahalanobis(bundle, real_lat).astype(np.float32),
    }
    return metrics


def embed_2d(latents: np.ndarray, seed: int) -> np.ndarray:
    """UMAP when there are enough points, PCA otherwise (UMAP needs a neighbourhood to exist)."""
    if len(latents) >= 30:
        import umap

        reducer = umap.UMAP(n_neighbors=15, min_dist=0.2, random_state=seed, n_jobs=1)
        return reducer.fit_transform(latents)
    centered = latents - latents.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return centered @ vt[:2].T


# ---------------------------------------------------------------------------------------------------------------
# Sync offset accuracy on held-out real clips with a known artificial shift


def fit_offset_cue(bundle: ModelBundle, train_clips: list[ClipArrays]) -> None:
    """Fit the lip-from-voice regression on training clips with speech and keep it in the bundle's statistics."""
    usable = [
        (c.lip, c.mel, c.speech, c.present)
        for c in train_clips
        if c.mel is not None and c.lip is not None and not c.is_image and c.speech.sum() >= 10
    ]
    model = fit_lipvoice(usable)
    for key in LipVoice.STATS_KEYS:
        bundle.stats.pop(key, None)
    if model is not None:
        bundle.stats.update(model.to_stats())
        log.info("lip-from-voice: %d clips, natural lag %+d frames", len(usable), model.lag)


def offset_accuracy(bundle: ModelBundle, clips: list[ClipArrays], shifts=(-10, -5, 5, 10)) -> dict[str, Any]:
    """How often the estimated audio offset of a real clip whose audio was shifted by ``shifts`` frames is right.

    ``within_1_frame`` counts estimates within one frame of the shift, assuming the clip itself was in sync;
    ``within_1_frame_relative`` measures the estimate against the same clip's unshifted estimate instead, which
    separates "finds the shift" from "the recording (or this speaker's lip-to-sound lag) is not at exactly 0".
    ``within_1_frame_model_only`` is the alignment model's own arg-min without the lip-from-voice cue.
    """
    from vaedetect.evidence import sync_evidence

    def offsets(c: ClipArrays) -> RawEvidence:
        ev = RawEvidence()  # only the alignment step: the face and voice models do not see the shift
        sync_evidence(bundle, c, ev)
        return ev

    hits, rel_hits, model_hits, errors = [], [], [], []
    for c in clips:
        if c.mel is None or c.speech.sum() < 25:
            continue
        base = offsets(c).sync_offset
        for s in shifts:
            ev = offsets(c.audio_shifted(s))
            if ev.sync_offset is None:
                continue
            errors.append(abs(ev.sync_offset - s))
            hits.append(abs(ev.sync_offset - s) <= 1)
            model_hits.append(abs(ev.sync_offset_model - s) <= 1)
            if base is not None:
                rel_hits.append(abs(ev.sync_offset - base - s) <= 1)

    def rate(x: list[bool]) -> float | None:
        return float(np.mean(x)) if x else None

    return {
        "shifts_frames": list(shifts),
        "n": len(hits),
        "within_1_frame": rate(hits),
        "within_1_frame_relative": rate(rel_hits),
        "within_1_frame_model_only": rate(model_hits),
        "median_abs_error_frames": float(np.median(errors)) if errors else None,
    }


# ---------------------------------------------------------------------------------------------------------------
# Entry point


STAGES = ("face_vae", "blend", "audio_vae", "sync")


# Recipe fields that only shape one stage: a run that did not train the stage does not claim them.
STAGE_FIELDS = {
    "face_vae": ("face_steps", "face_refine_steps", "face_refine_lr"),
    "blend": ("blend_steps",),
    "audio_vae": ("audio_steps",),
    "sync": ("sync_steps", "sync_batch_size", "sync_hard_negatives", "sync_augment", "sync_min_negative_offset"),
}


def recipe_of(cfg: TrainConfig, stages: tuple[str, ...]) -> dict[str, Any]:
    """The training settings a bundle records: architectures live elsewhere in config.json, and the settings of
    stages this run did not train are left out (a continued bundle keeps its earlier run's under ``init_training``)."""
    skip = {"face_vae", "audio_vae", "sync", "blend"}
    skip |= {f for stage, fields in STAGE_FIELDS.items() if stage not in stages for f in fields}
    return {k: v for k, v in asdict(cfg).items() if k not in skip}


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    device: str = "cpu",
    cfg: TrainConfig | None = None,
    init: str | Path | None = None,
    only: tuple[str, ...] | None = None,
    fresh: bool = False,
) -> Path:
    """Run every stage and write a bundle to ``out_dir/bundle``; returns that folder.

    With ``init`` (a bundle folder) training continues from that bundle's weights on the split it recorded, so its
    held-out people stay held out; ``only`` then names the stages to train (the others keep their weights as they are),
    and calibration is redone for the result. ``fresh`` starts those stages from new weights instead: one model of a
    bundle retrained by today's recipe, without moving the split its other models and calibration depend on.
    """
    cfg = cfg or TrainConfig()
    stages = tuple(s for s in STAGES if s != "blend" or cfg.blend_steps > 0) if only is None else tuple(only)
    if unknown := set(stages) - set(STAGES):
        raise ValueError(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    if only is not None and init is None:
        raise ValueError("training only some stages needs a bundle to take the other models from (init)")
    if fresh and only is None:
        raise ValueError("fresh weights are for some stages of a bundle (init and only); a full run is always fresh")
    if "blend" in stages and cfg.blend_steps <= 0:
        raise ValueError("the blend stage needs blend_steps > 0 (the default recipe has no blend classifier)")
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    work = out_dir / "work"
    cache = out_dir / "cache"
    work.mkdir(parents=True, exist_ok=True)
    rank, world = _dist_setup(device)
    torch.manual_seed(cfg.seed + rank)
    t_start = time.time()

    items = read_manifest(data_dir)
    if init is not None:
        bundle = ModelBundle.load(init)
        bcfg = bundle.config
        cfg = replace(cfg, seed=bcfg.data.get("split", {}).get("seed", cfg.seed))
        train_items, val_items = _bundle_split(bundle, items, data_dir, cfg)
        train_clips, val_clips = _load_split(train_items, val_items, cache)
        if "blend" in stages and bundle.blend is None:
            bcfg.blend = cfg.blend
            bundle.blend = BlendNet(cfg.blend)
        if fresh:
            new = ModelBundle.new(bcfg)  # bcfg.blend is set above when the blend stage is trained
            for stage in stages:
                setattr(bundle, stage, getattr(new, stage))
        # The architectures are the bundle's; the recipe (steps, lr, augmentation) is this run's.
        cfg = replace(
            cfg, face_vae=bcfg.face_vae, audio_vae=bcfg.audio_vae, sync=bcfg.sync, blend=bcfg.blend or cfg.blend
        )
    else:
        if cfg.max_files:
            items = items[: cfg.max_files]
        train_items, val_items, train_clips, val_clips = _split_and_load(items, cfg.val_fraction, cfg.seed, cache)
        blend = cfg.blend if "blend" in stages else None
        bcfg = BundleConfig(face_vae=cfg.face_vae, audio_vae=cfg.audio_vae, sync=cfg.sync, blend=blend)
        bundle = ModelBundle.new(bcfg)
    split = _record_split(train_items, val_items, cfg.seed, data_dir)
    (work / "split.json").write_text(json.dumps(split, indent=2))
    histories: dict[str, list] = {}

    # Face VAE on every real face (videos with or without sound, and photos).
    faces = face_pool(train_clips, cfg.face_frame_stride, cfg.face_vae.image_px)
    if len(faces) == 0:
        raise RuntimeError("no faces found in the training data")

    def sample_faces(rng: np.random.Generator, augment: bool = False) -> tuple[torch.Tensor]:
        b = faces[rng.integers(0, len(faces), cfg.batch_size)]
        if augment:
            b = np.stack([pseudofakes.augment_face(img, rng) for img in b])
        flip = rng.random(len(b)) < 0.5
        b = np.where(flip[:, None, None, None], b[:, :, ::-1], b)
        return (torch.from_numpy(np.ascontiguousarray(b)).permute(0, 3, 1, 2).float().div_(255.0),)

    if "face_vae" in stages:
        histories["face_vae"] = fit(
            "face_vae", bundle.face_vae, lambda m, x: m.loss(x), sample_faces, cfg.face_steps, cfg, work, device
        )
        histories["face_vae_refine"] = fit(
            "face_vae_refine",
            bundle.face_vae,
            lambda m, x: m.loss(x),
            lambda rng: sample_faces(rng, augment=True),
            cfg.face_refine_steps,
            replace(cfg, lr=cfg.face_refine_lr),
            work,
            device,
        )

    if "blend" in stages:
        histories["blend"] = _fit_blend(bundle, train_clips, cfg, work, device)
    if {"audio_vae", "sync"} & set(stages):
        speech_clips = [c for c in train_clips if c.mel is not None and c.speech.sum() >= 10]
        if not speech_clips:
            raise RuntimeError("no speech found in the training data")
        if init is None:  # a bundle being continued keeps the statistics its audio models were trained with
            bundle.stats["mel_mean"], bundle.stats["mel_std"] = mel_stats(speech_clips)
        if "audio_vae" in stages:
            histories["audio_vae"] = _fit_audio_vae(bundle, speech_clips, cfg, work, device)
        if "sync" in stages:
            histories["sync"] = _fit_sync(bundle, speech_clips, cfg, work, device)

    bundle_dir = out_dir / "bundle"
    if _is_main():
        for m in (bundle.face_vae, bundle.audio_vae, bundle.sync, bundle.blend):
            if m is not None:
                m.cpu().eval()
        _calibrate_and_measure(bundle, train_clips, val_clips, cfg, work, split)
        earlier = {"init": str(init), "fresh": fresh, "init_training": bcfg.training} if init is not None else {}
        bcfg.training = {
            **recipe_of(cfg, stages),
            "stages": list(stages),
            **earlier,
            "device": device,
            "world_size": world,
            "seconds": round(time.time() - t_start, 1),
            "n_train_clips": len(train_clips),
            "n_val_clips": len(val_clips),
            "n_train_faces": len(faces),
            "final_losses": {k: v[-1] for k, v in histories.items() if v},
        }
        bcfg.data = {
            "source": str(data_dir.name),
            "splits_used": list(TRAIN_SPLITS),
            "licences": _licences(data_dir),
            "split": split,
        }
        bundle.config = bcfg
        from vaedetect.hub import make_model_card

        bundle.save(bundle_dir)
        (bundle_dir / "README.md").write_text(make_model_card(bundle_dir))
        (work / "histories.json").write_text(json.dumps(histories))
    _barrier()
    return bundle_dir


def _fit_blend(bundle: ModelBundle, train_clips: list[ClipArrays], cfg: TrainConfig, work: Path, device: str) -> list:
    """Blend classifier: real faces against self-blended and cross-blended copies made on the fly (SBI)."""
    blend_faces = face_pool(train_clips, cfg.face_frame_stride, cfg.blend.image_px)

    def sample_blend(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        b = blend_faces[rng.integers(0, len(blend_faces), cfg.batch_size)].copy()
        y = (np.arange(len(b)) % 2).astype(np.float32)
        for i in np.flatnonzero(y):
            if rng.random() < 0.7:
                b[i], _ = pseudofakes.self_blend(b[i], rng)
            else:
                donor = blend_faces[rng.integers(0, len(blend_faces))]
                b[i], _ = pseudofakes.cross_blend(b[i], donor, rng)
        b = np.stack([pseudofakes.degrade(img, rng) for img in b])  # same for both classes: not a cue
        flip = rng.random(len(b)) < 0.5
        b = np.where(flip[:, None, None, None], b[:, :, ::-1], b)
        x = torch.from_numpy(np.ascontiguousarray(b)).permute(0, 3, 1, 2).float().div_(255.0)
        return x, torch.from_numpy(y)

    return fit("blend", bundle.blend, lambda m, x, y: m.loss(x, y), sample_blend, cfg.blend_steps, cfg, work, device)


def _fit_audio_vae(
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


def _fit_sync(bundle: ModelBundle, speech_clips: list[ClipArrays], cfg: TrainConfig, work: Path, device: str) -> list:
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


def recalibrate(
    bundle_dir: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    fusion: str | None = None,
) -> Path:
    """Keep a bundle's weights, redo its calibration (statistics, fusion, thresholds, reference map) with this code.

    For when the ingest pipeline or the fusion changed after the models were trained: thresholds must be measured on
    crops made the way the detector now makes them. Uses the file lists the bundle records as its split, so what the
    weights were trained on stays out of calibration; a validation file whose person is in the training list is left
    out too (older bundles were split per kind of material and could have one). Writes ``out_dir/bundle``.
    """
    from vaedetect.hub import make_model_card

    out_dir, data_dir = Path(out_dir), Path(data_dir)
    bundle = ModelBundle.load(bundle_dir)
    recorded = bundle.config.data.get("split", {})
    fusion = fusion or bundle.calibration.get("fusion", "poe")
    cfg = replace(TrainConfig(), seed=recorded.get("seed", 0) if seed is None else seed, fusion=fusion)
    train_items, val_items = _bundle_split(bundle, read_manifest(data_dir), data_dir, cfg)
    train_clips, val_clips = _load_split(train_items, val_items, out_dir / "cache")
    split = _record_split(train_items, val_items, cfg.seed, data_dir)
    bundle.config.data = {**bundle.config.data, "split": split}
    _calibrate_and_measure(bundle, train_clips, val_clips, cfg, out_dir, split)
    bundle.config.training = {**bundle.config.training, "recalibrated": time.strftime("%Y-%m-%d")}
    folder = bundle.save(out_dir / "bundle")
    (folder / "README.md").write_text(make_model_card(folder))
    return folder


def _bundle_split(
    bundle: ModelBundle, items: list[Item], data_dir: Path, cfg: TrainConfig
) -> tuple[list[Item], list[Item]]:
    """The train/validation files a bundle's weights were made with: its recorded file lists, less any validation file
    whose person is in the training list (older bundles were split per kind of material and could have one); for a
    bundle that recorded only its seed, the identity split of ``items`` with ``cfg.seed``."""
    recorded = bundle.config.data.get("split", {})
    if not (recorded.get("train") and recorded.get("val")):
        return identity_split(items, cfg.val_fraction, cfg.seed)
    by_path = {str(it.path.relative_to(data_dir)): it for it in items}
    missing = [p for p in (*recorded["train"], *recorded["val"]) if p not in by_path]
    if missing:
        raise RuntimeError(f"{len(missing)} files of the bundle's recorded split are not in {data_dir}")
    train_items = [by_path[p] for p in recorded["train"]]
    seen = {it.identity for it in train_items}
    val_items = [by_path[p] for p in recorded["val"] if by_path[p].identity not in seen]
    if len(val_items) < len(recorded["val"]):
        log.warning("left %d validation files out: their people are in the training split",
                    len(recorded["val"]) - len(val_items))  # fmt: skip
    return train_items, val_items


def _record_split(train_items: list[Item], val_items: list[Item], seed: int, data_dir: Path) -> dict[str, Any]:
    """The split as config.json records it: file lists (what recalibration reuses) and the identities on each side."""
    return {
        "train": sorted(str(it.path.relative_to(data_dir)) for it in train_items),
        "val": sorted(str(it.path.relative_to(data_dir)) for it in val_items),
        "train_identities": sorted({it.identity for it in train_items}),
        "val_identities": sorted({it.identity for it in val_items}),
        "seed": seed,
    }


def _split_and_load(
    items: list[Item], val_fraction: float, seed: int, cache: Path
) -> tuple[list[Item], list[Item], list[ClipArrays], list[tuple[Item, ClipArrays]]]:
    """Identity split, then every file ingested once into ``cache``."""
    train_items, val_items = identity_split(items, val_fraction, seed)
    return train_items, val_items, *_load_split(train_items, val_items, cache)


def _load_split(
    train_items: list[Item], val_items: list[Item], cache: Path
) -> tuple[list[ClipArrays], list[tuple[Item, ClipArrays]]]:
    """Every file ingested once into ``cache`` (rank 0 writes, other ranks wait and read)."""
    items = [*train_items, *val_items]
    cache.mkdir(parents=True, exist_ok=True)
    cached: dict[Path, Path | None] = {}
    if _is_main():
        cached = {it.path: cache_clip(it, cache) for it in tqdm(items, desc="ingest", leave=False)}
    _barrier()
    if not _is_main():
        cached = {it.path: cache_clip(it, cache) for it in items}
    train_clips = [load_cached(p) for it in train_items if (p := cached.get(it.path))]
    val_clips = [(it, load_cached(p)) for it in val_items if (p := cached.get(it.path))]
    log.info("clips: %d train, %d val", len(train_clips), len(val_clips))
    return train_clips, val_clips


def _calibrate_and_measure(
    bundle: ModelBundle,
    train_clips: list[ClipArrays],
    val_clips: list[tuple[Item, ClipArrays]],
    cfg: TrainConfig,
    work: Path,
    split: dict[str, Any],
) -> dict[str, Any]:
    """Lip-from-voice fit, calibration and held-out offset accuracy, recorded with the identities of ``split``."""
    fit_offset_cue(bundle, train_clips)
    metrics = calibrate(bundle, train_clips, val_clips, cfg, work)
    metrics["offset_accuracy"] = offset_accuracy(bundle, [c for _, c in val_clips if not c.is_image])
    bundle.calibration["metrics"] = metrics
    bundle.calibration["split"] = {k: split[k] for k in ("train_identities", "val_identities", "seed")}
    return metrics


def _licences(data_dir: Path) -> list[str]:
    manifest = data_dir / "manifest.csv"
    if not manifest.exists():
        return []
    with manifest.open(newline="") as fh:
        return sorted({r["license"] for r in csv.DictReader(fh) if r["split"] in TRAIN_SPLITS and r.get("license")})
