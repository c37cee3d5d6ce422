"""Models: face VAE, audio VAE, SyncNet-style alignment encoder, blend classifier, and the bundle that holds them.

One module per model (``vae``, ``sync``, ``blend``, ``lipvoice``); :mod:`vaedetect.models.bundle` owns the bundle
format (config, version, load, save, validate) and :mod:`vaedetect.models.images` the crop-to-tensor conversion.
"""

from __future__ import annotations

from vaedetect.models.blend import BlendConfig, BlendNet
from vaedetect.models.bundle import BUNDLE_VERSION, BundleConfig, ModelBundle, Preprocessing
from vaedetect.models.sync import SyncConfig, SyncNet
from vaedetect.models.vae import AudioVAE, AudioVAEConfig, FaceVAE, FaceVAEConfig

__all__ = [
    "BUNDLE_VERSION",
    "AudioVAE",
    "AudioVAEConfig",
    "BlendConfig",
    "BlendNet",
    "BundleConfig",
    "FaceVAE",
    "FaceVAEConfig",
    "ModelBundle",
    "Preprocessing",
    "SyncConfig",
    "SyncNet",
]
