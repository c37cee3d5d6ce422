"""Leave-one-family-out: does the evidence find generator families it never saw, without leaning on image quality?

Reads the cache ``bench/cache_clips.py`` made from ``../shared/data`` and prints, per family of fakes, the AUC against
real files the scoring model did not train on, detection at the "likely manipulated" line (5% false alarms on
training reals), and real false alarms; then the mean, videos and photos apart. Each family is scored by a fusion fitted
on the *other* families and on real identities outside the scored fold; real files tied to a family (the real half
of a face-swap demo, a lip-sync fake's own input) leave training with that family. Also prints each evidence's
Spearman correlation with face sharpness, face size and bitrate over real files (the quality shortcut to avoid).

    python bench/generalisation.py [--cache .cache/gen] [--features cues,existing] [--json bench/results/x.json]

``--source-matched`` (descriptive) also scores each family against only the real files of its own pipeline (the
real halves of the face-swap demos, a lip-sync repository's inputs), where those number at least five: same
recording, same compression, so what separates them is the manipulation, not the source.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vaedetect import cues as cues_mod  # noqa: E402
from vaedetect import evidence  # noqa: E402
from vaedetect.fusion import (  # noqa: E402
    CUE_COMPLEXITY,
    FACE_COMPLEXITY,
    FLOOR,
    MOTION,
    N_FOLDS,
    QUALITY,
    WORST_FAMILY_TAU,
    LearnedFusion,
    QualityKeys,
    bits_per_pixel,
    copy_pairs,
    fit_quality_correction,
    fit_records,
    identity_fold,
    scale_matched_keys,
)
from vaedetect.training.learned import record_of, tied_families  # noqa: E402

EXISTING = ("face", "latent", "temporal", "audio", "sync")
# The face VAE's input size of the bundle the cache was measured with (the scale rule 22's face measure reads).
VAE_PX = json.loads((ROOT / "assets" / "checkpoints" / "default" / "config.json").read_text())["face_vae"]["image_px"]
_BUNDLE: Any = None  # the shipped bundle, loaded only for --frames (latent distance of single frames)
_FLOOR = FLOOR  # --floor (rule 12): the lowest oriented z the learned heads take
_FLOORED: tuple[str, ...] | None = None  # --floor-only (rule 15): the evidence --floor applies to (None: all)
_TWO_SIDED: set[str] = set()  # --two-sided (rule 14): evidence read as a distance from the real median, either way
_WITHOUT: set[str] = set()  # --without: evidence removed from every configuration, the rules' included (rule 13)
_EXTRA: dict[str, dict[str, float]] = {}  # --extra-cues: {cache key: {cue: value}} measured elsewhere (rule 16)
_PAIRED = False  # --paired-correction (rule 17): --augment's copies shape the quality correction only
_TAU: float | None = None  # --worst-family (rule 18): the heads fit their worst training family, smoothly
_MOTION = False  # --motion-correction (rule 21): the video head's correction also reads head speed
_SCALE = False  # --scale-matched (rule 22): each evidence corrected for the code length of the pixels it reads
_MATCHED = False  # --motion-matched: also score each family against real clips that move like its fakes
_SOURCES = False  # --source-matched: also score each family against the real files of its own pipeline only
FAKE_LINE_FPR = 0.05


@dataclass
class Item:
    path: str
    label: int
    family: str  # the fake's kind; "" for real files
    group: str  # identity group for real folds
    tied: tuple[str, ...]
    is_image: bool
    values: dict[str, float]
    quality: dict[str, float]
    row: dict
    trainable: bool = True  # False for a video's frame taken as a photo: scored only, never trained on
    copy_of: str = ""  # a re-shared copy's original (rule 7): trained on with it, scored apart


def _bpp(meta: dict) -> float:
    v = bits_per_pixel(meta["kind"], meta["size_bytes"], meta["width"], meta["height"], meta["bitrate_kbps"], 25.0)
    return np.nan if v is None else v


def _frames_as_photos(d: Any, meta: dict, calibration: dict, bundle: Any) -> list[dict]:
    """The cached video's frames as the photo head reads them (:func:`vaedetect.evidence.frames_as_photos`)."""
    if not len(d["latents"]):
        return []
    norms = calibration["evidence"]
    lat = evidence.mahalanobis(bundle, d["latents"])
    skip = meta["skip"]
    return evidence.frames_as_photos(
        d["crops"], d["landmarks"][d["crop_idx"]], d["crop_idx"], d["face_size_px"], d["frame_idx"] + skip,
        (d["frame_scores"] - norms["face"]["mean"]) / norms["face"]["std"],
        (lat - norms["latent"]["mean"]) / norms["latent"]["std"], _bpp(meta), VAE_PX,
    )  # fmt: skip


