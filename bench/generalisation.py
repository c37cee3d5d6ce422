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
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaedetect.training import held_out  # noqa: E402
from vaedetect.training.held_out import auc, unit_of  # noqa: E402
from vaedetect.training.records import load_records  # noqa: E402
from vaedetect.training.stacking import CANDIDATES, CONFIGS, SHIPPED, EvidenceConfig  # noqa: E402


def evaluate(records: list[dict[str, Any]], config: EvidenceConfig) -> dict[str, Any]:
    """:func:`vaedetect.training.held_out.evaluate` (what ``train`` writes into a bundle), with the rule's score."""
    res = held_out.evaluate(records, config, log=lambda line: print(f"  {config.name} {line}", flush=True))
    out = {"config": config.__dict__ | {"probes": config.probes}, **res}
    out["score"] = 0.5 * res["lofo_mean"] + 0.5 * res["logo_mean"]
    return out


def pick(scores: dict[str, float]) -> str:
    """The rule: the highest score; within 0.005 of it, the candidate reading the fewest evidence."""
    top = max(scores.values())
    near = [c for c in scores if scores[c] >= top - 0.005]
    return min(near, key=lambda c: (len(CONFIGS[c].video), -scores[c]))


def nested(results: dict[str, dict[str, Any]], units: dict[str, str]) -> dict[str, Any]:
    """For each unit, the rule's pick from the other units' LOFO AUCs and the groups' LOGO AUCs recomputed without the
    unit's fakes, and that pick's AUC on the unit."""
    out = {}
    for unit in results[CANDIDATES[0]]["units"]:
        fams = {f for f, u in units.items() if u == unit}
        scores = {}
        for c in CANDIDATES:
            res = results[c]
            lofo = [v["auc"] for u, v in res["units"].items() if u != unit and v["auc"] is not None]
            logo = []
            for g in res["groups"].values():
                a = auc([x for f, x in g["fake_scores"] if f not in fams], g["real_scores"])
                if a is not None:
                    logo.append(a)
            scores[c] = 0.5 * float(np.mean(lofo)) + 0.5 * float(np.mean(logo))
        best = pick(scores)
        out[unit] = {"pick": best, "auc": results[best]["units"][unit]["auc"]}
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
        results[name] = evaluate(records, cfg)
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
