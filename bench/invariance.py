"""Quality invariance on real footage: does re-sharing a real clip move its evidence or its verdict?

For real files of ``../shared/data`` (speech clips, silent clips and photos; ``--n`` of each kind, chosen by a fixed
hash so the draw is reproducible), make re-shared copies — half size, H.264 CRF 35, Gaussian blur σ=1, a quarter-size
copy upscaled back — and analyse original and copies with the shipped detector end to end. Prints per evidence the
median |Δz| (copy minus original) per transform and how many copies change verdict or reach "likely manipulated".
Each evidence's Spearman ρ with face sharpness, face size and bitrate over all real files is in
``bench/generalisation.py`` (it has every real file cached).

    python bench/invariance.py [--n 12] [--json bench/results/2026-12-01-invariance.json]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vaedetect  # noqa: E402

# ffmpeg video filters; the photo versions below do the same with OpenCV.
TRANSFORMS = {
    "half_size": ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-crf", "23"],
    "crf35": ["-crf", "35"],
    "blur_sigma1": ["-vf", "gblur=sigma=1", "-crf", "23"],
    "quarter_upscaled": ["-vf", "scale=trunc(iw/8)*2:trunc(ih/8)*2,scale=iw*4:ih*4:flags=bicubic", "-crf", "23"],
}


def reshare_video(src: Path, dst: Path, args: list[str]) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), *args, "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", str(dst)]
    subprocess.run(cmd, check=True, timeout=300)


def reshare_photo(src: Path, dst: Path, name: str) -> None:
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    quality = 90
    if name == "half_size":
        img = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    elif name == "crf35":
        quality = 30  # the photo counterpart of a heavy re-encode
    elif name == "blur_sigma1":
        img = cv2.GaussianBlur(img, (0, 0), 1.0)
    elif name == "quarter_upscaled":
        small = cv2.resize(img, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, quality])


def pick(rows: list[dict], n: int) -> list[dict]:
    def h(r: dict) -> str:
        return hashlib.sha1(r["path"].encode()).hexdigest()

    groups = {
        "speech": [r for r in rows if r["label"] == "real" and r["split"] == "train" and r["has_audio"] == "1"],
        "silent": [r for r in rows if r["label"] == "real" and r["split"] == "train_silent"],
        "photo": [r for r in rows if r["split"] == "stills"],
    }
    return [r for g in groups.values() for r in sorted(g, key=h)[:n]]


def summary(report, weights: dict[str, dict[str, float]]) -> dict:
    """Verdict, score, and the z-score of every evidence the verdict counts: under a learned head a contribution is
    weight x z (z quality-corrected and oriented), so z is recovered from it; otherwise the report's own z-scores."""
    kind = "photo" if report.media.kind == "image" else "video"
    w = weights.get(kind, {})
    z = {k: v / w[k] for k, v in report.contributions.items() if w.get(k)} if w else dict(report.scores)
    return {"verdict": report.verdict, "score": report.manipulation_score, "z": z}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=12, help="files per kind (speech, silent, photo)")
    ap.add_argument("--json")
    args = ap.parse_args()
    data = Path(args.data)
    with open(data / "manifest.csv") as fh:
        rows = pick(list(csv.DictReader(fh)), args.n)
    det = vaedetect.load_detector()
    learned = det.bundle.calibration.get("learned", {})
    weights = {
        kind: dict(zip(b["fusion"]["features"], b["fusion"]["weights"], strict=True)) for kind, b in learned.items()
    }
    results = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for r in rows:
            src = data / r["path"]
            photo = r["split"] == "stills"
            entry = {"path": r["path"], "kind": "photo" if photo else r["split"]}
            try:
                rep = det.analyze(src)
                entry["original"] = summary(rep, weights)
                for name, ff in TRANSFORMS.items():
                    dst = Path(tmp) / (f"{name}.jpg" if photo else f"{name}.mp4")
                    (reshare_photo(src, dst, name) if photo else reshare_video(src, dst, ff))
                    entry[name] = summary(det.analyze(dst), weights)
                    dst.unlink()
            except vaedetect.InputError as e:
                entry["error"] = str(e)
            results.append(entry)
            print(f"{len(results)}/{len(rows)} {time.time() - t0:.0f}s {r['path']}", flush=True)
    table = tabulate(results)
    print(json.dumps(table, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"table": table, "files": results}, indent=1, default=float))


def tabulate(results: list[dict]) -> dict:
    ok = [e for e in results if "original" in e]
    evidence = sorted({k for e in ok for k, v in e["original"]["z"].items() if v is not None})
    out: dict = {"n_files": len(ok), "median_abs_dz": {}, "verdict_changed": {}, "copies_called_fake": {}}
    for name in TRANSFORMS:
        out["median_abs_dz"][name] = {}
        for k in evidence:
            d = [abs(e[name]["z"][k] - e["original"]["z"][k]) for e in ok
                 if e[name]["z"].get(k) is not None and e["original"]["z"].get(k) is not None]
            out["median_abs_dz"][name][k] = round(float(np.median(d)), 3) if d else None
        out["verdict_changed"][name] = sum(e[name]["verdict"] != e["original"]["verdict"] for e in ok)
        out["copies_called_fake"][name] = sum(e[name]["verdict"] == "fake" for e in ok)
    out["originals_called_fake"] = sum(e["original"]["verdict"] == "fake" for e in ok)
    return out


if __name__ == "__main__":
    main()
