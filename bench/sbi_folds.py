"""Rule 16 of ``bench/results/2026-12-01-rules.md``: the SBI blend-seam evidence, scored without identity leakage.

Trains one blend classifier (``vaedetect.models.blend``) per identity fold (``fusion.identity_fold``) on the cached cue
crops of real files outside that fold: real faces against self- and cross-blended copies of themselves
(``training.stages.train_blend_net``), first with the shipped degradation, then with the low-quality one (16b).
Every cached file, real or fake, is scored by the net of its own identity's fold: the mean logit over its cue crops.
No deepfake is seen in training. Writes ``{cache key: {"sbi": value}}`` for ``bench/generalisation.py --extra-cues``.

    python bench/sbi_folds.py [--cache .cache/gen] [--out .cache/sbi.json] [--work .cache/sbi] [--steps 500]
        [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaedetect.fusion import N_FOLDS, identity_fold  # noqa: E402
from vaedetect.models.blend import BlendConfig, BlendNet  # noqa: E402
from vaedetect.models.images import crops_to_tensor  # noqa: E402
from vaedetect.training.recipes import TrainConfig  # noqa: E402
from vaedetect.training.stages import train_blend_net  # noqa: E402

TRAIN_STRIDE = 3  # every 3rd cached crop of a real file trains (neighbouring frames are near-copies)


def load(cache: Path, px: int) -> list[dict]:
    files = []
    for f in sorted(cache.glob("*.npz")):
        d = np.load(f)
        meta = json.loads(bytes(d["meta"]))
        row = meta["row"]
        crops = d["crops"]
        small = np.stack([cv2.resize(c, (px, px), interpolation=cv2.INTER_AREA) for c in crops]) if len(crops) else None
        files.append(
            {"key": f.stem, "real": row["label"] != "fake", "fold": identity_fold(row["identity"] or row["path"]),
             "crops": small}
        )  # fmt: skip
    return files


@torch.no_grad()
def mean_logit(net: BlendNet, crops: np.ndarray, px: int) -> float:
    out = [net(crops_to_tensor(crops[s : s + 64], px)).numpy() for s in range(0, len(crops), 64)]
    return float(np.mean(np.concatenate(out)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "gen"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "sbi.json"))
    ap.add_argument("--work", default=str(ROOT / ".cache" / "sbi"))
    ap.add_argument("--steps", type=int, default=500, help="steps of each of the two phases")
    ap.add_argument("--folds", type=int, nargs="*", default=list(range(N_FOLDS)))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu", help="where the nets train (they score on the CPU)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bcfg = BlendConfig()
    px = bcfg.image_px
    t0 = time.time()
    files = load(Path(args.cache), px)
    print(f"loaded {len(files)} files in {time.time() - t0:.0f}s", flush=True)
    out_path = Path(args.out)
    values = json.loads(out_path.read_text()) if out_path.exists() else {}
    cfg = TrainConfig(batch_size=32, lr=1e-3, checkpoint_every=250, seed=0, blend=bcfg, blend_steps=args.steps,
                      blend_low_quality_steps=args.steps, blend_low_quality_lr=3e-4)  # fmt: skip
    for k in args.folds:
        pool = np.concatenate([f["crops"][::TRAIN_STRIDE] for f in files if f["real"] and f["fold"] != k
                               and f["crops"] is not None])  # fmt: skip
        net = BlendNet(bcfg)
        (Path(args.work) / f"fold{k}").mkdir(parents=True, exist_ok=True)
        t1 = time.time()
        log = train_blend_net(net, pool, cfg, Path(args.work) / f"fold{k}", args.device, name=f"sbi_fold{k}")
        net.eval()
        for f in files:
            if f["fold"] == k:
                values[f["key"]] = {"sbi": mean_logit(net, f["crops"], px) if f["crops"] is not None else None}
        out_path.write_text(json.dumps(values))
        last = log[-1] if log else {}
        print(f"fold {k}: {len(pool)} real crops, {time.time() - t1:.0f}s, last log {last}", flush=True)
    print(f"done: {len(values)} files scored, {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
