"""Audio-visual speech consistency (``av_fit``, ``av_peak``): how well a real-only head predicts the mouth's motion
from pretrained speech features, at the true timing and against other timings
(:mod:`vaedetect.models.speech_mouth`)."""

from __future__ import annotations

from vaedetect import pretrained
from vaedetect.evidence.arrays import ClipArrays, RawEvidence
from vaedetect.models import ModelBundle
from vaedetect.models import speech_mouth as sm


def compute(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    head = bundle.speech_mouth
    if head is None or arr.is_image or arr.wav is None or arr.landmarks is None:
        return
    grid, shape, use = sm.grid_inputs(arr.landmarks, arr.present, arr.speech, sm.LANDMARK_STEP)
    if use.sum() < sm.MIN_FRAMES:
        return
    speech = pretrained.speech_embeddings(arr.wav, grid / arr.fps)
    corr = head.correlations(speech, shape, use)
    ev.values.update({k: v for k, v in sm.summary(corr).items() if v is not None})
    if corr is not None:
        ev.av_curve = corr