def load(cache: Path, with_frames: bool = False) -> list[Item]:
    memo_path = cache / "cues.json"
    memo = json.loads(memo_path.read_text()) if memo_path.exists() else {}
    items = []
    extra = dict.fromkeys(_extra_cues(), np.nan)  # a file an extra cue has no value for (a photo) gets NaN
    for f in sorted(cache.glob("*.npz")):
        d = np.load(f)
        meta = json.loads(bytes(d["meta"]))
        row = meta["row"]
        if f.stem in memo and set(memo[f.stem]["cues"]) != set(cues_mod.CUES):  # measured before a cue changed
            del memo[f.stem]
        if f.stem not in memo:
            crops, lm = d["crops"], d["landmarks"][d["crop_idx"]] if len(d["crop_idx"]) else None
            c = cues_mod.clip_cues(crops, lm) if lm is not None else {k: float("nan") for k in cues_mod.CUES}
            memo[f.stem] = {
                "cues": c,
                "sharpness": cues_mod.face_sharpness(d["crops"]),
                "face_px": float(np.nanmedian(d["face_size_px"])) if d["present"].any() else float("nan"),
            }
        m = memo[f.stem]
        if "head_speed" not in m:
            m["head_speed"] = cues_mod.head_speed(d["landmarks"]) if meta["kind"] != "image" else None
        if FACE_COMPLEXITY not in m:
            m.update(evidence.code_lengths(d["crops"], VAE_PX))
        stale = m.get("frames") and FACE_COMPLEXITY not in m["frames"][0]["quality"]
        if with_frames and meta["kind"] != "image" and ("frames" not in m or stale):
            m["frames"] = _frames_as_photos(d, meta, _BUNDLE.calibration, _BUNDLE)
        values = {**{k: (np.nan if meta["z"].get(k) is None else meta["z"][k]) for k in EXISTING}, **m["cues"]}
        values.update(extra)
        values.update({k: np.nan if v is None else v for k, v in _EXTRA.get(f.stem, {}).items()})
        ident = row["identity"] or row["path"]
        items.append(
            Item(
                path=row["path"],
                label=int(row["label"] == "fake"),
                family=row["kind"] if row["label"] == "fake" else "",
                group=ident,
                tied=tied_families(row),
                is_image=meta["kind"] == "image",
                values=values,
                row=row,
                quality={
                    "face_px": m["face_px"],
                    "sharpness": m["sharpness"],
                    "bits_per_pixel": _bpp(meta),
                    MOTION: np.nan if m["head_speed"] is None else m["head_speed"],
                    **{k: np.nan if m[k] is None else m[k] for k in (FACE_COMPLEXITY, CUE_COMPLEXITY)},
                },
            )
        )
        for fr in m.get("frames", []) if with_frames else []:
            items.append(replace(items[-1], is_image=True, values=fr["values"], quality=fr["quality"], trainable=False))
    memo_path.write_text(json.dumps(memo))
    return items


def load_copies(path: Path) -> list[Item]:
    """Re-shared copies measured by ``bench/experiments/reshare_records.py``, as items tied to their originals."""
    out = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        out.append(
            Item(path=r["path"], label=r["label"], family=r["family"], group=r["group"], tied=tuple(r["tied"]),
                 is_image=r["is_image"], values=r["values"], quality=r["quality"], row={}, copy_of=r["copy_of"])
        )  # fmt: skip
    return out


def originals(items: list[Item]) -> list[Item]:
    return [it for it in items if not it.copy_of]


def fit(train: list[Item], features: tuple[str, ...], l2: float, correct: bool) -> LearnedFusion:
    recs = [_record(it) for it in train]
    return fit_records(
        recs, features, l2=l2, correct=correct, floor=_FLOOR, two_sided=tuple(_TWO_SIDED), floored=_FLOORED,
        paired=_PAIRED, worst_family_tau=_TAU, quality_keys=_quality_keys(train, features),
    )  # fmt: skip


