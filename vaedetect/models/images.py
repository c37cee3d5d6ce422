"""Aligned crops (uint8, channels last) to model input tensors: the one conversion inference and training share.

A model scores crops exactly as it was trained on them only if both sides resize and scale alike, so there is one
function for it rather than a copy in each.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch


def resize_crops(crops: np.ndarray, px: int) -> np.ndarray:
    """Square crops (N, H, W[, C]) resized to ``px`` (area interpolation: crops are only ever shrunk); as is when
    they already have that size."""
    if crops.shape[1] == px:
        return crops
    return np.stack([cv2.resize(c, (px, px), interpolation=cv2.INTER_AREA) for c in crops])


def crops_to_tensor(crops: np.ndarray, px: int | None = None) -> torch.Tensor:
    """RGB crops (N, H, W, 3) uint8 -> float tensor (N, 3, px, px) in [0, 1], resized first when ``px`` is given."""
    if px is not None:
        crops = resize_crops(crops, px)
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)
