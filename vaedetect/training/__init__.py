"""Training: face VAE, audio VAE, alignment encoder (and optionally a blend classifier) on real footage only, then
calibration against pseudo-fakes; last, the learned fusion weighs the evidence on labelled fakes of many families.

    python -m vaedetect train --data ../shared/data --out runs/default [--device cuda] [--preset default|sbi|tiny]
    torchrun --nproc_per_node=N -m vaedetect train ...      # DistributedDataParallel, one process per GPU
    python -m vaedetect recalibrate BUNDLE --data ../shared/data --out runs/recal

Where each job lives:

- ``recipes``   :class:`TrainConfig` and the named presets (data, in ``recipes.json``)
- ``data``      manifest, identity-disjoint split, ingest cache
- ``loop``      the shared training loop: optimiser, schedule, resumable checkpoints, DDP
- ``stages``    one function per model: what it learns from and how its batches are drawn
- ``calibrate`` statistics, fusion heads, thresholds at measured FPRs, reference map (one function per step)
- ``offsets``   lip-from-voice cue and held-out offset accuracy
- ``learned``   the last stage: every labelled file through the detector, then :func:`vaedetect.fusion.fit_heads`
                (also ``python -m vaedetect fit-fusion BUNDLE --data DIR --records FILE``)
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