def _quality_keys(items: list[Item], features: tuple[str, ...]) -> QualityKeys:
    """What the correction reads: with --motion-correction a video pool's corrections read head speed too; with
    --scale-matched each evidence its own measure (rule 22)."""
    if _SCALE:
        return scale_matched_keys(features)
    return (*QUALITY, MOTION) if _MOTION and not any(it.is_image for it in items) else QUALITY


def _rho_columns(items: list[Item]) -> tuple[str, ...]:
    """The quality measures ρ is reported against: the issue's three, and what a rule's correction reads besides."""
    extra = (MOTION,) if _MOTION and not any(it.is_image for it in items) else ()
    return (*QUALITY, *extra, *((FACE_COMPLEXITY, CUE_COMPLEXITY) if _SCALE else ()))


def _record(it: Item) -> dict:
    return {"path": it.path, "label": it.label, "family": it.family, "values": it.values, "quality": it.quality,
            "copy_of": it.copy_of}  # fmt: skip


def rows_of(train: list[Item]) -> list[Item]:
    """What a head trains on: with --paired-correction, copies only shape the correction."""
    return originals(train) if _PAIRED else train


def score(model: LearnedFusion, items: list[Item]) -> np.ndarray:
    return np.array([model.logit(it.values, it.quality) for it in items])


def lofo(items: list[Item], features: tuple[str, ...], l2: float, correct: bool, scored: list[Item]) -> dict:
    """Train on ``items`` of the other families, score the held-out family's and real files among ``scored``."""
    ids = {id(it) for it in scored}
    families = sorted({it.family for it in scored if it.label})
    real_idx = [i for i, it in enumerate(items) if not it.label and id(it) in ids]
    table = {}
    for fam in families:
        fake_idx = [i for i, it in enumerate(items) if it.family == fam and id(it) in ids]
        fake_scores = np.zeros(len(fake_idx))
        real_scores: dict[int, float] = {}
        lines, top_lines = [], []
        for k in range(N_FOLDS):
            train = [
                it
                for it in items
                if it.trainable
                and (
                    (it.label and it.family != fam)
                    or (not it.label and fam not in it.tied and identity_fold(it.group) != k)
                )
            ]
            model = fit(train, features, l2, correct)
            train_real = score(model, [it for it in rows_of(train) if not it.label])
            lines.append(np.quantile(train_real, 1 - FAKE_LINE_FPR))
            top_lines.append(float(train_real.max()))
            fake_scores += score(model, [items[i] for i in fake_idx]) / N_FOLDS
            test_real = [i for i in real_idx if identity_fold(items[i].group) == k or fam in items[i].tied]
            if not test_real:
                continue
            for i, s in zip(test_real, score(model, [items[i] for i in test_real]), strict=True):
                real_scores.setdefault(i, s)
        line, top = float(np.mean(lines)), float(np.mean(top_lines))
        rs = np.array(list(real_scores.values()))
        row = {
            "n_fake": len(fake_idx),
            "n_real": len(rs),
            "auc": float(roc_auc_score([0] * len(rs) + [1] * len(fake_scores), np.r_[rs, fake_scores])),
            "detected_at_line": float((fake_scores >= line).mean()),
            "real_over_line": float((rs >= line).mean()),
            # the shipped policy: "likely manipulated" above every real file the model trained on
            "detected_above_all_reals": float((fake_scores > top).mean()),
            "real_above_all_reals": float((rs > top).mean()),
        }
        if _MATCHED:  # descriptive: the same scores against real clips that move like this family's fakes
            row.update(_motion_matched([items[i] for i in fake_idx], fake_scores, real_scores, items))
        if _SOURCES:  # descriptive: against the family's own real sources (same pipeline, same compression)
            own = [s for i, s in real_scores.items() if fam in items[i].tied]
            row["n_real_own_sources"] = len(own)
            if len(own) >= 5:
                row["auc_own_sources"] = _auc(own, list(fake_scores))
        table[fam] = row
    aucs = [r["auc"] for r in table.values()]
    return {"families": table, "mean_auc": float(np.mean(aucs)), "min_auc": float(np.min(aucs))}


