"""The speaker-change finding's line, set on real clips only (rule: bench/results/2026-12-06-speaker-change.md).

Why real only: the finding must say "real single-speaker clips almost never sound this different", which only real
clips can tell; no fake is read, so the line cannot fit a generator family (most of which keep a real voice anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from vaedetect.audio import ANALYSIS_FPS
from vaedetect.evidence import speaker

MARGIN = 0.03  # below the lowest real value (the rule, fixed before any value was seen)
HOW = "lowest speaker_change of the real videos minus 0.03; called when below"


def speaker_change_line(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``calibration["findings"]["speaker_change"]``: ``{"line", "n_real", "how"}`` from the real videos among
    ``records`` (``label`` 0 or "real", ``values["speaker_change"]`` where the clip had enough speech; re-shared
    copies are left out, so each file counts once)."""
    real = [
        float(r["values"][speaker.NAME])
        for r in records
        if r.get("label") in (0, "real")
        and not r.get("is_image")
        and "copy_of" not in r
        and r.get("values", {}).get(speaker.NAME) is not None
    ]
    if not real:
        raise ValueError("no real video with enough speech to set the speaker-change line")
    return {"line": round(min(real) - MARGIN, 4), "n_real": len(real), "how": HOW}


def cached_speaker_change(d: Mapping[str, np.ndarray], fps: float = ANALYSIS_FPS) -> float | None:
    """``speaker_change`` of one training-cache entry (its int16 ``audio`` and per-frame ``speech``), as the detector
    computes it on the same clip; None without enough speech."""
    track = speaker.speaker_track(d["audio"].astype(np.float32) / 32767, d["speech"], fps)
    return None if track is None else track.change
