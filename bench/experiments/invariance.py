"""Quality invariance on real footage: does re-sharing a real clip move its evidence or its verdict?

For real files of ``../shared/data`` (speech clips, silent clips and photos; ``--n`` of each kind, chosen by a fixed
hash so the draw is reproducible), make re-shared copies — half size, H.264 CRF 35, Gaussian blur σ=1, a quarter-size
copy upscaled back — and analyse original and copies with the shipped detector end to end. Prints per evidence the
median |Δz| (copy minus original) per transform and how many copies change verdict or reach "likely manipulated".
Each evidence's Spearman ρ with face sharpness, face size and bitrate over all real files is in
``bench/generalisation.py`` (it has every real file cached).

    python bench/invariance.py [--n 12] [--json bench/results/2026-12-01-invariance.json]

``--held-out NAME=RECORDS[+RECORDS] ...`` (rule 7) measures each file and copy once into fusion records (kept in
``--records-cache``) and scores them, for every named set of training records, with learned heads fitted without the
file's identity fold — so the benchmark's clips never train the model that judges them — against the lines that set's
full fit would ship.

    python bench/invariance.py --held-out rule6=.cache/records-frames.jsonl \
        rule7=.cache/records-frames.jsonl+.cache/records-reshared.jsonl \
        shipped=.cache/records-frames.jsonl+.cache/records-reshared.jsonl --train-copies rule7 \
        --json bench/results/2026-12-01-invariance-heldout.json

``--paired NAME ...`` fits those sets' quality correction on real files and their re-shared copies as pairs (rule 17);
``--scale-matched NAME ...`` gives each evidence of those sets its own quality measure (rule 22).

``--decompose`` (descriptive) splits each copy's Δz under the *shipped* learned heads into the part the raw evidence
moved and the part the quality correction moved (Δz = raw part + correction part), from the same records cache:

    python bench/invariance.py --decompose --json bench/results/2026-12-03-invariance-decompose.json
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

ROOT = Path(__file__).resolve().parents[2]
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
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-i",
        str(src),
        *args,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        str(dst),
    ]
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


def measure_records(det, data: Path, rows: list[dict], cache: Path) -> dict[str, dict]:
    """Fusion records of every picked file and of its four copies, keyed ``path`` and ``path#transform`` (resumes)."""
    from vaedetect.training.learned import record_of

    done = {}
    if cache.exists():
        done = {r["key"]: r for r in map(json.loads, cache.read_text().splitlines())}
    t0 = time.time()
    with cache.open("a") as fh, tempfile.TemporaryDirectory() as tmp:
        for n, r in enumerate(rows, 1):
            src = data / r["path"]
            photo = r["split"] == "stills"
            for name in ("original", *TRANSFORMS):
                key = r["path"] if name == "original" else f"{r['path']}#{name}"
                if key in done:
                    continue
                target = src
                if name != "original":
                    target = Path(tmp) / (f"{name}.jpg" if photo else f"{name}.mp4")
                    (reshare_photo(src, target, name) if photo else reshare_video(src, target, TRANSFORMS[name]))
                try:
                    rec = {"key": key, **record_of(r, det.record(target))}
                except vaedetect.InputError as e:
                    rec = {"key": key, "error": str(e)}
                done[key] = rec
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
            print(f"{n}/{len(rows)} {time.time() - t0:.0f}s {r['path']}", flush=True)
    return done


def held_out(
    rows: list[dict],
    measured: dict[str, dict],
    training: list[dict],
    train_on_copies: bool,
    paired: bool = False,
    scale_matched: bool = False,
) -> list[dict]:
    """Per file: verdict, score and oriented, quality-corrected z of original and copies, scored by heads fitted on
    ``training`` (re-shared copies among it only set lines unless ``train_on_copies``, and with ``paired`` shape the
    quality correction, rule 17; with ``scale_matched`` each evidence's correction reads its own measure, rule 22)
    without the file's identity fold; lines from the full fit (what would ship)."""
    from vaedetect.fusion import (
        N_FOLDS,
        QUALITY,
        fit_heads,
        fit_records,
        head_features,
        identity_fold,
        probability,
        scale_matched_keys,
    )

    fitted = fit_heads(training, train_on_copies=train_on_copies, paired_correction=paired, scale_matched=scale_matched)
    lines = {kind: b["thresholds"] for kind, b in fitted.items()}
    models = {}
    pool = training if train_on_copies or paired else [r for r in training if not r.get("copy_of")]
    for kind in ("video", "photo"):
        feats = head_features(kind)
        train = [r for r in pool if kind == "photo" or not r["is_image"]]
        folds = [[r for r in train if identity_fold(r["group"]) != k] for k in range(N_FOLDS)]
        keys = scale_matched_keys(feats) if scale_matched else QUALITY
        models[kind] = [
            fit_records(fold, feats, paired=paired and not train_on_copies, quality_keys=keys) for fold in folds
        ]
    results = []
    for r in rows:
        entry = {"path": r["path"], "kind": "photo" if r["split"] == "stills" else r["split"]}
        for name in ("original", *TRANSFORMS):
            rec = measured[r["path"] if name == "original" else f"{r['path']}#{name}"]
            if "error" in rec:
                entry = {"path": r["path"], "error": rec["error"]}
                break
            kind = "photo" if rec["is_image"] else "video"
            model = models[kind][identity_fold(rec["group"])]
            p = probability(model, rec)
            t = lines[kind]
            verdict = "fake" if p >= t["fake"] else "uncertain" if p >= t["uncertain"] else "real"
            entry[name] = {"verdict": verdict, "score": p, "z": model.zs(rec["values"], rec["quality"])}
        results.append(entry)
    return results


