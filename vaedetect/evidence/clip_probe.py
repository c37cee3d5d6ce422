"""CLIP probe evidence (``clip_face``, ``clip_frame``): a linear probe over frozen CLIP ViT-B/16 embeddings of the
aligned face and of whole frames (UnivFD), fitted on real files against labelled fakes of many families.

Why CLIP: its image tower learned from hundreds of millions of pictures what real photographs look like, and a linear
probe over it separates generated from real images across generators it never saw (UnivFD, CVPR 2023), where features
trained on one generator's artefacts do not transfer.
"""

from __future__ import annotations

import numpy as np

from vaedetect import pretrained
from vaedetect.evidence.arrays import ClipArrays, RawEvidence
from vaedetect.models import ModelBundle

FACE_SAMPLES = 8  # aligned faces per clip that CLIP reads, evenly spread from where the analysis starts


def face_inputs(arr: ClipArrays) -> tuple[np.ndarray, np.ndarray]:
    """Up to :data:`FACE_SAMPLES` aligned faces (the cue crops, FaceMesh-aligned) as CLIP reads them, and their
    frames."""
    crops, idx = arr.cue_crops, arr.cue_idx
    if crops is None or idx is None or not len(crops):
        return np.zeros((0, pretrained.CLIP_PX, pretrained.CLIP_PX, 3), np.uint8), np.zeros(0, int)
    pick = np.unique(np.round(np.linspace(0, len(crops) - 1, FACE_SAMPLES)).astype(int))
    return np.stack([pretrained.clip_input(crops[j]) for j in pick]), idx[pick]


def mean_embedding(e: np.ndarray) -> np.ndarray:
    """The clip's embedding: the mean of its L2-normalised frame embeddings, normalised again."""
    m = e.mean(axis=0)
    return m / max(float(np.linalg.norm(m)), 1e-8)


def compute_face(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    probe = bundle.probes.get("clip_face")
    faces, frames = face_inputs(arr)
    if probe is None or not len(faces):
        return
    e = pretrained.clip_embed(faces)
    ev.values["clip_face"] = float(probe.logit(mean_embedding(e)))
    ev.frame_values["clip_face"] = (frames, probe.logit(e))


def compute_frame(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    probe = bundle.probes.get("clip_frame")
    if probe is None or arr.stills is None or not len(arr.stills):
        return
    ev.values["clip_frame"] = float(probe.logit(mean_embedding(pretrained.clip_embed(arr.stills))))