def _motion_matched(
    fakes: list[Item], fake_scores: np.ndarray, real_scores: dict[int, float], items: list[Item]
) -> dict:
    """AUC of the held-out family against the real clips whose head speed lies within its fakes' 10th–90th percentile
    (``bench/motion_confound.py``: some families move less than the real videos)."""
    speed = np.array([it.quality.get(MOTION, np.nan) for it in fakes], dtype=float)
    if np.isfinite(speed).sum() < 1:
        return {}
    lo, hi = np.nanpercentile(speed, [10, 90])
    rs = [s for i, s in real_scores.items() if lo <= items[i].quality.get(MOTION, np.nan) <= hi]
    if len(rs) < 10:
        return {"n_real_motion_matched": len(rs)}
    return {"n_real_motion_matched": len(rs), "auc_motion_matched": _auc(rs, list(fake_scores))}


def quality_rho_all(items: list[Item]) -> list[dict]:
    """Rule 5's (a): out-of-fold quality correlations of the quality-corrected configuration over real files (no fake
    enters it, so it may be computed once for every held-out family)."""
    files = [it for it in items if it.trainable]
    feats = _features(*CONFIGS["rule5"][::2])
    return [quality_rho([it for it in files if not it.is_image], feats, True),
            quality_rho([it for it in files if it.is_image], feats, True)]  # fmt: skip


def univariate(items: list[Item], features: tuple[str, ...], own_sources: bool = False) -> dict:
    """Per evidence: AUC of the raw value per family (vs all reals; > 0.5 = fakes higher). With ``own_sources``,
    against each family's own real sources instead (families with at least five; ``--source-matched``)."""
    out = {}
    for k in features:
        row = {}
        for fam in sorted({it.family for it in items if it.label}):
            reals = [it for it in items if not it.label and (not own_sources or fam in it.tied)]
            if own_sources and len(reals) < 5:
                continue
            r = np.array([it.values[k] for it in reals], dtype=float)
            f = np.array([it.values[k] for it in items if it.family == fam], dtype=float)
            a, b = r[np.isfinite(r)], f[np.isfinite(f)]
            if len(a) and len(b):
                row[fam] = round(float(roc_auc_score([0] * len(a) + [1] * len(b), np.r_[a, b])), 2)
        out[k] = row
    return out


def quality_rho(items: list[Item], features: tuple[str, ...], correct: bool) -> dict:
    """Spearman ρ of each evidence with each quality measure over real files; with ``correct``, each real identity
    fold is corrected by a :class:`QualityCorrection` fitted on the other folds (out-of-fold, so ρ is not zero by
    construction)."""
    pool = [it for it in items if not it.label and it.trainable]  # copies trained on train the correction too
    reals = originals(pool)  # and only originals are measured
    values = [dict(it.values) for it in reals]
    if correct:
        for k in range(N_FOLDS):
            train = [it for it in pool if identity_fold(it.group) != k]
            recs = [_record(it) for it in train]
            rows, pairs = copy_pairs(recs) if _PAIRED else (recs, None)
            corr = fit_quality_correction(
                [r["values"] for r in rows], [r["quality"] for r in rows], features, pairs,
                _quality_keys(train, features),
            )  # fmt: skip
            for j, it in enumerate(reals):
                if identity_fold(it.group) == k and corr is not None:
                    values[j] = corr.apply(it.values, it.quality)
    out = {}
    for f in features:
        v = np.array([np.nan if x.get(f) is None else x[f] for x in values], dtype=float)
        if f in _TWO_SIDED and np.isfinite(v).any():  # what a two-sided head reads: the distance from the median
            v = np.abs(v - np.nanmedian(v))
        row = {}
        for q in _rho_columns(reals):
            qa = np.array([it.quality.get(q, np.nan) for it in reals], dtype=float)
            ok = np.isfinite(v) & np.isfinite(qa)
            if ok.sum() > 10:
                row[q] = round(float(spearmanr(v[ok], qa[ok]).statistic), 2)
        out[f] = row
    return out


# The configurations the session's rules chose between (bench/results/2026-12-01-rules.md), in the order they were
# considered: (features, quality correction, evidence left out).
CONFIGS = {
    "existing": ("existing", False, ()),
    "rule1": ("cues,existing", False, ()),
    "rule5": ("cues,existing", True, ()),
    "rule6": ("cues,existing", True, ("temporal",)),
}


def _extra_cues() -> tuple[str, ...]:
    """The names --extra-cues brought in (measured on single crops, so a photo carries them too)."""
    return tuple(sorted({k for v in _EXTRA.values() for k in v}))


