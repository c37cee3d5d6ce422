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


MIN_OWN_SOURCES = 5  # a family is also scored against its own real sources when it has at least this many
TIERS = ("real", "uncertain", "fake")


def evaluate(records: list[dict[str, Any]], config: EvidenceConfig, log: Any = None) -> dict[str, Any]:
    """Leave-one-family-out (units of :func:`unit_of`) and leave-one-group-out with ``config``.

    ``units``: per unit its group, fake videos, ROC-AUC against all real videos (and against its own real sources
    where it has :data:`MIN_OWN_SOURCES`), photo and frames-as-photos AUCs, and its tier shares; ``groups``: per group
    the same AUC with the fake and real scores it came from; ``tier_rates``: per kind of file the shares pooled over
    units with ``per_family`` rows, as a bundle's calibration carries them; the means and the pooled photo AUCs."""
    units = unit_of(records)
    fams: dict[str, set[str]] = defaultdict(set)
    for f, u in units.items():
        fams[u].add(f)
    real_videos = [r for r in records if not r["label"] and not r["is_image"]]
    out: dict[str, Any] = {"units": {}, "groups": {}}
    by_kind: dict[str, dict[str, Any]] = {"video": {}, "photo": {}}
    photos_f, frames_f, photos_r, frames_r = [], [], [], []
    for unit, fs in sorted(fams.items()):
        fvf, rv, fp, rp, ff, rf = held_out_scores(records, config, fs, fs)
        fv = [x for _, x in fvf]
        row = {"group": next(r["kind_group"] for r in records if r["label"] and r["family"] in fs),
               "n_fake_videos": len(fv), "auc": auc(fv, rv), "n_fake_photos": len(fp), "photo_auc": auc(fp, rp),
               "frames_auc": auc(ff, rf)}  # fmt: skip
        own = [s for r, s in zip(real_videos, rv, strict=True) if set(r["tied"]) & fs]
        if len(own) >= MIN_OWN_SOURCES:
            row["own_sources_auc"], row["n_own_sources"] = auc(fv, own), len(own)
        if fv:
            by_kind["video"][unit] = row["tiers"] = tiers(fv, rv)
        if fp or ff:
            by_kind["photo"][unit] = tiers(fp + ff, rp + rf)
        out["units"][unit] = row
        photos_f += fp
        frames_f += ff
        photos_r, frames_r = rp, rf  # a real file's score differs a little per held-out unit: the last unit's
        if log is not None:
            log(f"held out {unit}: AUC {row['auc']}")
    for g in GROUPS:
        fs = {f for f, u in units.items() if out["units"][u]["group"] == g}
        fvf, rv, *_ = held_out_scores(records, config, fs, fs)
        out["groups"][g] = {"n_fake_videos": len(fvf), "auc": auc([x for _, x in fvf], rv), "fake_scores": fvf,
                            "real_scores": rv}  # fmt: skip
        if log is not None:
            log(f"held out all {g}: AUC {out['groups'][g]['auc']}")
    lofo = [v["auc"] for v in out["units"].values() if v["auc"] is not None]
    logo = [v["auc"] for v in out["groups"].values() if v["auc"] is not None]
    out["lofo_mean"], out["logo_mean"] = float(np.mean(lofo)), float(np.mean(logo))
    out["photos_auc"], out["frames_auc"] = auc(photos_f, photos_r), auc(frames_f, frames_r)
    out["tier_rates"] = {kind: pool(rows) for kind, rows in by_kind.items() if rows}
    return out


def pool(by_unit: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Held-out fakes of every unit against that unit's lines, pooled and per unit; real files: the mean share."""
    rows = list(by_unit.values())
    nf = sum(r["n_fake"] for r in rows)
    return {
        "how": "leave-one-family-out",
        "n_real": int(rows[0]["n_real"]),
        "n_fake": int(nf),
        "n_families": len(rows),
        "real_files": {t: float(np.mean([r["real_files"][t] for r in rows])) for t in TIERS},
        "fakes": {t: float(sum(r["fakes"][t] * r["n_fake"] for r in rows) / nf) for t in TIERS},
        "per_family": {u: {"n_fake": int(r["n_fake"]), "fakes": r["fakes"]} for u, r in by_unit.items() if r["n_fake"]},
    }
