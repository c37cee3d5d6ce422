"""The two runs that make a bundle: :func:`train` (every stage, then calibration) and :func:`recalibrate` (keep the
weights, redo the calibration).

Stages run in order and each leaves its result in ``OUT/work/``; a re-run skips finished stages and resumes an
interrupted one from its last checkpoint. The bundle is written to ``OUT/bundle``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from vaedetect.evidence import ClipArrays
from vaedetect.model_card import make_model_card
from vaedetect.models import BundleConfig, ModelBundle, Preprocessing
from vaedetect.models.blend import BlendNet
from vaedetect.training import data, evidence_stage, stages
from vaedetect.training.calibrate import calibrate
from vaedetect.training.data import Item
from vaedetect.training.loop import barrier, dist_setup, is_main
from vaedetect.training.offsets import fit_offset_cue, offset_accuracy
from vaedetect.training.recipes import STAGES, TrainConfig, recipe_of
from vaedetect.training.stacking import CONFIGS

log = logging.getLogger("vaedetect.train")


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    device: str = "cpu",
    cfg: TrainConfig | None = None,
    init: str | Path | None = None,
    only: tuple[str, ...] | None = None,
    fresh: bool = False,
    cache: Path | None = None,
    workers: int = 2,
) -> Path:
    """Run every stage and write a bundle to ``out_dir/bundle``; returns that folder.

    The last stage, the evidence stage, measures every labelled file into ``cache`` (default ``out_dir/cache/evidence``;
    re-runs resume) with ``workers`` processes. ``only=("evidence",)`` with ``init`` runs that stage alone on a copy of
    ``init``: its seeds keep their weights and calibration.

    With ``init`` (a bundle folder) training continues from that bundle's weights on the split it recorded, so its
    held-out people stay held out; ``only`` then names the stages to train (the others keep their weights as they are),
    and calibration is redone for the result. ``fresh`` starts those stages from new weights instead: one model of a
    bundle retrained by today's recipe, without moving the split its other models and calibration depend on.
    """
    cfg = cfg or TrainConfig()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if only == ("evidence",):
        if init is None:
            raise ValueError("the evidence stage alone needs a bundle to take the other models from (init)")
        return _evidence_only(init, data_dir, out_dir, cfg, cache, workers)
    run_stages = tuple(s for s in STAGES if s != "blend" or cfg.blend_steps > 0) if only is None else tuple(only)
    _check_stages(run_stages, cfg, init=init, only=only, fresh=fresh)
    work = out_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    rank, world = dist_setup(device)
    torch.manual_seed(cfg.seed + rank)
    t_start = time.time()

    items = data.read_manifest(data_dir)
    if init is not None:
        bundle = ModelBundle.load(init)
        bcfg = bundle.config
        cfg = replace(cfg, seed=bcfg.data.get("split", {}).get("seed", cfg.seed))
        train_items, val_items = data.bundle_split(bundle, items, data_dir, cfg.val_fraction, cfg.seed)
        if "blend" in run_stages and bundle.blend is None:
            bcfg.blend = cfg.blend
            bundle.blend = BlendNet(cfg.blend)
        if fresh:
            new = ModelBundle.new(bcfg)  # bcfg.blend is set above when the blend stage is trained
            for stage in run_stages:
                setattr(bundle, stage, getattr(new, stage))
        # The architectures and preprocessing are the bundle's; the recipe (steps, lr, augmentation) is this run's.
        cfg = replace(
            cfg, face_vae=bcfg.face_vae, audio_vae=bcfg.audio_vae, sync=bcfg.sync, blend=bcfg.blend or cfg.blend
        )
    else:
        items = items[: cfg.max_files] if cfg.max_files else items
        train_items, val_items = data.identity_split(items, cfg.val_fraction, cfg.seed)
        blend = cfg.blend if "blend" in run_stages else None
        bcfg = BundleConfig(
            face_vae=cfg.face_vae, audio_vae=cfg.audio_vae, sync=cfg.sync, blend=blend, preprocessing=Preprocessing()
        )
        bundle = ModelBundle.new(bcfg)
    face_config = bcfg.preprocessing.face_config()
    train_clips, val_clips = data.load_split(train_items, val_items, out_dir / "cache", face_config)
    split = data.record_split(train_items, val_items, cfg.seed, data_dir)
    (work / "split.json").write_text(json.dumps(split, indent=2))

    faces = stages.face_pool(train_clips, cfg.face_frame_stride, cfg.face_vae.image_px)
    if len(faces) == 0:
        raise RuntimeError("no faces found in the training data")
    histories: dict[str, list] = {}
    if "face_vae" in run_stages:
        histories.update(stages.fit_face_vae(bundle, faces, cfg, work, device))
    if "blend" in run_stages:
        histories["blend"] = stages.fit_blend(bundle, train_clips, cfg, work, device)
    if {"audio_vae", "sync"} & set(run_stages):
        speech_clips = [c for c in train_clips if c.mel is not None and c.speech.sum() >= 10]
        if not speech_clips:
            raise RuntimeError("no speech found in the training data")
        if init is None:  # a bundle being continued keeps the statistics its audio models were trained with
            bundle.stats["mel_mean"], bundle.stats["mel_std"] = stages.mel_stats(speech_clips)
        if "audio_vae" in run_stages:
            histories["audio_vae"] = stages.fit_audio_vae(bundle, speech_clips, cfg, work, device)
        if "sync" in run_stages:
            histories["sync"] = stages.fit_sync(bundle, speech_clips, cfg, work, device)

    bundle_dir = out_dir / "bundle"
    if is_main():
        for m in (bundle.face_vae, bundle.audio_vae, bundle.sync, bundle.blend):
            if m is not None:
                m.cpu().eval()
        _calibrate_and_measure(bundle, train_clips, val_clips, cfg, work, split)
        earlier = {"init": str(init), "fresh": fresh, "init_training": bcfg.training} if init is not None else {}
        bcfg.training = {
            **recipe_of(cfg, run_stages),
            "stages": list(run_stages),
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
            "splits_used": list(data.TRAIN_SPLITS),
            "licences": data.licences(data_dir),
            "split": split,
        }
        bundle.config = bcfg
        _save(bundle, bundle_dir)
        (work / "histories.json").write_text(json.dumps(histories))
        if cfg.learned_fusion:
            fit_evidence(bundle_dir, data_dir, cache or out_dir / "cache" / "evidence", cfg, workers=workers)
    barrier()
    return bundle_dir


def fit_evidence(bundle_dir: Path, data_dir: Path, cache: Path, cfg: TrainConfig, *, workers: int = 2) -> Path:
    """The evidence stage (:mod:`vaedetect.training.evidence_stage`) on a saved bundle, then its model card."""
    evidence_stage.fit_stage(bundle_dir, data_dir, cache, CONFIGS[cfg.evidence_config], workers=workers)
    (bundle_dir / "README.md").write_text(make_model_card(bundle_dir))
    return bundle_dir


def _evidence_only(
    init: str | Path, data_dir: Path, out_dir: Path, cfg: TrainConfig, cache: Path | None, workers: int
) -> Path:
    """``only=("evidence",)``: the bundle's seeds as they are (weights, calibration, split), a new evidence stage."""
    bundle_dir = out_dir / "bundle"
    if Path(init).resolve() == bundle_dir.resolve():
        raise ValueError(f"--out {out_dir} would overwrite the --init bundle it starts from: choose another --out")
    if bundle_dir.exists():
        shutil.rmtree(bundle_dir)
    shutil.copytree(init, bundle_dir, ignore=shutil.ignore_patterns(".*"))
    bundle = ModelBundle.load(bundle_dir)
    bundle.config.training = {
        **bundle.config.training,
        "stages": ["evidence"],
        "evidence_config": cfg.evidence_config,
        "init": str(init),
    }
    bundle.save(bundle_dir)
    return fit_evidence(bundle_dir, data_dir, cache or out_dir / "cache" / "evidence", cfg, workers=workers)


