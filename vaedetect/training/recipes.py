"""Training recipes: :class:`TrainConfig` (whose defaults are the shipped bundle's recipe) and the named presets, which
are data in ``recipes.json`` beside this file: each says what it is for and which settings it changes.

Adding a preset is an edit to the JSON, not to code; ``python -m vaedetect train --preset NAME`` offers every name
the file holds (:func:`vaedetect.training.recipe_names`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from vaedetect.models.blend import BlendConfig
from vaedetect.models.bundle import model_config
from vaedetect.models.sync import SyncConfig
from vaedetect.models.vae import AudioVAEConfig, FaceVAEConfig
from vaedetect.training import read_recipes

MODEL_FIELDS = {"face_vae": FaceVAEConfig, "audio_vae": AudioVAEConfig, "sync": SyncConfig, "blend": BlendConfig}
STAGES = ("face_vae", "blend", "audio_vae", "sync")
# Recipe fields that only shape one stage: a run that did not train the stage does not claim them.
STAGE_FIELDS = {
    "face_vae": ("face_steps", "face_refine_steps", "face_refine_lr"),
    "blend": ("blend_steps", "blend_low_quality_steps", "blend_low_quality_lr"),
    "audio_vae": ("audio_steps",),
    "sync": ("sync_steps", "sync_batch_size", "sync_hard_negatives", "sync_augment", "sync_min_negative_offset"),
}


@dataclass
class TrainConfig:
    """A training recipe. The defaults are the recipe of the shipped bundle; presets change some of them."""

    preset: str = "default"
    seed: int = 0
    val_fraction: float = 0.25
    face_steps: int = 1500
    # Then a gentler face-VAE phase on augmented faces (colour, exposure, small pose, upload-quality changes): with
    # ~100 training identities the VAE otherwise learns those people's exact looks and redraws every new face badly.
    face_refine_steps: int = 2000
    face_refine_lr: float = 3e-4
    audio_steps: int = 1000
    sync_steps: int = 1500
    blend_steps: int = 0  # 0: no blend classifier (it fired on real low-resolution photos; the ``sbi`` preset has one)
    # then this many steps through the low-quality augmentation, at this rate (rule 16b; 0: none)
    blend_low_quality_steps: int = 0
    blend_low_quality_lr: float = 3e-4
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
    # weight on the pseudo-fakes it can see (the earlier recipe). See ``training.calibrate.fit_experts`` for why.
    fusion: str = "equal"
    # Then the evidence stage (training.evidence_stage): the pretrained evidence's heads and the learned fusion of the
    # configuration named here (training.stacking.CONFIGS, picked by bench/results/2026-12-06-evidence-rules.md),
    # fitted on the labelled files of the data folder. Off: the equal/poe fusion above decides.
    learned_fusion: bool = True
    evidence_config: str = "C"
    face_vae: FaceVAEConfig = field(default_factory=FaceVAEConfig)
    audio_vae: AudioVAEConfig = field(default_factory=AudioVAEConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)
    max_files: int | None = None

    @classmethod
    def from_preset(cls, name: str) -> TrainConfig:
        """The named preset of ``recipes.json``: these defaults with the preset's settings applied."""
        presets = read_recipes()
        if name not in presets:
            raise ValueError(f"unknown preset {name!r}; choose from {', '.join(presets)}")
        return apply_settings(cls(preset=name), presets[name].get("settings", {}))


def apply_settings(cfg: TrainConfig, settings: dict[str, Any]) -> TrainConfig:
    """``cfg`` with JSON settings applied; a model's settings change only the fields they name. Unknown names raise
    ValueError, so a typo in a preset cannot silently train the default."""
    known = {f.name for f in fields(TrainConfig)} - {"preset"}
    if unknown := sorted(set(settings) - known):
        raise ValueError(f"unknown recipe setting(s) {', '.join(unknown)}")
    values = dict(settings)
    for key, cls in MODEL_FIELDS.items():
        if key in values:
            try:
                values[key] = model_config(cls, values[key], getattr(cfg, key))
            except TypeError as err:
                raise ValueError(f"recipe setting {key!r}: {err}") from err
    return replace(cfg, **values)


def recipe_of(cfg: TrainConfig, stages: tuple[str, ...]) -> dict[str, Any]:
    """The training settings a bundle records: architectures live elsewhere in config.json, and the settings of
    stages this run did not train are left out (a continued bundle keeps its earlier run's under ``init_training``)."""
    skip = set(MODEL_FIELDS)
    skip |= {f for stage, names in STAGE_FIELDS.items() if stage not in stages for f in names}
    return {k: v for k, v in asdict(cfg).items() if k not in skip}