def _features(spec: str, dropped: tuple[str, ...]) -> tuple[str, ...]:
    sets = {"cues": cues_mod.CUES + _extra_cues(), "existing": EXISTING}
    return tuple(k for name in spec.split(",") for k in sets[name] if k not in dropped and k not in _WITHOUT)


def _auc(real: list[float], fake: list[float]) -> float:
    return float(roc_auc_score([0] * len(real) + [1] * len(fake), np.r_[real, fake]))


def equal_fusion_auc(videos: list[Item], fam: str) -> float:
    """The shipped bundle's former fusion (Stouffer's sum of the existing z-scores): nothing to train or choose."""

    def s(it: Item) -> float:
        z = [it.values[k] for k in EXISTING if np.isfinite(it.values.get(k, np.nan))]
        return float(np.sum(z) / np.sqrt(len(z))) if z else 0.0

    videos = originals(videos)
    return _auc([s(it) for it in videos if not it.label], [s(it) for it in videos if it.family == fam])


def choose(videos: list[Item], l2: float, rho_ok: bool) -> tuple[str, dict]:
    """The session's rules, applied to ``videos`` (the held-out family already removed): rule 5 over rule 1 if the
    quality correlations are small and it loses at most 0.03 of mean AUC; rule 6 over that on the same terms; the
    learned fusion at all (rule 3) only if it beats the existing evidence by 0.05 with no family 0.05 worse, else
    the equal fusion. Returns the choice and the inner means it was made on."""
    inner = {name: lofo(videos, _features(f, d), l2, c, originals(videos)) for name, (f, c, d) in CONFIGS.items()}
    mean = {name: r["mean_auc"] for name, r in inner.items()}
    chosen = "rule5" if rho_ok and mean["rule5"] >= mean["rule1"] - 0.03 else "rule1"
    if chosen == "rule5" and mean["rule6"] >= mean["rule5"] - 0.03:
        chosen = "rule6"
    base = inner["existing"]["families"]
    fams = inner[chosen]["families"]
    beats = mean[chosen] >= mean["existing"] + 0.05 and all(fams[f]["auc"] >= base[f]["auc"] - 0.05 for f in fams)
    return (chosen if beats else "equal"), mean


def nested_lofo(videos: list[Item], l2: float, rho_ok: bool) -> dict:
    """Leave-one-family-out with the *choice* inside: for each family, the rules pick a configuration on the other
    families only (their own leave-one-family-out), and only then is the held-out family scored with it."""
    out = {}
    for fam in sorted({it.family for it in videos if it.label}):
        rest = [it for it in videos if it.family != fam and fam not in it.tied]
        chosen, inner = choose(rest, l2, rho_ok)
        scored = [it for it in originals(videos) if it.family == fam or not it.label]
        if chosen == "equal":
            auc = equal_fusion_auc(videos, fam)
        else:
            f, c, d = CONFIGS[chosen]
            auc = lofo(videos, _features(f, d), l2, c, scored)["families"][fam]["auc"]
        out[fam] = {"chosen_on_other_families": chosen, "auc": auc, "inner_mean_auc": inner}
    return {"families": out, "mean_auc": float(np.mean([r["auc"] for r in out.values()]))}


