"""Robustness: what the ways clips travel, laundering and a white-box attack do to a verdict.

1. ``travel``: real speech clips of ``../shared/data`` (``--real`` of them, drawn by a fixed hash across sources) and
   copies made the ways clips travel (re-encode, resize, crop, letterbox, mirror, 15 fps, screen recording, low-rate
   and phone audio). Per transform: how many verdicts change and how many copies reach "likely manipulated".
2. ``laundering``: labelled fakes (``../shared/data/fakes``, ``--fakes-per-family`` per family) and laundered copies
   (CRF 35, half size, blur, OpenCV non-local-means denoising, added noise). Per transform: share still detected.
3. ``attack`` (``bench/robustness_attack.py``): white-box PGD on the face and alignment evidence.

Every clip is first cut (stream copy, no re-encode) to its first ``--seconds`` seconds so the run fits a 2-core
machine; each copy is made from that cut. Results are appended to a cache (``.cache/robustness/``, keyed by file,
transform and the bundle's calibration hash), so an interrupted run resumes and a re-run on a recalibrated bundle
starts afresh. One command re-makes the tables:

    nice -n 10 python bench/robustness.py --out bench/results/2026-12-01-robustness
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
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vaedetect  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / ".cache" / "robustness"
_LETTERBOX = "pad=w='max(iw,ceil(ih*16/9/2)*2)':h='max(ih,ceil(iw*9/16/2)*2)':x=(ow-iw)/2:y=(oh-ih)/2"
# ffmpeg arguments after the input; video transforms keep the audio as it is, audio ones keep the video.
TRAVEL: dict[str, list[str]] = {
    "crf28": ["-c:v", "libx264", "-crf", "28", "-c:a", "copy"],
    "crf35": ["-c:v", "libx264", "-crf", "35", "-c:a", "copy"],
    "half_size": ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-c:v", "libx264", "-crf", "23", "-c:a", "copy"],
    "crop80": ["-vf", "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2", "-c:v", "libx264", "-crf", "23", "-c:a", "copy"],
    "letterbox_16x9": ["-vf", _LETTERBOX, "-c:v", "libx264", "-crf", "23", "-c:a", "copy"],
    "mirror": ["-vf", "hflip", "-c:v", "libx264", "-crf", "23", "-c:a", "copy"],
    "fps15": ["-vf", "fps=15", "-c:v", "libx264", "-crf", "23", "-c:a", "copy"],
    "screen_recording": [
        "-vf", "scale=iw*2:ih*2:flags=bicubic,unsharp=5:5:1.0,fps=30", "-c:v", "libx264", "-crf", "23", "-c:a", "copy",
    ],
    "audio_32kbps": ["-c:v", "copy", "-c:a", "aac", "-b:a", "32k"],
    "audio_8khz_phone": ["-c:v", "copy", "-af", "highpass=f=300,lowpass=f=3400", "-ar", "8000", "-c:a", "aac"],
}  # fmt: skip
LAUNDER: dict[str, list[str] | None] = {
    "crf35": ["-c:v", "libx264", "-crf", "35", "-c:a", "copy"],
    "half_size": ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-c:v", "libx264", "-crf", "23", "-c:a", "copy"],
    "blur_sigma1.5": ["-vf", "gblur=sigma=1.5", "-c:v", "libx264", "-crf", "23", "-c:a", "copy"],
    "denoise_nlmeans": None,  # OpenCV, frame by frame (below)
    "noise_10": ["-vf", "noise=alls=10:allf=t", "-c:v", "libx264", "-crf", "23", "-c:a", "copy"],
}


def _ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True, timeout=600)


def cut(src: Path, dst: Path, seconds: float) -> Path:
    """The first ``seconds`` of ``src`` without re-encoding (H.264 from its first keyframe)."""
    _ffmpeg("-i", str(src), "-t", f"{seconds}", "-map", "0:v:0", "-map", "0:a?", "-c", "copy", str(dst))
    return dst


def denoise(src: Path, dst: Path) -> Path:
    """``cv2.fastNlMeansDenoisingColored`` on every frame (h=5; search window 11 px to keep it affordable)."""
    import av
    import cv2

    silent = dst.with_suffix(".video.mp4")
    with av.open(str(src)) as inp, av.open(str(silent), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate or 25)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.codec_context.options = {"crf": "23", "preset": "veryfast"}
        for frame in inp.decode(vin):
            rgb = cv2.fastNlMeansDenoisingColored(frame.to_ndarray(format="rgb24"), None, 5, 5, 7, 11)
            for packet in vout.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in vout.encode(None):
            out.mux(packet)
    _ffmpeg("-i", str(silent), "-i", str(src), "-map", "0:v:0", "-map", "1:a?", "-c", "copy", str(dst))
    silent.unlink()
    return dst


def pick(rows: list[dict], n: int, group: Callable[[dict], str]) -> list[dict]:
    """``n`` rows spread over groups (round-robin), each in a fixed hash order: reproducible, not cherry-picked."""
    by: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: hashlib.sha1(r["path"].encode()).hexdigest()):
        by.setdefault(group(r), []).append(r)
    out: list[dict] = []
    while len(out) < n and any(by.values()):
        for g in sorted(by):
            if by[g] and len(out) < n:
                out.append(by[g].pop(0))
    return out


def calibration_id(det) -> dict:
    """Which calibration the verdicts come from: a hash of its content, and the shipped file's commit date."""
    text = json.dumps(det.bundle.calibration, sort_keys=True, default=str)
    out = {"bundle": det.bundle_name, "calibration_sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}
    log = subprocess.run(
        ["git", "log", "-1", "--format=%h %cI", "--", "assets/checkpoints/default/calibration.json"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    out["default_calibration_commit"] = log.stdout.strip() or None
    return out


def summary(report) -> dict:
    return {
        "verdict": report.verdict,
        "score": report.manipulation_score,
        "z": report.scores,
        "warnings": report.warning_codes(),
    }


class Cache:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.rows[row["key"]] = row

    def get(self, key: str) -> dict | None:
        return self.rows.get(key)

    def put(self, key: str, value: dict) -> None:
        row = {"key": key, **value}
        self.rows[key] = row
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


def run_set(
    det,
    cache: Cache,
    rows: list[dict],
    transforms: dict[str, list[str] | None],
    seconds: float,
    tag: str,
) -> list[dict]:
    results = []
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="vaedetect-robust-") as tmp:
        for i, r in enumerate(rows):
            entry: dict = {"path": r["path"], "kind": r["kind"]}
            short = None
            for name in ("original", *transforms):
                key = f"{tag}|{r['path']}|{name}|{seconds}"
                hit = cache.get(key)
                if hit is None:
                    try:
                        if short is None:
                            short = cut(DATA / r["path"], Path(tmp) / f"{i}_cut.mp4", seconds)
                        dst = short
                        if name != "original":
                            dst = Path(tmp) / f"{i}_{name}.mp4"
                            args = transforms[name]
                            denoise(short, dst) if args is None else _ffmpeg("-i", str(short), *args, str(dst))
                        hit = summary(det.analyze(dst))
                        if dst != short:
                            dst.unlink()
                    except vaedetect.InputError as exc:
                        hit = {"error": str(exc)}
                    cache.put(key, hit)
                entry[name] = {k: v for k, v in hit.items() if k != "key"}
            results.append(entry)
            print(f"{tag} {i + 1}/{len(rows)} {time.time() - t0:.0f}s {r['path']}", flush=True)
    return results


def travel_table(results: list[dict]) -> dict:
    ok = [e for e in results if "verdict" in e["original"]]
    out: dict = {"n_clips": len(ok), "originals": _counts(e["original"] for e in ok), "per_transform": {}}
    for name in TRAVEL:
        pairs = [(e["original"], e[name]) for e in ok if "verdict" in e[name]]
        out["per_transform"][name] = {
            "n": len(pairs),
            "verdict_changed": sum(a["verdict"] != b["verdict"] for a, b in pairs),
            "to_fake": sum(b["verdict"] == "fake" for _, b in pairs),
            "real_to_uncertain": sum(a["verdict"] == "real" and b["verdict"] == "uncertain" for a, b in pairs),
            "median_abs_dscore": round(float(np.median([abs(a["score"] - b["score"]) for a, b in pairs])), 3)
            if pairs
            else None,
            "errors": sum("error" in e[name] for e in ok),
        }
    return out


def launder_table(results: list[dict]) -> dict:
    ok = [e for e in results if "verdict" in e["original"]]
    out: dict = {"n_fakes": len(ok), "originals": _counts(e["original"] for e in ok), "per_transform": {}}
    detected = [e for e in ok if e["original"]["verdict"] == "fake"]
    for name in LAUNDER:
        done = [e[name] for e in ok if "verdict" in e[name]]
        kept = [e[name] for e in detected if "verdict" in e[name]]
        out["per_transform"][name] = {
            **_counts(done),
            "of_detected_still_detected": f"{sum(k['verdict'] == 'fake' for k in kept)}/{len(kept)}",
        }
    return out


def _counts(items) -> dict:
    items = list(items)
    n = len(items)
    fake = sum(i["verdict"] == "fake" for i in items)
    real = sum(i["verdict"] == "real" for i in items)
    return {
        "n": n,
        "fake": fake,
        "uncertain": n - fake - real,
        "real": real,
        "share_detected": round(fake / n, 3) if n else None,
    }


def markdown(meta: dict, travel: dict, launder: dict) -> str:
    lines = [
        "# Robustness: re-shared real clips and laundered fakes",
        "",
        f"Command: `{meta['command']}`  ",
        f"Bundle: {meta['bundle']}  ",
        f"Run: {meta['date']}, {meta['minutes']:.0f} min on the 2-core machine; clips cut to their first "
        f"{meta['seconds']:g} s (stream copy) before any transform.",
        "",
        f"## Real speech clips through the ways clips travel ({travel['n_clips']} clips)",
        "",
        f"Originals: {travel['originals']['real']} real, {travel['originals']['uncertain']} uncertain, "
        f"{travel['originals']['fake']} likely manipulated.",
        "",
        "| transform | n | verdict changed | real → uncertain | → likely manipulated | median abs. score change |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in travel["per_transform"].items():
        lines.append(
            f"| {name} | {t['n']} | {t['verdict_changed']} | {t['real_to_uncertain']} | {t['to_fake']} | "
            f"{t['median_abs_dscore']} |"
        )
    lines += [
        "",
        f"## Labelled fakes through laundering ({launder['n_fakes']} fakes)",
        "",
        "| version | n | likely manipulated | uncertain | likely real | share detected | of the detected originals |",
        "|---|---|---|---|---|---|---|",
        _launder_row("original", launder["originals"], "-"),
    ]
    for name, t in launder["per_transform"].items():
        lines.append(_launder_row(name, t, t["of_detected_still_detected"]))
    return "\n".join(lines) + "\n"


def _launder_row(name: str, c: dict, kept: str) -> str:
    return f"| {name} | {c['n']} | {c['fake']} | {c['uncertain']} | {c['real']} | {c['share_detected']} | {kept} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", type=int, default=12, help="real speech clips, spread over sources")
    ap.add_argument("--fakes-per-family", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--only", choices=("travel", "laundering"))
    ap.add_argument("--out", help="write OUT.json and OUT.md")
    args = ap.parse_args()
    with open(DATA / "manifest.csv") as fh:
        rows = list(csv.DictReader(fh))
    real = pick(
        [r for r in rows if r["label"] == "real" and r["split"] == "train" and r["has_audio"] == "1"],
        args.real,
        lambda r: r["source_repo"],
    )
    fakes_all = [r for r in rows if r["label"] == "fake" and r["split"] == "fakes"]
    fakes = [
        r
        for kind in sorted({r["kind"] for r in fakes_all})
        for r in pick([r for r in fakes_all if r["kind"] == kind], args.fakes_per_family, lambda r: r["source_repo"])
    ]
    det = vaedetect.load_detector()
    meta = {
        "command": "nice -n 10 python bench/robustness.py " + " ".join(sys.argv[1:]),
        "bundle": calibration_id(det),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": args.seconds,
    }
    cache = Cache(CACHE / f"{meta['bundle']['calibration_sha256']}.jsonl")
    t0 = time.time()
    travel = run_set(det, cache, real, TRAVEL, args.seconds, "travel") if args.only != "laundering" else []
    laundered = run_set(det, cache, fakes, LAUNDER, args.seconds, "launder") if args.only != "travel" else []
    meta["minutes"] = (time.time() - t0) / 60
    meta["bundle"] = {**meta["bundle"], "note": "minutes count only what was not already cached"}
    tables = {"travel": travel_table(travel), "laundering": launder_table(laundered)}
    print(json.dumps(tables, indent=1))
    if args.out:
        Path(f"{args.out}.json").write_text(
            json.dumps({"meta": meta, **tables, "files": {"travel": travel, "laundering": laundered}}, indent=1)
        )
        Path(f"{args.out}.md").write_text(markdown(meta, tables["travel"], tables["laundering"]))


if __name__ == "__main__":
    main()
