"""Training: face VAE, audio VAE, alignment encoder (and optionally a blend classifier) on real footage only, then
calibration against pseudo-fakes; last, the evidence stage: heads over pretrained networks (speech-to-mouth on real
clips; a CLIP probe) and the learned fusion, fitted on real files and labelled fakes of many families.

    python -m vaedetect train --data ../shared/data --out runs/default [--device cuda] [--preset default|sbi|tiny]
    python -m vaedetect train --data ../shared/data --out runs/x --init BUNDLE --only evidence   # the last stage only
    torchrun --nproc_per_node=N -m vaedetect train ...      # DistributedDataParallel, one process per GPU
    python -m vaedetect recalibrate BUNDLE --data ../shared/data --out runs/recal

Where each job lives:

- ``recipes``   :class:`TrainConfig` and the named presets (data, in ``recipes.json``)
- ``data``      manifest, identity-disjoint split, ingest cache
- ``loop``      the shared training loop: optimiser, schedule, resumable checkpoints, DDP
- ``stages``    one function per model: what it learns from and how its batches are drawn
- ``calibrate`` statistics, fusion heads, thresholds at measured FPRs, reference map (one function per step)
- ``offsets``   lip-from-voice cue and held-out offset accuracy
- ``records``   every labelled file measured once (the detector's own path), and the records fits read
- ``speech_mouth``, ``speaker``  the real-only heads: speech-to-mouth, the speaker-change line
- ``stacking``  probes, their out-of-fold logits, the learned heads of an evidence configuration
- ``held_out``  leave-one-family-out and leave-one-group-out scoring
- ``evidence_stage``  the last stage: all of the above into the bundle, with lines and held-out tier rates
- ``pipeline``  ``train`` and ``recalibrate``, which run the above in order and write the bundle
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

# The presets are data (each with what it is for and the settings it changes); read here without importing torch, so
# the command line can offer their names at once. ``recipes`` turns one into a TrainConfig.
RECIPES_FILE = Path(__file__).with_name("recipes.json")


@cache
def read_recipes() -> dict[str, dict[str, Any]]:
    """Every preset of ``recipes.json``: name -> {"about": why it exists, "settings": what it changes}."""
    return json.loads(RECIPES_FILE.read_text(encoding="utf-8"))


def recipe_names() -> list[str]:
    return list(read_recipes())
