"""Rule 16 (c): does re-sharing a real file move the SBI blend-seam evidence?

``bench/invariance.py``'s files (``--n`` speech clips, silent clips and photos, the same hash draw) and its four copies
(half size, CRF 35, blur σ 1, quarter-size upscaled), each ingested as the detector does, its first 60 cue crops
scored by the fold net of ``bench/sbi_folds.py`` that never trained on the file's person. Prints per transform the
median |Δ| in units of the real files' robust spread of the evidence (IQR / 1.349 over ``--values``).

    python bench/sbi_invariance.py [--n 12] [--json bench/results/x.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling experiments

from invariance import TRANSFORMS, pick, reshare_photo, reshare_video  # noqa: E402
from sbi_folds import mean_logit  # noqa: E402

import vaedetect  # noqa: E402
from vaedetect.fusion import N_FOLDS, identity_fold  # noqa: E402
from vaedetect.ingest import ingest  # noqa: E402
from vaedetect.models.blend import BlendConfig, BlendNet  # noqa: E402

MAX_CROPS = 60  # as bench/cache_clips.py keeps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--work", default=str(ROOT / ".cache" / "sbi"))
    ap.add_argument("--values", nargs="+", default=[str(ROOT / ".cache" / "sbi.json")])
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "gen"))
    ap.add_argument("--json")
    args = ap.parse_args()
    data = Path(args.data)
    with open(data / "manifest.csv") as fh:
        all_rows = list(csv.DictReader(fh))
    rows = pick(all_rows, args.n)
    cfg = BlendConfig()
    nets = []
    for k in range(N_FOLDS):
        net = BlendNet(cfg)
        net.load_state_dict(load_file(str(Path(args.work) / f"fold{k}" / f"sbi_fold{k}_lq.safetensors")))
        nets.append(net.eval())
    # the spread of the evidence over real files (real videos and photos apart, as the heads read them)
    values = {}
    for p in args.values:
        values.update(json.loads(Path(p).read_text()))
    kinds = {}
    for f in Path(args.cache).glob("*.npz"):
        meta = json.loads(bytes(np.load(f)["meta"]))
        if meta["row"]["label"] != "fake" and values.get(f.stem, {}).get("sbi") is not None:
            kinds.setdefault(meta["kind"] == "image", []).append(values[f.stem]["sbi"])
    spread = {k: float(np.subtract(*np.percentile(v, [75, 25])) / 1.349) for k, v in kinds.items()}
    det = vaedetect.load_detector()

    def sbi(path: Path, fold: int) -> float | None:
        clip = ingest(path, det.limits, det.face_config)
        arr, _, _ = det.measure(clip, keep_images=False)
        crops = arr.cue_crops[:MAX_CROPS]
        return mean_logit(nets[fold], crops, cfg.image_px) if len(crops) else None

    results, t0 = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for r in rows:
            photo = r["split"] == "stills"
            fold = identity_fold(r["identity"] or r["path"])
            entry = {"path": r["path"], "photo": photo}
            try:
                entry["original"] = sbi(data / r["path"], fold)
                for name, ff in TRANSFORMS.items():
                    dst = Path(tmp) / (f"{name}.jpg" if photo else f"{name}.mp4")
                    (reshare_photo(data / r["path"], dst, name) if photo else reshare_video(data / r["path"], dst, ff))
                    entry[name] = sbi(dst, fold)
                    dst.unlink()
            except vaedetect.InputError as e:
                entry["error"] = str(e)
            results.append(entry)
            print(f"{len(results)}/{len(rows)} {time.time() - t0:.0f}s {r['path']}", flush=True)
    table = {}
    for name in TRANSFORMS:
        d = [abs(e[name] - e["original"]) / spread[e["photo"]] for e in results
             if e.get("original") is not None and e.get(name) is not None]  # fmt: skip
        table[name] = {"n": len(d), "median_abs_dz": round(float(np.median(d)), 3) if d else None}
    print(json.dumps({"spread": spread, "table": table}, indent=1))
    if args.json:
        out = {"command": " ".join(sys.argv), "spread": {str(k): v for k, v in spread.items()}, "table": table,
               "files": results}  # fmt: skip
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