def decompose(rows: list[dict], measured: dict[str, dict], calibration: dict) -> dict:
    """Per transform and evidence of the shipped heads: the median |Δz| of a copy against its original, and the
    medians of the two parts it is the sum of: the raw evidence's move (direction × Δvalue / scale) and the quality
    correction's move (−direction × slope · Δquality / scale)."""
    from vaedetect.scoring import load_learned

    heads = {kind: h.fusion for kind, h in load_learned(calibration).items()}
    parts: dict = {name: {} for name in TRANSFORMS}
    for r in rows:
        orig = measured.get(r["path"], {})
        if "error" in orig or not orig:
            continue
        f = heads["photo" if orig["is_image"] else "video"]
        for name in TRANSFORMS:
            copy = measured.get(f"{r['path']}#{name}", {})
            if "error" in copy or not copy:
                continue
            z0, z1 = f.zs(orig["values"], orig["quality"]), f.zs(copy["values"], copy["quality"])
            for k in f.features:
                v0, v1 = orig["values"].get(k), copy["values"].get(k)
                if z0[k] is None or z1[k] is None or v0 is None or v1 is None:
                    continue
                n = f.norms[k]
                raw = n.direction * (v1 - v0) / n.scale
                cor = 0.0
                if f.correction is not None:
                    p0, p1 = f.correction.predicted(k, orig["quality"]), f.correction.predicted(k, copy["quality"])
                    if p0 is not None and p1 is not None:
                        cor = -n.direction * (p1 - p0) / n.scale
                cell = parts[name].setdefault(k, {"total": [], "raw": [], "correction": []})
                cell["total"].append(z1[k] - z0[k])
                cell["raw"].append(raw)
                cell["correction"].append(cor)
    out: dict = {}
    for name, d in parts.items():
        out[name] = {}
        for k, c in d.items():
            cell = {f"median_abs_{p}": round(float(np.median(np.abs(v))), 3) for p, v in c.items()}
            cell |= {f"median_{p}": round(float(np.median(v)), 3) for p, v in c.items()}
            out[name][k] = cell | {"n": len(c["total"])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=12, help="files per kind (speech, silent, photo)")
    ap.add_argument("--json")
    ap.add_argument("--held-out", nargs="+", metavar="NAME=RECORDS[+RECORDS]")
    ap.add_argument("--train-copies", nargs="*", default=[], help="names of --held-out sets whose copies train too")
    ap.add_argument("--paired", nargs="*", default=[], help="names of --held-out sets with rule 17's correction")
    ap.add_argument("--scale-matched", nargs="*", default=[], help="names of --held-out sets with rule 22's correction")
    ap.add_argument("--decompose", action="store_true", help="split each delta-z into raw and correction parts")
    ap.add_argument("--records-cache", default=str(ROOT / ".cache" / "invariance-records.jsonl"))
    args = ap.parse_args()
    data = Path(args.data)
    with open(data / "manifest.csv") as fh:
        rows = pick(list(csv.DictReader(fh)), args.n)
    det = vaedetect.load_detector()
    if args.decompose:
        measured = measure_records(det, data, rows, Path(args.records_cache))
        table = decompose(rows, measured, det.bundle.calibration)
        print(json.dumps(table, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(table, indent=1, default=float))
        return
    if args.held_out:
        measured = measure_records(det, data, rows, Path(args.records_cache))
        out = {}
        for spec in args.held_out:
            name, files = spec.split("=", 1)
            training = [json.loads(line) for f in files.split("+") for line in Path(f).read_text().splitlines()]
            files_out = held_out(
                rows, measured, training, name in args.train_copies, name in args.paired, name in args.scale_matched
            )
            out[name] = {"training_records": files, "table": tabulate(files_out), "files": files_out}
            print(name, json.dumps(out[name]["table"], indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=float))
        return
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
    over = 0
    for name in TRANSFORMS:
        out["median_abs_dz"][name] = {}
        for k in evidence:
            d = [
                abs(e[name]["z"][k] - e["original"]["z"][k])
                for e in ok
                if e[name]["z"].get(k) is not None and e["original"]["z"].get(k) is not None
            ]
            out["median_abs_dz"][name][k] = round(float(np.median(d)), 3) if d else None
            over += bool(d) and float(np.median(d)) > 0.5
        out["verdict_changed"][name] = sum(e[name]["verdict"] != e["original"]["verdict"] for e in ok)
        out["copies_called_fake"][name] = sum(e[name]["verdict"] == "fake" for e in ok)
    out["originals_called_fake"] = sum(e["original"]["verdict"] == "fake" for e in ok)
    out["cells_over_0.5"] = over  # (evidence x transform) cells whose median |dz| exceeds the 0.5
    return out


if __name__ == "__main__":
    main()