def _print_lofo(title: str, res: dict) -> None:
    print(f"\n{title}")
    print(f"{'family':28s} {'n':>4s} {'AUC':>6s} {'det@5%':>7s} {'real>5%':>8s} {'det>max':>8s} {'real>max':>9s}")
    for fam, r in res["families"].items():
        print(
            f"{fam:28s} {r['n_fake']:4d} {r['auc']:6.3f} {r['detected_at_line']:7.2f} {r['real_over_line']:8.2f}"
            f" {r['detected_above_all_reals']:8.2f} {r['real_above_all_reals']:9.2f}"
            + (f"  motion-matched {r['auc_motion_matched']:.3f} (n_real {r['n_real_motion_matched']})"
               if "auc_motion_matched" in r else "")
            + (f"  own sources {r['auc_own_sources']:.3f} (n_real {r['n_real_own_sources']})"
               if "auc_own_sources" in r else "")
        )  # fmt: skip
    print(f"mean AUC {res['mean_auc']:.3f}, min {res['min_auc']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "gen"))
    ap.add_argument("--features", default="cues,existing")
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--quality-correction", action="store_true")
    ap.add_argument("--drop", default="", help="comma-separated evidence to leave out (e.g. temporal)")
    ap.add_argument("--frames", action="store_true", help="also score frames of every video as photos")
    ap.add_argument("--nested", action="store_true", help="choose the configuration without the held-out family")
    ap.add_argument("--json")
    ap.add_argument(
        "--augment", help="re-shared copies' records (bench/experiments/reshare_records.py): trained on, scored apart"
    )
    ap.add_argument("--score-copies-only", action="store_true", help="with --augment: score the copies, train on none")
    ap.add_argument("--dump-records", help="write the records train's fusion stage reads (JSON lines) and stop")
    ap.add_argument("--floor", type=float, default=FLOOR, help="lowest oriented z a learned head takes (rule 12)")
    ap.add_argument("--floor-only", help="comma-separated evidence --floor applies to (default: all; rule 15)")
    ap.add_argument("--two-sided", default="", help="'cues' or comma-separated evidence read as |z| (rule 14)")
    ap.add_argument("--without", default="", help="comma-separated evidence removed everywhere, --nested's too")
    ap.add_argument("--extra-cues", help="JSON {cache key: {cue: value}} added to the cues (bench/sbi_folds.py)")
    ap.add_argument(
        "--paired-correction",
        action="store_true",
        help="with --augment: copies shape the quality correction only, paired with originals (rule 17)",
    )
    ap.add_argument("--worst-family", action="store_true", help="fit the heads' worst family (group DRO, rule 18)")
    ap.add_argument("--motion-correction", action="store_true", help="video corrections read head speed (rule 21)")
    ap.add_argument("--scale-matched", action="store_true", help="correct each evidence for its own pixels (rule 22)")
    ap.add_argument("--motion-matched", action="store_true", help="also AUC against reals moving like the fakes")
    ap.add_argument("--source-matched", action="store_true", help="also AUC against each family's own real sources")
    args = ap.parse_args()
    if args.paired_correction and not args.augment:
        ap.error("--paired-correction needs --augment")
    if args.extra_cues:
        _EXTRA.update(json.loads(Path(args.extra_cues).read_text()))
    global _FLOOR, _FLOORED, _PAIRED, _TAU, _MOTION, _MATCHED, _SCALE, _SOURCES
    _SOURCES = args.source_matched
    _SCALE = args.scale_matched
    _MATCHED = args.motion_matched
    _PAIRED = args.paired_correction
    _MOTION = args.motion_correction
    _TAU = WORST_FAMILY_TAU if args.worst_family else None
    _FLOOR = args.floor
    _FLOORED = tuple(args.floor_only.split(",")) if args.floor_only else None
    _WITHOUT.update(k for k in args.without.split(",") if k)
    for k in (k for k in args.two_sided.split(",") if k):
        _TWO_SIDED.update(cues_mod.CUES if k == "cues" else (k,))
    if args.frames:
        global _BUNDLE
        from vaedetect.models import ModelBundle

        _BUNDLE = ModelBundle.load(ROOT / "assets" / "checkpoints" / "default")
    items = load(Path(args.cache), with_frames=args.frames)
    copies = load_copies(Path(args.augment)) if args.augment else []
    if args.score_copies_only:  # the shipped head's view: trained on originals, copies only scored
        copies = [replace(c, trainable=False) for c in copies]
    if args.dump_records:
        recs: list[dict] = []
        for it in items:
            values = {k: v for k, v in it.values.items() if v is not None and np.isfinite(v)}
            if not it.trainable:  # a frame of the video just before it (--frames)
                recs[-1].setdefault("frames", []).append({"values": values, "quality": it.quality})
                continue
            recs.append(record_of(it.row, {"values": values, "quality": it.quality, "is_image": it.is_image}))
        with open(args.dump_records, "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in recs)
        return
    features = _features(args.features, tuple(k for k in args.drop.split(",") if k))
    correct = args.quality_correction
    files = [it for it in items if it.trainable]
    use = "paired for the correction" if _PAIRED else "trained on"
    print(f"{len(files)} files: {sum(it.label for it in files)} fake, {sum(1 - it.label for it in files)} real"
          f" (+ {len(copies)} re-shared copies {use})")  # fmt: skip
    uni = univariate(files, features)
    uni_own = univariate([it for it in files if not it.is_image], features, own_sources=True) if _SOURCES else {}
    fams = sorted({it.family for it in items if it.label})
    print("\nper evidence: AUC by family (raw value, > 0.5 = fakes higher)")
    print(f"{'evidence':22s}" + "".join(f"{f.split('-')[-1][:9]:>10s}" for f in fams))
    for k, row in uni.items():
        print(f"{k:22s}" + "".join(f"{row.get(f, float('nan')):10.2f}" for f in fams))
    items_all = items + copies
    videos = [it for it in items_all if not it.is_image]
    photos = [it for it in items if it.is_image and it.trainable]
    frames = [it for it in items if not it.trainable]
    rho = {
        "videos": quality_rho(videos, features, correct),
        "photos": quality_rho([it for it in items_all if it.is_image and it.trainable], features, correct),
    }
    for media, table in rho.items():
        print(f"\nSpearman rho with quality over real {media} ({'corrected out-of-fold' if correct else 'raw'})")
        cols = (*QUALITY, MOTION)
        print(f"{'evidence':22s}" + "".join(f"{q:>16s}" for q in cols))
        for k, row in table.items():
            print(f"{k:22s}" + "".join(f"{row.get(q, float('nan')):16.2f}" for q in cols))
    res_v = lofo(videos, features, args.l2, correct, originals(videos))
    photo_cues = ("face", "latent", *cues_mod.FRAME_CUES, *_extra_cues())
    photo_features = tuple(k for k in features if k in photo_cues)
    res_p = lofo(items_all, photo_features, args.l2, correct, photos)
    real_photos = [it for it in photos if not it.label]
    res_f = lofo(items_all, photo_features, args.l2, correct, frames + real_photos) if frames else None
    res_cv = lofo(videos, features, args.l2, correct, [it for it in videos if it.copy_of]) if copies else None
    res_p8 = res_f8 = None
    if frames:  # rule 8: the photo head trained on single frames and photos (no per-clip video records)
        frames8 = [replace(it, trainable=True) for it in frames]
        pool8 = [it for it in items_all if it.is_image and it.trainable] + frames8
        res_p8 = lofo(pool8, photo_features, args.l2, correct, photos)
        res_f8 = lofo(pool8, photo_features, args.l2, correct, frames8 + real_photos)
    tag = f"features={args.features}, l2={args.l2}, quality correction={'on' if correct else 'off'}"
    _print_lofo(f"leave-one-family-out, VIDEOS, {tag}", res_v)
    _print_lofo(f"leave-one-family-out, PHOTOS (photo evidence, trained on all media), {tag}", res_p)
    if res_f is not None:
        _print_lofo(f"leave-one-family-out, FRAMES OF VIDEOS AS PHOTOS (+ real photos), {tag}", res_f)
    if res_f8 is not None:
        _print_lofo(f"rule 8: PHOTOS, photo head trained on frames + photos, {tag}", res_p8)
        _print_lofo(f"rule 8: FRAMES OF VIDEOS AS PHOTOS (+ real photos), trained on frames + photos, {tag}", res_f8)
    if res_cv is not None:
        _print_lofo(f"leave-one-family-out, RE-SHARED COPIES OF VIDEOS (scored apart), {tag}", res_cv)
    nested = None
    if args.nested:
        rhos = quality_rho_all(items_all)
        # the nested rules were written for the three quality measures (rule 5)
        rho_ok = all(abs(v) <= 0.2 for media in rhos for row in media.values() for q, v in row.items() if q in QUALITY)
        nested = nested_lofo(videos, args.l2, rho_ok)
        print("\nnested leave-one-family-out (configuration chosen by the rules on the other eight families)")
        for fam, r in nested["families"].items():
            print(f"{fam:28s} {r['chosen_on_other_families']:>9s} {r['auc']:6.3f}")
        print(f"mean AUC {nested['mean_auc']:.3f}")
    if args.json:
        out = {
            "command": "python bench/generalisation.py " + " ".join(sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "features": features,
            "l2": args.l2,
            "floor": args.floor,
            "floor_only": _FLOORED,
            "quality_correction": correct,
            "paired_correction": _PAIRED,
            "worst_family_tau": _TAU,
            "motion_correction": _MOTION,
            "scale_matched": _SCALE,
            "univariate": uni,
            "univariate_own_sources": uni_own,
            "quality_rho": rho,
            "videos": res_v,
            "photos": res_p,
            "frames_as_photos": res_f,
            "reshared_copies_videos": res_cv,
            "rule8_photos": res_p8,
            "rule8_frames_as_photos": res_f8,
            "n_copies_trained_on": len(copies),
            "nested": nested,
        }
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
