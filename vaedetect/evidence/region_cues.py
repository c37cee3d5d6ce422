"""Region cues (:mod:`vaedetect.cues`): how the lower face, the mouth and the face's surroundings differ in detail,
grain and colour, over the first frames FaceMesh ran on."""

from __future__ import annotations

from vaedetect import cues
from vaedetect.evidence.arrays import ClipArrays, RawEvidence
from vaedetect.models import ModelBundle

CUE_FRAMES = 60  # region cues: the first this many FaceMesh frames from where the analysis starts (about 5 s)


def cue_evidence(arr: ClipArrays, ev: RawEvidence) -> None:
    """Region cues over the first :data:`CUE_FRAMES` FaceMesh frames (a photo: its one frame)."""
    if arr.cue_crops is None or arr.cue_landmarks is None or not len(arr.cue_crops):
        return
    ev.cues = cues.clip_cues(arr.cue_crops[:CUE_FRAMES], arr.cue_landmarks[:CUE_FRAMES])


def compute(bundle: ModelBundle, arr: ClipArrays, ev: RawEvidence, *, keep_images: bool = True) -> None:
    cue_evidence(arr, ev)