def _check_stages(
    run_stages: tuple[str, ...], cfg: TrainConfig, *, init: str | Path | None, only: tuple[str, ...] | None, fresh: bool
) -> None:
    """Refuse combinations that cannot make a sound bundle, before any work is done."""
    if unknown := set(run_stages) - set(STAGES):
        raise ValueError(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    if only is not None and init is None:
        raise ValueError("training only some stages needs a bundle to take the other models from (init)")
    if fresh and only is None:
        raise ValueError("fresh weights are for some stages of a bundle (init and only); a full run is always fresh")
    if "blend" in run_stages and cfg.blend_steps <= 0:
        raise ValueError("the blend stage needs blend_steps > 0 (the default recipe has no blend classifier)")


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
    out too (older bundles were split per kind of material and could have one). Writes ``out_dir/bundle``, without
    the learned fusion a bundle may have had: its inputs are the z-scores this recalibration changes, so run the
    evidence stage on the result (``train --init BUNDLE --only evidence``; a full ``train`` does it as its last stage).
    """
    out_dir, data_dir = Path(out_dir), Path(data_dir)
    bundle = ModelBundle.load(bundle_dir)
    if "learned" in bundle.calibration:
        log.warning(
            "the learned fusion is not carried over: run `python -m vaedetect train --init BUNDLE --only evidence`"
            " on the new bundle"
        )
    recorded = bundle.config.data.get("split", {})
    fusion = fusion or bundle.calibration.get("fusion", "poe")
    cfg = replace(TrainConfig(), seed=recorded.get("seed", 0) if seed is None else seed, fusion=fusion)
    train_items, val_items = data.bundle_split(bundle, data.read_manifest(data_dir), data_dir, cfg.val_fraction,
                                               cfg.seed)  # fmt: skip
    face_config = bundle.config.preprocessing.face_config()
    train_clips, val_clips = data.load_split(train_items, val_items, out_dir / "cache", face_config)
    split = data.record_split(train_items, val_items, cfg.seed, data_dir)
    bundle.config.data = {**bundle.config.data, "split": split}
    _calibrate_and_measure(bundle, train_clips, val_clips, cfg, out_dir, split)
    bundle.config.training = {**bundle.config.training, "recalibrated": time.strftime("%Y-%m-%d")}
    return _save(bundle, out_dir / "bundle")


def _save(bundle: ModelBundle, folder: Path) -> Path:
    """The bundle's files, then its model card (which lists their sizes and digests)."""
    bundle.save(folder)
    (folder / "README.md").write_text(make_model_card(folder))
    return folder


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
