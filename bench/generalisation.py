"""Leave-one-family-out and leave-one-group-out: does the evidence find generators it never saw?

Reads the cache ``bench/cache.py`` made from ``../shared/data``. For every configuration (the candidates of
``bench/results/2026-12-06-evidence-rules.md`` and the configuration shipped before them), each unit of fakes (a family
with at least three fake videos, or a group's smaller families pooled) is scored by fits that saw neither its fakes nor
the real files tied to it (its own real sources), nor the people of the scored file's identity fold; real files are
scored by the fit of their own fold. The same with whole groups held out (lip-sync, talking-head, face-swap,
reenactment). Also: photos and frames of videos as photos (apart), each family against its own real sources where it
has at least five, the share of held-out fakes and real files at each verdict tier, and the nested pick.

    python bench/generalisation.py [--cache .cache/evidence] [--json bench/results/2026-12-06-generalisation.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaedetect.training.held_out import GROUPS, auc, held_out_scores, tiers, unit_of  # noqa: E402
from vaedetect.training.records import load_records  # noqa: E402
from vaedetect.training.stacking import CANDIDATES, CONFIGS, SHIPPED, EvidenceConfig  # noqa: E402

MIN_OWN_SOURCES = 5


def evaluate(records: list[dict[str, Any]], config: EvidenceConfig, units: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"config": config.__dict__ | {"probes": config.probes}, "lofo": {}, "logo": {}}
    fam_of_unit = defaultdict(set)
    for f, u in units.items():
        fam_of_unit[u].add(f)
    photos_f, photos_r, frames_f, frames_r = [], None, [], None
    for unit, fams in sorted(fam_of_unit.items()):
        fvf, rv, fp, rp, ff, rf = held_out_scores(records, config, fams, fams)
        fv = [x for _, x in fvf]
        row = {"n_fake": len([x for x in fv if x is not None]), "auc": auc(fv, rv), "photo_auc": auc(fp, rp),
               "frames_auc": auc(ff, rf), "tiers": tiers(fv, rv) if fv else None, "fake_scores": fv}  # fmt: skip
        own = [r for r in records if not r["label"] and not r["is_image"] and set(r["tied"]) & fams]
        if len(own) >= MIN_OWN_SOURCES:
            own_ids = {id(r) for r in own}
            reals = [r for r in records if not r["label"]]
            rv_own = [s for r, s in zip([r for r in reals if not r["is_image"]], rv, strict=True) if id(r) in own_ids]
            row["own_sources_auc"], row["n_own_sources"] = auc(fv, rv_own), len(own)
        out["lofo"][unit] = row
        photos_f += fp
        frames_f += ff
        photos_r, frames_r = rp, rf  # a real file's score differs a little per held-out unit: the last unit's
        print(f"  {config.name} {unit:40s} n={row['n_fake']:3d} auc={row['auc']}", flush=True)
    for g in GROUPS:
        fams = {f for f, u in units.items() if any(r["family"] == f and r["kind_group"] == g for r in records)}
        fvf, rv, fp, rp, ff, rf = held_out_scores(records, config, fams, fams)
        fv = [x for _, x in fvf]
        out["logo"][g] = {"n_fake": len(fv), "auc": auc(fv, rv), "photo_auc": auc(fp, rp), "frames_auc": auc(ff, rf),
                          "fake_scores": fvf, "real_scores": rv}  # fmt: skip
        print(f"  {config.name} group {g:32s} auc={out['logo'][g]['auc']}", flush=True)
    lofo = [v["auc"] for v in out["lofo"].values() if v["auc"] is not None and v["n_fake"] > 0]
    logo = [v["auc"] for v in out["logo"].values() if v["auc"] is not None]
    out["lofo_mean"], out["logo_mean"] = float(np.mean(lofo)), float(np.mean(logo))
    out["score"] = 0.5 * out["lofo_mean"] + 0.5 * out["logo_mean"]
    pooled = [v["tiers"] for v in out["lofo"].values() if v["tiers"]]
    out["tiers_pooled"] = _pool_tiers(pooled)
    out["photos_auc"] = auc(photos_f, photos_r)
    out["frames_auc"] = auc(frames_f, frames_r)
    return out


def _pool_tiers(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Held-out fakes pooled over units (each unit's fakes against its own lines); real files: the mean share."""
    nf = sum(r["n_fake"] for r in rows)
    fakes = {t: sum(r["fakes"][t] * r["n_fake"] for r in rows) / nf for t in ("real", "uncertain", "fake")}
    real = {t: float(np.mean([r["real_files"][t] for r in rows])) for t in ("real", "uncertain", "fake")}
    return {"n_fake": nf, "n_real": rows[0]["n_real"], "n_units": len(rows), "fakes": fakes, "real_files": real}


