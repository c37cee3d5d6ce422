"""Rule 16 of ``bench/results/2026-12-01-rules.md``: the SBI blend-seam evidence, scored without identity leakage.

Trains one blend classifier (``vaedetect.models.blend``) per identity fold (``fusion.identity_fold``) on the cached cue
crops of real files outside that fold: real faces against self- and cross-blended copies of themselves
(``training.stages.train_blend_net``), first with the shipped degradation, then with the low-quality one (16b).
Every cached file, real or fake, is scored by the net of its own identity's fold: the mean logit over its cue crops.
No deepfake is seen in training. Writes ``{cache key: {"sbi": value}}`` for ``bench/generalisation.py --extra-cues``.

    python bench/sbi_folds.py [--cache .cache/gen] [--out .cache/sbi.json] [--work .cache/sbi] [--steps 500]
        [--device cuda]

On a GPU machine (no MediaPipe, no cache there): ``--export crops.npz`` here, carry it, ``--train-from crops.npz
--device cuda --work $OUT/sbi`` there, then run here with ``--work`` pointing at the nets that came back: a finished
net is loaded, not retrained, and every cached file is scored.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vaedetect.evidence import blend_logits  # noqa: E402
from vaedetect.fusion import N_FOLDS, identity_fold  # noqa: E402
from vaedetect.models.blend import BlendConfig, BlendNet  # noqa: E402
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


def training_crops(files: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Every ``TRAIN_STRIDE``-th crop of every real file, with its identity fold: what the fold nets train on."""
    crops = [(c, f["fold"]) for f in files if f["real"] and f["crops"] is not None for c in f["crops"][::TRAIN_STRIDE]]
    return np.stack([c for c, _ in crops]), np.array([k for _, k in crops], np.int8)


def export_training(crops: np.ndarray, folds: np.ndarray, path: Path) -> None:
    """The training crops as JPEG (quality 95) in one ``.npz`` (no pickle): small enough to carry to a GPU machine,
    which has no MediaPipe and no cache."""
    bufs = [cv2.imencode(".jpg", c[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for c in crops]
    offsets = np.cumsum([0] + [len(b) for b in bufs])
    np.savez(path, jpeg=np.frombuffer(b"".join(bufs), np.uint8), offsets=offsets, fold=folds)


def import_training(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(crops, folds) as :func:`export_training` wrote them."""
    d = np.load(path)
    jpeg, off = d["jpeg"], d["offsets"]
    crops = [cv2.imdecode(jpeg[a:b], cv2.IMREAD_COLOR)[..., ::-1] for a, b in itertools.pairwise(off)]
    return np.ascontiguousarray(np.stack(crops)), d["fold"]


def mean_logit(net: BlendNet, crops: np.ndarray, px: int) -> float:
    return float(np.mean(blend_logits(net, crops, px)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "gen"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "sbi.json"))
    ap.add_argument("--work", default=str(ROOT / ".cache" / "sbi"))
    ap.add_argument("--steps", type=int, default=500, help="steps of each of the two phases")
    ap.add_argument("--folds", type=int, nargs="*", default=list(range(N_FOLDS)))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu", help="where the nets train (they score on the CPU)")
    ap.add_argument("--export", help="write the real training crops to this .npz and stop (to carry to a GPU)")
    ap.add_argument("--train-from", help="train from an --export file only (no cache, nothing scored)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bcfg = BlendConfig()
    px = bcfg.image_px
    t0 = time.time()
    files = [] if args.train_from else load(Path(args.cache), px)
    crops, folds = import_training(Path(args.train_from)) if args.train_from else training_crops(files)
    print(f"{len(files)} files, {len(crops)} real training crops, {time.time() - t0:.0f}s", flush=True)
    if args.export:
        export_training(crops, folds, Path(args.export))
        print(f"exported to {args.export} ({Path(args.export).stat().st_size / 2**20:.1f} MiB)")
        return
    out_path = Path(args.out)
    values = json.loads(out_path.read_text()) if out_path.exists() else {}
    cfg = TrainConfig(batch_size=32, lr=1e-3, checkpoint_every=250, seed=0, blend=bcfg, blend_steps=args.steps,
                      blend_low_quality_steps=args.steps, blend_low_quality_lr=3e-4)  # fmt: skip
    for k in args.folds:
        pool = crops[folds != k]
        net = BlendNet(bcfg)
        (Path(args.work) / f"fold{k}").mkdir(parents=True, exist_ok=True)
        t1 = time.time()
        log = train_blend_net(net, pool, cfg, Path(args.work) / f"fold{k}", args.device, name=f"sbi_fold{k}")
        net.eval()
        for f in files:
            if f["fold"] == k:
                values[f["key"]] = {"sbi": mean_logit(net, f["crops"], px) if f["crops"] is not None else None}
        if files:  # --train-from scores nothing: leave the values file alone
            out_path.write_text(json.dumps(values))
        last = log[-1] if log else {}
        print(f"fold {k}: {len(pool)} real crops, {time.time() - t1:.0f}s, last log {last}", flush=True)
    where = f"{len(values)} files scored in {out_path}" if files else f"nets in {args.work}"
    print(f"done: {where}, {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
