"""Voice VAE evidence (``audio``): how a VAE of real speech redraws the clip's log-mel windows."""

from __future__ import annotations

import numpy as np
import torch

from vaedetect.audio import mel_windows
from vaedetect.evidence.arrays import ClipArrays, RawEvidence
from vaedetect.models import ModelBundle

AUDIO_STRIDE = 2
MIN_SPEECH_FRAMES = 8


def standardize_mel(bundle: ModelBundle, mel: np.ndarray) -> np.ndarray:
    mean, std = bundle.stats.get("mel_mean"), bundle.stats.get("mel_std")
    if mean is None:
        return mel.astype(np.float32)
    return ((mel - mean) / std).astype(np.float32)


@torch.no_grad()
def audio_evidence(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence) -> None:
    if arr.mel is None or arr.speech.sum() < MIN_SPEECH_FRAMES:
        return
    centers = np.flatnonzero(arr.speech)[::AUDIO_STRIDE]
    mel = standardize_mel(bundle, arr.mel)
    win = mel_windows(mel, centers, bundle.config.sync.n_frames)
    errs = []
    for s in range(0, len(win), 256):
        e, _ = bundle.audio_vae.error(torch.from_numpy(win[s : s + 256]))
        errs.append(e.numpy())
    err = np.concatenate(errs)
    ev.audio_window_err = err
    ev.audio_centers = centers
    ev.audio = float(np.log(np.mean(err) + 1e-6))


def compute(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    if not arr.is_image:
        audio_evidence(bundle, arr, ev)
