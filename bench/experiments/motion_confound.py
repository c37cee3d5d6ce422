"""How much a head moves: a content confound, measured like the quality confound (descriptive, nothing is chosen here).

Rule 20 of ``bench/results/2026-12-01-rules.md`` found generated faces keeping their identity more steadily than real
people, most likely because they move less. If the fakes of ``../shared/data`` move less than its real clips, any
evidence that follows motion looks like a detector here and fails on a real clip of someone sitting still. This
prints, over the cached videos (``bench/cache_clips.py``):
- head speed per clip (:func:`vaedetect.cues.head_speed`);
- its own AUC per fake family against all real videos (< 0.5: that family's fakes move less), a naive shortcut like
  face sharpness;
- each evidence's Spearman ρ with head speed over real videos (raw values, as ``generalisation.py``'s ``univariate``).

    python bench/motion_confound.py [--cache .cache/gen] [--json bench/results/2026-12-02-motion-confound.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import generalisation as gen  # noqa: E402

from vaedetect.fusion import MOTION  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "gen"))
    ap.add_argument("--json")
    args = ap.parse_args()
    # generalisation.load memoises each video's head speed (vaedetect.cues.head_speed) in its quality measures
    items = [it for it in gen.load(Path(args.cache)) if not it.is_image and np.isfinite(it.quality[MOTION])]
    speed = {it.path: it.quality[MOTION] for it in items}
    reals = [it for it in items if not it.label]
    s_real = np.array([speed[it.path] for it in reals])
    families = sorted({it.family for it in items if it.label})
    out: dict = {"n_real_videos": len(reals), "real_median_speed": float(np.median(s_real)), "families": {}}
    print(f"head speed (inter-ocular distances per frame): real videos median {np.median(s_real):.4f} (n={len(reals)})")
    print(f"{'family':28s} {'n':>4s} {'median':>8s} {'AUC':>6s}")
    for fam in families:
        s_fake = np.array([speed[it.path] for it in items if it.family == fam])
        auc = float(roc_auc_score([0] * len(s_real) + [1] * len(s_fake), np.r_[s_real, s_fake]))
        out["families"][fam] = {"n": len(s_fake), "median_speed": float(np.median(s_fake)), "auc": round(auc, 3)}
        print(f"{fam:28s} {len(s_fake):4d} {np.median(s_fake):8.4f} {auc:6.3f}")
    out["mean_auc_fakes_move_less"] = round(float(np.mean([1 - r["auc"] for r in out["families"].values()])), 3)
    print(f"mean AUC of 'moves less' as a detector: {out['mean_auc_fakes_move_less']:.3f}")
    rho = {}
    for k in sorted({k for it in reals for k in it.values}):
        v = np.array([it.values.get(k, np.nan) for it in reals], dtype=float)
        ok = np.isfinite(v)
        if ok.sum() > 10:
            rho[k] = round(float(spearmanr(v[ok], s_real[ok]).statistic), 2)
    out["evidence_rho_with_speed_over_real_videos"] = rho
    print("Spearman rho with head speed over real videos:", json.dumps(rho))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
