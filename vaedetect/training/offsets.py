"""The audio-offset estimate: fit the lip-from-voice cue on training clips, and measure how often the estimate finds
an artificial shift on held-out real clips (recorded in the bundle's metrics)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from vaedetect.evidence import ClipArrays, RawEvidence, sync_evidence
from vaedetect.models import ModelBundle
from vaedetect.models.lipvoice import LipVoice, fit_lipvoice

log = logging.getLogger("vaedetect.train")


def fit_offset_cue(bundle: ModelBundle, train_clips: list[ClipArrays]) -> None:
    """Fit the lip-from-voice regression on training clips with speech and keep it in the bundle's statistics."""
    usable = [
        (c.lip, c.mel, c.speech, c.present)
        for c in train_clips
        if c.mel is not None and c.lip is not None and not c.is_image and c.speech.sum() >= 10
    ]
    model = fit_lipvoice(usable)
    for key in LipVoice.STATS_KEYS:
        bundle.stats.pop(key, None)
    if model is not None:
        bundle.stats.update(model.to_stats())
        log.info("lip-from-voice: %d clips, natural lag %+d frames", len(usable), model.lag)


def offset_accuracy(
    bundle: ModelBundle, clips: list[ClipArrays], shifts: tuple[int, ...] = (-10, -5, 5, 10)
) -> dict[str, Any]:
    """How often the estimated audio offset of a real clip whose audio was shifted by ``shifts`` frames is right.

    ``within_1_frame`` counts estimates within one frame of the shift, assuming the clip itself was in sync;
    ``within_1_frame_relative`` measures the estimate against the same clip's unshifted estimate instead, which
    separates "finds the shift" from "the recording (or this speaker's lip-to-sound lag) is not at exactly 0".
    ``within_1_frame_model_only`` is the alignment model's own arg-min without the lip-from-voice cue.
    """

    def offsets(c: ClipArrays) -> RawEvidence:
        ev = RawEvidence()  # only the alignment step: the face and voice models do not see the shift
        sync_evidence(bundle, c, ev)
        return ev

    hits, rel_hits, model_hits, errors = [], [], [], []
    for c in clips:
        if c.mel is None or c.speech.sum() < 25:
            continue
        base = offsets(c).sync_offset
        for s in shifts:
            ev = offsets(c.audio_shifted(s))
            if ev.sync_offset is None:
                continue
            errors.append(abs(ev.sync_offset - s))
            hits.append(abs(ev.sync_offset - s) <= 1)
            model_hits.append(abs(ev.sync_offset_model - s) <= 1)
            if base is not None:
                rel_hits.append(abs(ev.sync_offset - base - s) <= 1)

    def rate(x: list[bool]) -> float | None:
        return float(np.mean(x)) if x else None

    return {
        "shifts_frames": list(shifts),
        "n": len(hits),
        "within_1_frame": rate(hits),
        "within_1_frame_relative": rate(rel_hits),
        "within_1_frame_model_only": rate(model_hits),
        "median_abs_error_frames": float(np.median(errors)) if errors else None,
    }
