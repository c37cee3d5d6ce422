"""Scoring files with fits that never saw their generator family, their group or their person.

Leave-one-family-out (and leave-one-group-out) is the project's proxy for clips from generators nobody tuned on: a
unit of fakes is scored by fits that saw neither its fakes nor the real files tied to it (its own real sources), nor
the people of the scored file's identity fold; every real file is scored by the fit of its own fold. ``train`` uses it
to state, in the bundle, how often held-out fakes and real files land at each verdict tier; ``bench/generalisation.py``
to compare configurations.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from vaedetect.fusion import N_FOLDS, UNCERTAIN_FPR, identity_fold
from vaedetect.training.stacking import EvidenceConfig, fit_config, score

GROUPS = ("lip-sync", "talking-head", "face-swap", "reenactment")  # the manifest's kinds of manipulation
MIN_UNIT = 3  # fake videos a family needs to be a unit of its own; smaller families are pooled by group


def unit_of(records: list[dict[str, Any]]) -> dict[str, str]:
    """Family -> unit: itself with at least MIN_UNIT fake videos, else its group's pooled unit."""
    n = defaultdict(int)
    group = {}
    for r in records:
        if r["label"]:
            group[r["family"]] = r["kind_group"]
            n[r["family"]] += 0 if r["is_image"] else 1
    return {f: f if n[f] >= MIN_UNIT else f"small {group[f]}" for f in group}


def held_out_scores(
    records: list[dict[str, Any]], config: EvidenceConfig, out: set[str], tied: set[str]
) -> tuple[list[float], list[float], list[float], list[float], list[float], list[float]]:
    """Scores of the fakes of families ``out`` and of every real file, from fits without ``out``'s fakes, without the
    real files tied to ``out`` and without the scored file's identity fold: (fake videos as (family, score), real
    videos, fake photos, real photos, fake frames, real frames); real scores come in ``records``' order."""
    fv, rv, fp, rp, ff, rf = [], [], [], [], [], []
    real_idx = {id(r): i for i, r in enumerate(r for r in records if not r["label"])}
    rv_by, rp_by = {}, {}
    for k in range(N_FOLDS):
        train = [
            r for r in records
            if not (r["label"] and r["family"] in out)
            and not (not r["label"] and set(r["tied"]) & tied)
            and identity_fold(r["group"]) != k
        ]  # fmt: skip
        fitted = fit_config(train, config)
        for r in records:
            if identity_fold(r["group"]) != k or (r["label"] and r["family"] not in out):
                continue
            s = score(fitted, r)
            frames = [score(fitted, {**f, "is_image": True}) for f in r.get("frames", [])] if not r["is_image"] else []
            if r["label"]:
                (fp if r["is_image"] else fv).append((r["family"], s) if not r["is_image"] else s)
                ff += frames
            else:
                (rp_by if r["is_image"] else rv_by)[real_idx[id(r)]] = s
                rf += frames
    rv = [rv_by[i] for i in sorted(rv_by)]
    rp = [rp_by[i] for i in sorted(rp_by)]
    return fv, rv, fp, rp, ff, rf


def auc(fake: list[float], real: list[float]) -> float | None:
    f = [x for x in fake if x is not None]
    r = [x for x in real if x is not None]
    if not f or not r:
        return None
    return float(roc_auc_score(np.r_[np.zeros(len(r)), np.ones(len(f))], np.r_[r, f]))


def tiers(fake: list[float], real: list[float]) -> dict[str, Any]:
    """Lines as the bundle sets them from real files scored out of fold (uncertain: 20% of them at or above; likely
    manipulated: above all of them), and the share of fakes and real files at each tier."""
    r = np.array([x for x in real if x is not None])
    f = np.array([x for x in fake if x is not None])
    unc, top = float(np.quantile(r, 1 - UNCERTAIN_FPR)), float(np.nextafter(r.max(), 1.0))

    def shares(x: np.ndarray) -> dict[str, float]:
        return {
            "real": float(np.mean(x < unc)),
            "uncertain": float(np.mean((x >= unc) & (x < top))),
            "fake": float(np.mean(x >= top)),
        }

    return {"n_real": len(r), "n_fake": len(f), "real_files": shares(r), "fakes": shares(f)}