def pick(scores: dict[str, float]) -> str:
    """The rule: the highest score; within 0.005 of it, the candidate reading the fewest evidence."""
    top = max(scores.values())
    near = [c for c in scores if scores[c] >= top - 0.005]
    return min(near, key=lambda c: (len(CONFIGS[c].video), -scores[c]))


def nested(results: dict[str, dict[str, Any]], units: dict[str, str]) -> dict[str, Any]:
    """For each unit, the rule's pick from the other units' LOFO AUCs and the groups' LOGO AUCs recomputed without the
    unit's fakes, and that pick's AUC on the unit."""
    out = {}
    for unit in results[CANDIDATES[0]]["lofo"]:
        fams = {f for f, u in units.items() if u == unit}
        scores = {}
        for c in CANDIDATES:
            res = results[c]
            lofo = [v["auc"] for u, v in res["lofo"].items() if u != unit and v["auc"] is not None]
            logo = []
            for g in res["logo"].values():
                a = auc([x for f, x in g["fake_scores"] if f not in fams], g["real_scores"])
                if a is not None:
                    logo.append(a)
            scores[c] = 0.5 * float(np.mean(lofo)) + 0.5 * float(np.mean(logo))
        best = pick(scores)
        out[unit] = {"pick": best, "auc": results[best]["lofo"][unit]["auc"]}
    aucs = [v["auc"] for v in out.values() if v["auc"] is not None]
    return {"per_unit": out, "mean": float(np.mean(aucs))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "evidence"))
    ap.add_argument("--json")
    ap.add_argument("--configs", default=",".join((*CANDIDATES, "shipped")))
    args = ap.parse_args()
    t0 = time.time()
    records, _, av_size = load_records(Path(args.cache))
    records = [r for r in records if not r.get("copy_of")]  # re-shared copies set a bundle's lines; not judged here
    units = unit_of(records)
    print(f"speech-to-mouth size: {av_size}", flush=True)
    print(f"{len(records)} records, {len(set(units.values()))} units, {time.time() - t0:.0f}s", flush=True)
    results = {}
    for name in args.configs.split(","):
        cfg = SHIPPED if name == "shipped" else CONFIGS[name]
        results[name] = evaluate(records, cfg, units)
        r = results[name]
        print(f"{name}: lofo {r['lofo_mean']:.3f} logo {r['logo_mean']:.3f} score {r['score']:.3f} "
              f"photos {r['photos_auc']} frames {r['frames_auc']}", flush=True)  # fmt: skip
    out: dict[str, Any] = {"command": "python bench/generalisation.py " + " ".join(sys.argv[1:]), "results": results}
    if all(c in results for c in CANDIDATES):
        scores = {c: results[c]["score"] for c in CANDIDATES}
        out["pick"] = pick(scores)
        out["nested"] = nested(results, units)
        print(f"pick {out['pick']} (scores {scores}); nested LOFO mean {out['nested']['mean']:.3f}")
    out["units"] = units
    out["speech_to_mouth"] = av_size
    out["seconds"] = round(time.time() - t0, 1)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
