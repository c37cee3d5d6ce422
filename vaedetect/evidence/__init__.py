"""Evidence: run a bundle's models over a clip's arrays and reduce them to raw per-clip statistics.

One module per evidence, each ``compute(bundle, arrays, raw, *, keep_images)`` writing into one :class:`RawEvidence`;
:data:`REGISTRY` names them and a bundle's config lists the ones it runs (``BundleConfig.evidence``), so adding an
evidence is one module and one line here. Shared by the detector (on user clips) and by training, so the numbers that
calibrate a bundle are computed by exactly the code that scores a user's clip. A stage imports only from the stages
below it: evidence reads ``ingest``'s clip and the models, never the other way round.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from vaedetect import pretrained, workers
from vaedetect.audio import lip_loudness_corr
from vaedetect.evidence import clip_probe, face_vae, region_cues, speaker, speech_mouth, sync, voice_vae
from vaedetect.evidence.arrays import ClipArrays, RawEvidence
from vaedetect.evidence.face_vae import face_region, frame_face_scores, mahalanobis, run_face_vae, sample_frames
from vaedetect.evidence.quality import FRAMES_AS_PHOTOS, clip_quality, code_lengths, frames_as_photos
from vaedetect.evidence.reference import ReferenceMap
from vaedetect.evidence.region_cues import CUE_FRAMES
from vaedetect.evidence.sync import face_in_whole_window, fuse_offset_curves, sync_evidence, sync_mel
from vaedetect.models import ModelBundle

__all__ = [
    "CUE_FRAMES",
    "DEFAULT_EVIDENCE",
    "FRAMES_AS_PHOTOS",
    "PRETRAINED_OF",
    "REGISTRY",
    "ClipArrays",
    "RawEvidence",
    "ReferenceMap",
    "clip_quality",
    "code_lengths",
    "compute_evidence",
    "face_in_whole_window",
    "face_region",
    "frame_face_scores",
    "frames_as_photos",
    "fuse_offset_curves",
    "lip_loudness_corr",
    "mahalanobis",
    "run_face_vae",
    "sample_frames",
    "sync_evidence",
    "sync_mel",
]

Compute = Callable[..., None]
REGISTRY: dict[str, Compute] = {
    "face_vae": face_vae.compute,
    "region_cues": region_cues.compute,
    "voice_vae": voice_vae.compute,
    "sync": sync.compute,
    "clip_face": clip_probe.compute_face,
    "clip_frame": clip_probe.compute_frame,
    "speech_mouth": speech_mouth.compute,
    "speaker": speaker.compute,
}
# The pretrained networks (vaedetect.pretrained.PRETRAINED) each evidence reads: built on first use, or by a warm-up.
PRETRAINED_OF = {
    "clip_face": ("clip_vit_b16",),
    "clip_frame": ("clip_vit_b16",),
    "speech_mouth": ("speech_mel", "speech_embedding"),
    "speaker": ("speaker_ge2e",),
}
# What a bundle whose config names no evidence runs (every bundle made before the registry).
DEFAULT_EVIDENCE = ("face_vae", "region_cues", "voice_vae", "sync")


# CLIP runs last, its images spread over every lane (one image per run, one thread each); the rest, on one thread each,
# side by side before it. Splitting CLIP's work, not its operations, keeps both cores busy (docs/experiments.md).
LAST = tuple(name for name, nets in PRETRAINED_OF.items() if pretrained.ALONE.intersection(nets))


def compute_evidence(bundle: ModelBundle, arr: ClipArrays, *, keep_images: bool = True) -> RawEvidence:
    """Every evidence the bundle names, over one clip's arrays: side by side (:func:`vaedetect.workers.run_all`),
    then those in :data:`LAST` one after the other, each into a RawEvidence of its own, gathered in the bundle's
    order, so the result is the one a run in that order gives."""
    names = list(bundle.config.evidence or DEFAULT_EVIDENCE)
    has_audio = arr.mel is not None
    parts = {
        n: RawEvidence(n_frames=arr.n_frames, fps=arr.fps, is_image=arr.is_image, has_audio=has_audio) for n in names
    }
    fresh = {n: dict(vars(ev)) for n, ev in parts.items()}

    def task(name: str) -> Callable[[], None]:
        def run() -> None:
            t0 = time.perf_counter()
            with torch.inference_mode():
                REGISTRY[name](bundle, arr, parts[name], keep_images=keep_images)
            parts[name].timings[name] = time.perf_counter() - t0

        return run

    workers.run_all([task(n) for n in names if n not in LAST])
    for n in names:
        if n in LAST:
            task(n)()
    ev = RawEvidence(n_frames=arr.n_frames, fps=arr.fps, is_image=arr.is_image, has_audio=has_audio)
    for name in names:
        for key, value in vars(parts[name]).items():
            if isinstance(value, dict):
                getattr(ev, key).update(value)
            elif value is not fresh[name][key]:
                setattr(ev, key, value)
    return ev
