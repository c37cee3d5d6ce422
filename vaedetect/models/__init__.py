"""Models: face VAE, audio VAE, SyncNet-style alignment encoder, and the bundle that holds them with their statistics.

A bundle on disk (see architecture.md) is safetensors + JSON + npz only:

    config.json          architectures and preprocessing constants
    face_vae.safetensors, audio_vae.safetensors, sync.safetensors, blend.safetensors (optional: older bundles lack it)
    stats.safetensors    real-data statistics: mel mean/std, per-pixel error mean/std, latent Gaussian,
                         lip-from-voice regression (optional: older bundles lack it)
    calibration.json     evidence normalisation, fusion heads, thresholds with their measured FPR, metrics
    reference.npz        reference latents (real and pseudo-fake) with their 2-D map coordinates
    README.md            model card
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file as load_torch
from safetensors.torch import save_file as save_torch

from vaedetect.models.blend import BlendConfig, BlendNet
from vaedetect.models.lipvoice import LipVoice
from vaedetect.models.sync import SyncConfig, SyncNet
from vaedetect.models.vae import AudioVAE, AudioVAEConfig, FaceVAE, FaceVAEConfig

BUNDLE_VERSION = 1
__all__ = [
    "AudioVAE",
    "AudioVAEConfig",
    "BlendConfig",
    "BlendNet",
    "FaceVAE",
    "FaceVAEConfig",
    "ModelBundle",
    "SyncConfig",
    "SyncNet",
]


@dataclass
class BundleConfig:
    name: str = "default"
    face_vae: FaceVAEConfig = field(default_factory=FaceVAEConfig)
    audio_vae: AudioVAEConfig = field(default_factory=AudioVAEConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    blend: BlendConfig | None = field(default_factory=BlendConfig)
    face_crop_px: int = 128
    mouth_crop_px: int = 48
    analysis_fps: int = 25
    sample_rate_hz: int = 16_000
    bundle_version: int = BUNDLE_VERSION
    training: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    # Known limitations in plain words, shown on the model card; kept through recalibration.
    limits: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("face_vae", "audio_vae", "sync", "blend"):
            if d[k] is not None:
                d[k] = {kk: list(vv) if isinstance(vv, tuple) else vv for kk, vv in d[k].items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BundleConfig:
        d = dict(d)
        fv = dict(d.pop("face_vae", {}))
        if "channels" in fv:
            fv["channels"] = tuple(fv["channels"])
        bl = d.pop("blend", None)
        if bl is not None and "channels" in bl:
            bl = {**bl, "channels": tuple(bl["channels"])}
        known = set(cls.__dataclass_fields__)
        return cls(
            face_vae=FaceVAEConfig(**fv),
            audio_vae=AudioVAEConfig(**d.pop("audio_vae", {})),
            sync=SyncConfig(**d.pop("sync", {})),
            blend=BlendConfig(**bl) if bl is not None else None,
            **{k: v for k, v in d.items() if k in known},
        )


def _state_numpy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


class ModelBundle:
    """Everything the detector needs, loaded from one folder. Inference only; all models are in eval mode."""

    WEIGHT_FILES: ClassVar[dict[str, str]] = {
        "face_vae": "face_vae.safetensors",
        "audio_vae": "audio_vae.safetensors",
        "sync": "sync.safetensors",
        "blend": "blend.safetensors",
    }

    def __init__(
        self,
        config: BundleConfig,
        face_vae: FaceVAE,
        audio_vae: AudioVAE,
        sync: SyncNet,
        stats: dict[str, np.ndarray],
        calibration: dict[str, Any],
        reference: dict[str, np.ndarray],
        blend: BlendNet | None = None,
    ) -> None:
        self.config = config
        self.blend = blend.eval() if blend is not None else None
        self.face_vae = face_vae.eval()
        self.audio_vae = audio_vae.eval()
        self.sync = sync.eval()
        self.stats = stats
        self.calibration = calibration
        self.reference = reference

    @property
    def lipvoice(self) -> LipVoice | None:
        """The lip-from-voice offset cue, read from ``stats`` (None in bundles made before it existed)."""
        return LipVoice.from_stats(self.stats)

    @classmethod
    def new(cls, config: BundleConfig | None = None) -> ModelBundle:
        config = config or BundleConfig()
        return cls(
            config,
            FaceVAE(config.face_vae),
            AudioVAE(config.audio_vae),
            SyncNet(config.sync),
            stats={},
            calibration={},
            reference={},
            blend=BlendNet(config.blend) if config.blend is not None else None,
        )

    @classmethod
    def load(cls, folder: str | Path) -> ModelBundle:
        folder = Path(folder)
        config = BundleConfig.from_json(json.loads((folder / "config.json").read_text()))
        models = {
            "face_vae": FaceVAE(config.face_vae),
            "audio_vae": AudioVAE(config.audio_vae),
            "sync": SyncNet(config.sync),
        }
        if config.blend is not None and (folder / cls.WEIGHT_FILES["blend"]).exists():
            models["blend"] = BlendNet(config.blend)
        else:
            config.blend = None
        for key, module in models.items():
            module.load_state_dict(load_torch(str(folder / cls.WEIGHT_FILES[key])))
        stats = load_numpy(str(folder / "stats.safetensors"))
        calibration = json.loads((folder / "calibration.json").read_text())
        with np.load(folder / "reference.npz", allow_pickle=False) as ref:
            reference = {k: ref[k] for k in ref.files}
        return cls(
            config,
            models["face_vae"],
            models["audio_vae"],
            models["sync"],
            stats,
            calibration,
            reference,
            blend=models.get("blend"),
        )

    def save(self, folder: str | Path, model_card: str | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config.to_json(), indent=2))
        for key, fname in self.WEIGHT_FILES.items():
            if getattr(self, key) is None:
                continue
            save_torch(_state_numpy(getattr(self, key)), str(folder / fname), metadata={"format": "pt"})
        save_numpy({k: np.ascontiguousarray(v) for k, v in self.stats.items()}, str(folder / "stats.safetensors"))
        (folder / "calibration.json").write_text(json.dumps(self.calibration, indent=2, allow_nan=False))
        np.savez_compressed(folder / "reference.npz", **self.reference)
        if model_card is not None:
            (folder / "README.md").write_text(model_card)
        return folder
