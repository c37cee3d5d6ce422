"""Invariance of the shipped evidence on real files: does re-sharing a *real* file move its evidence or its verdict?

Why: real footage reaches the detector re-encoded, shrunk, softened or upscaled; a real file whose copy is called
"likely manipulated" is the costliest error. This measures the evidence configuration that ships (**C** of
``bench/results/2026-12-06-evidence-rules.md``: the CLIP face probe ``clip_face`` and speech-to-mouth ``av_fit``/
``av_peak``) on copies no fit has seen.

What: ``--n`` real speech videos (split ``train`` with audio), ``--n`` real silent videos (``train_silent``) and
``--n`` real photos (``stills``) of ``../shared/data``, picked by a fixed hash of the path (the draw of
``bench/experiments/invariance.py``), each re-shared four ways with that benchmark's fixed transforms (half size;
H.264 CRF 35, photos JPEG 30; Gaussian blur σ=1; quarter size upscaled back), made by
:mod:`vaedetect.training.reshare` (``copy_video``/``copy_photo``: libx264 ``veryfast``, AAC 64 kb/s, photos JPEG 90
unless re-compressed). Each copy is measured with :func:`vaedetect.training.records.measure_file` into its own cache
folder (resumable; errors kept in ``errors.json`` there and retried on the next run); originals are read from the main
cache (``bench/cache.py``), never written to.

How each file is judged (held out, as the bundle's lines are set): ``av_fit``/``av_peak`` from speech-to-mouth heads
fitted on the main cache's real clips outside the file's identity fold (size chosen as ``train`` chooses it; copies are
scored, never fitted); ``clip_face`` and the fused score from configuration C fitted (:func:`stacking.fit_config`) on
the main cache's originals without the file's identity fold (every fake trains; no copy trains), read against the
lines ``train`` would ship from that cache (:func:`evidence_stage.out_of_fold_lines`, with the main cache's re-shared
copies raising the top line; the top line from originals alone is reported too).

Reported per kind (speech / silent / photo) and transform: the median |Δ| (copy minus original) of each evidence the
head reads and of the fused score in logits, how many copies change tier, are over the "likely manipulated" line, or
move from the lowest tier to "uncertain"; how many originals are over that line; how many records had each evidence.

    python bench/invariance.py [--n 12] [--workers 1] [--cache .cache/evidence] [--out .cache/invariance]
        [--json bench/results/2026-12-06-invariance.json]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaedetect.fusion import N_FOLDS, identity_fold  # noqa: E402
from vaedetect.scoring import verdict_for  # noqa: E402
from vaedetect.training import records as rc  # noqa: E402
from vaedetect.training import speech_mouth  # noqa: E402
from vaedetect.training.evidence_stage import out_of_fold_lines  # noqa: E402
from vaedetect.training.reshare import copy_photo, copy_video  # noqa: E402
from vaedetect.training.stacking import CONFIGS, FittedConfig, fit_config, with_probe_values  # noqa: E402

CONFIG = CONFIGS["C"]
EVIDENCE = ("clip_face", "av_fit", "av_peak")
KINDS = ("speech", "silent", "photo")
# bench/experiments/invariance.py's four fixed transforms as vaedetect.training.reshare parameters (a photo: half and
# quarter size and blur saved as JPEG 90, the re-encode as JPEG 30).
TRANSFORMS = {
    "half_size": {"kind": "downscale", "scale": 0.5, "crf": 23},
    "crf35": {"kind": "recompress", "crf": 35, "jpeg_quality": 30},
    "blur_sigma1": {"kind": "blur", "sigma": 1.0, "crf": 23},
    "quarter_upscaled": {"kind": "upscaled", "scale": 0.25, "crf": 23},
}
TIER_RANK = {"real": 0, "uncertain": 1, "fake": 2}

log = logging.getLogger("vaedetect.bench.invariance")


# -- the files and their copies ---------------------------------------------------------------------------------------
def pick(rows: list[dict[str, str]], n: int) -> list[tuple[str, dict[str, str]]]:
    """(kind, row): the first ``n`` real files of each kind by the SHA-1 of their path (as the old benchmark drew)."""

    def h(r: dict[str, str]) -> str:
        return hashlib.sha1(r["path"].encode()).hexdigest()

    real = [r for r in rows if r["label"] == "real"]
    groups = {
        "speech": [r for r in real if r["split"] == "train" and r["has_audio"] == "1"],
        "silent": [r for r in real if r["split"] == "train_silent"],
        "photo": [r for r in real if r["split"] == "stills"],
    }
    return [(kind, r) for kind, g in groups.items() for r in sorted(g, key=h)[:n]]


def copy_key(path: str, transform: str) -> str:
    return rc.key_of(f"{path}#{transform}")


def _measure_copy(job: tuple[dict[str, str], str, str, str, bool]) -> tuple[str, str, str | None, float]:
    """Make one copy in a temporary folder and measure it (in a worker set up by ``records._init``)."""
    row, name, data_dir, out_dir, photo = job
    out = Path(out_dir) / f"{copy_key(row['path'], name)}.npz"
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="vaedetect-invariance-") as tmp:
            # the cache entry's row keeps the original's fields; its path names the copy
            rel = f"{row['path']}.{name}{'.jpg' if photo else '.mp4'}"
            dst = Path(tmp) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            (copy_photo if photo else copy_video)(Path(data_dir) / row["path"], dst, TRANSFORMS[name])
            rc.measure_file(rc._detector, {**row, "path": rel}, Path(tmp), out)
        return row["path"], name, None, time.perf_counter() - t0
    except Exception as e:  # record and go on: one odd file must not stop the run
        out.unlink(missing_ok=True)
        return row["path"], name, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}", time.perf_counter() - t0


def measure_copies(
    picked: list[tuple[str, dict[str, str]]], data: Path, out: Path, *, bundle: str | None, workers: int
) -> tuple[dict[str, dict[str, str]], int]:
    """Measure every copy not yet in ``out``; returns the copies that failed (also written to ``out/errors.json``) and
    how many were measured (or tried) in this run."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        (r, name, str(data), str(out), kind == "photo")
        for kind, r in picked
        for name in TRANSFORMS
        if not (out / f"{copy_key(r['path'], name)}.npz").exists()
    ]
    errors: dict[str, dict[str, str]] = {}
    if jobs:
        t0 = time.time()
        log.info("measuring %d copies with %d worker(s)", len(jobs), workers)
        with mp.get_context("spawn").Pool(workers, initializer=rc._init, initargs=(bundle,)) as pool:
            for n, (path, name, err, dt) in enumerate(pool.imap_unordered(_measure_copy, jobs), 1):
                if err:
                    errors[copy_key(path, name)] = {"path": path, "transform": name, "error": err}
                    log.warning("could not measure %s (%s): %s", path, name, err.splitlines()[0])
                log.info("%d/%d copies, %.0f s (last %.1f s) %s %s", n, len(jobs), time.time() - t0, dt, name, path)
    (out / "errors.json").write_text(json.dumps(errors, indent=1))
    return errors, len(jobs)


# -- records ----------------------------------------------------------------------------------------------------------
def _entry(npz: Path, speech_memos: tuple[Path, Path]) -> tuple[dict[str, Any], speech_mouth.MouthClip | None]:
    """A cache entry's record and speech-to-mouth inputs. Speech embeddings are read from the first memo folder
    holding them (the main cache's, which is only read), else computed into the second."""
    key = npz.stem
    memo = next((m for m in speech_memos if (m / f"{key}.npy").exists()), speech_memos[-1])
    with np.load(npz, allow_pickle=False) as d:
        rec = rc.record_from_cache(d, key)
        return rec, rc.mouth_clip(d, rec, memo)


def load_all(
    main: Path, out: Path, picked: list[tuple[str, dict[str, str]]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], dict[tuple[str, str], dict[str, Any]], dict]:
    """The main cache's originals and re-shared copies, the picked files' copies, all with ``av_fit``/``av_peak``
    cross-fitted by identity fold on the main cache's real originals (the head's size chosen as ``train`` does)."""
    memos = (main / "speech", out / "speech")
    (out / "speech").mkdir(parents=True, exist_ok=True)
    originals, main_copies, clips = [], [], []
    for npz in sorted(main.glob("*.npz")):
        try:
            rec, m = _entry(npz, memos)
        except (OSError, ValueError, KeyError) as e:  # an entry the running cache build is still writing
            log.warning("skipped %s of the main cache: %s", npz.name, e)
            continue
        (main_copies if rec.get("copy_of") else originals).append(rec)
        clips.append((rec, m))
    by_path = {r["path"]: r for r in originals}
    copies: dict[tuple[str, str], dict[str, Any]] = {}
    for _, row in picked:
        for name in TRANSFORMS:
            npz = out / f"{copy_key(row['path'], name)}.npz"
            if not npz.exists() or row["path"] not in by_path:
                continue
            rec, m = _entry(npz, memos)
            orig = by_path[row["path"]]
            rec.update(path=f"{row['path']}#{name}", copy_of=row["path"], transform=name, group=orig["group"])
            if m is not None:
                m.trains = False
                m.group = orig["group"]
            copies[row["path"], name] = rec
            clips.append((rec, m))
    have = [(r, m) for r, m in clips if m is not None]
    k, ridge, table = speech_mouth.choose_size([m for _, m in have])
    for (r, _), v in zip(have, speech_mouth.cross_fitted([m for _, m in have], k, ridge), strict=True):
        r["values"].update({name: x for name, x in v.items() if x is not None})
    size = {"components": k, "ridge": ridge, "held_out_real_correlation": table}
    return originals, main_copies, size, copies, by_path


# -- scoring ----------------------------------------------------------------------------------------------------------
def judge(fitted: FittedConfig, rec: dict[str, Any], lines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The evidence the head reads, the fused score (probability and logit) and the tier of one record."""
    kind = "photo" if rec["is_image"] else "video"
    r = with_probe_values(rec, fitted.probes)
    head = fitted.heads[kind]
    logit = head.logit(r["values"], r["quality"])
    p = float(1.0 / (1.0 + np.exp(-logit)))
    feats = CONFIG.photo if rec["is_image"] else CONFIG.video
    values = {e: r["values"].get(e) for e in feats}
    out = {"values": values, "logit": logit, "score": p, "tier": verdict_for(p, **_line(lines[kind]))}
    out["over_originals_only_line"] = bool(p >= lines[kind]["fake_originals_only"])
    return out


def _line(line: dict[str, Any]) -> dict[str, float]:
    return {"uncertain": line["uncertain"], "fake": line["fake"]}


def score_files(
    picked: list[tuple[str, dict[str, str]]],
    originals: list[dict[str, Any]],
    by_path: dict[str, dict[str, Any]],
    copies: dict[tuple[str, str], dict[str, Any]],
    lines: dict[str, dict[str, Any]],
    errors: dict[str, dict[str, str]],
) -> list[dict[str, Any]]:
    """Each picked original and its copies, scored by configuration C fitted without the original's identity fold."""
    fits = {}
    for k in range(N_FOLDS):
        fits[k] = fit_config([r for r in originals if r["label"] or identity_fold(r["group"]) != k], CONFIG)
        log.info("fitted configuration %s without identity fold %d", CONFIG.name, k)
    results = []
    for kind, row in picked:
        entry: dict[str, Any] = {"path": row["path"], "kind": kind}
        orig = by_path.get(row["path"])
        if orig is None:
            entry["error"] = "not in the main cache"
            results.append(entry)
            continue
        fold = identity_fold(orig["group"])
        entry.update(fold=fold, original=judge(fits[fold], orig, lines), copies={})
        for name in TRANSFORMS:
            rec = copies.get((row["path"], name))
            if rec is None:
                err = errors.get(copy_key(row["path"], name), {}).get("error", "not measured")
                entry["copies"][name] = {"error": err.splitlines()[0]}
            else:
                entry["copies"][name] = judge(fits[fold], rec, lines)
        results.append(entry)
    return results


def _median_abs(d: list[float]) -> float | None:
    return round(float(np.median(np.abs(d))), 3) if d else None


def tabulate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind and transform: median |Δ| of each evidence and of the fused logit, tier changes, copies over the top
    line, lowest tier -> uncertain; per kind: originals over the top line."""
    table: dict[str, Any] = {}
    for kind in KINDS:
        ok = [e for e in results if e["kind"] == kind and "original" in e]
        cell: dict[str, Any] = {
            "n_originals": len(ok),
            "originals_over_fake_line": sum(e["original"]["tier"] == "fake" for e in ok),
            "originals_over_originals_only_line": sum(e["original"]["over_originals_only_line"] for e in ok),
            "original_tiers": {t: sum(e["original"]["tier"] == t for e in ok) for t in TIER_RANK},
            "transforms": {},
        }
        for name in TRANSFORMS:
            pairs = [(e["original"], e["copies"][name]) for e in ok if "tier" in e["copies"][name]]
            delta: dict[str, Any] = {}
            for ev in (*EVIDENCE, "logit"):
                d = [
                    (c["logit"] - o["logit"]) if ev == "logit" else c["values"][ev] - o["values"][ev]
                    for o, c in pairs
                    if ev == "logit" or (o["values"].get(ev) is not None and c["values"].get(ev) is not None)
                ]
                delta[ev] = {"n": len(d), "median_abs": _median_abs(d), "median": _median(d)}
            cell["transforms"][name] = {
                "n_copies": len(pairs),
                "n_errors": sum("error" in e["copies"][name] for e in ok),
                "delta": delta,
                "tier_changed": sum(o["tier"] != c["tier"] for o, c in pairs),
                "tier_up": sum(TIER_RANK[c["tier"]] > TIER_RANK[o["tier"]] for o, c in pairs),
                "tier_down": sum(TIER_RANK[c["tier"]] < TIER_RANK[o["tier"]] for o, c in pairs),
                "copies_over_fake_line": sum(c["tier"] == "fake" for _, c in pairs),
                "copies_over_originals_only_line": sum(c["over_originals_only_line"] for _, c in pairs),
                "lowest_to_uncertain": sum(o["tier"] == "real" and c["tier"] == "uncertain" for o, c in pairs),
            }
        table[kind] = cell
    return table


def _median(d: list[float]) -> float | None:
    return round(float(np.median(d)), 3) if d else None


def evidence_counts(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """How many records (videos, photos) had each evidence the heads read."""
    out: dict[str, dict[str, int]] = {}
    for kind, rows in (
        ("video", [r for r in records if not r["is_image"]]),
        ("photo", [r for r in records if r["is_image"]]),
    ):
        cell = {"records": len(rows)}
        for ev in EVIDENCE:
            if ev in CONFIG.probes:  # a probe's logit: present wherever its embedding is
                cell[ev] = sum(ev in r.get("embeddings", {}) for r in rows)
            else:
                cell[ev] = sum(r["values"].get(ev) is not None for r in rows)
        out[kind] = cell
    return out


def print_table(table: dict[str, Any], counts: dict[str, Any]) -> None:
    head = f"{'kind':7s} {'transform':17s} {'n':>3s} " + " ".join(f"{e:>9s}" for e in (*EVIDENCE, "Δlogit"))
    head += f" {'Δlogit±':>8s} {'tier≠':>5s} {'up':>3s} {'fake':>4s} {'fake0':>5s} {'r→u':>4s}"
    print("median |Δ| copy − original; tier≠/up: tier changed/raised; fake: over the shipped top line; fake0: over")
    print("the top line from originals only; r→u: lowest tier to uncertain")
    print(head)

    def f(x: float | None) -> str:
        return f"{x:9.3f}" if x is not None else f"{'—':>9s}"

    for kind, cell in table.items():
        for name, t in cell["transforms"].items():
            d = t["delta"]
            print(
                f"{kind:7s} {name:17s} {t['n_copies']:3d} "
                + " ".join(f(d[e]["median_abs"]) for e in (*EVIDENCE, "logit"))
                + f" {d['logit']['median'] if d['logit']['median'] is not None else float('nan'):+8.3f}"
                + f" {t['tier_changed']:5d} {t['tier_up']:3d} {t['copies_over_fake_line']:4d}"
                + f" {t['copies_over_originals_only_line']:5d} {t['lowest_to_uncertain']:4d}"
            )
        print(
            f"{kind:7s} {'original':17s} {cell['n_originals']:3d}  tiers {cell['original_tiers']}, over the top line "
            f"{cell['originals_over_fake_line']} (originals-only line {cell['originals_over_originals_only_line']})"
        )
    print("records with each evidence:")
    for group, c in counts.items():
        print(f"  {group}: " + ", ".join(f"{kind} {json.dumps(v)}" for kind, v in c.items()))


def _machine() -> dict[str, Any]:
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        info = []
    cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    return {"host": platform.node(), "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count()}


def _commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=12, help="real files per kind (speech, silent, photo)")
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "evidence"), help="the main cache (read only)")
    ap.add_argument("--out", default=str(ROOT / ".cache" / "invariance"), help="where the copies are measured")
    ap.add_argument(
        "--bundle", help="the bundle that measures the copies (default: the bundled one, as bench/cache.py)"
    )
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()
    data, main_cache, out = Path(args.data), Path(args.cache), Path(args.out)
    with (data / "manifest.csv").open(newline="") as fh:
        picked = pick(list(csv.DictReader(fh)), args.n)
    errors, n_measured = measure_copies(picked, data, out, bundle=args.bundle, workers=args.workers)
    t_measured = time.time()
    originals, main_copies, size, copies, by_path = load_all(main_cache, out, picked)
    log.info("%d originals, %d re-shared copies in the main cache; %d copies measured here",
             len(originals), len(main_copies), len(copies))  # fmt: skip
    lines = out_of_fold_lines(originals, CONFIG, main_copies)
    for kind, line in out_of_fold_lines(originals, CONFIG).items():
        lines[kind]["fake_originals_only"] = line["fake"]
    results = score_files(picked, originals, by_path, copies, lines, errors)
    table = tabulate(results)
    picked_paths = {r["path"] for _, r in picked}
    counts = {
        "main_cache_originals": evidence_counts(originals),
        "main_cache_copies": evidence_counts(main_copies),
        "picked_originals": evidence_counts([by_path[p] for p in picked_paths if p in by_path]),
        "picked_copies": evidence_counts(list(copies.values())),
    }
    print_table(table, counts)
    elapsed = time.time() - t0
    print(f"{elapsed:.0f} s ({t_measured - t0:.0f} s measuring copies), {len(errors)} copies could not be measured")
    if args.json:
        doc = {
            "what": "invariance of configuration C (clip_face + av_fit/av_peak) on real files re-shared four fixed "
            "ways; each original and its copies scored held out (fits without the file's identity fold, every fake "
            "trains, copies never train), against the lines train would ship from the main cache "
            "(evidence_stage.out_of_fold_lines with the main cache's re-shared copies)",
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": _machine(),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "commit": _commit(),
            "seconds": round(elapsed, 1),
            "seconds_measuring": round(t_measured - t0, 1),
            "copies_measured_this_run": n_measured,  # the others were in --out already (the run resumes)
            "workers": args.workers,
            "config": CONFIG.__dict__ | {"probes": CONFIG.probes},
            "transforms": TRANSFORMS,
            "main_cache": {"originals": len(originals), "reshared_copies": len(main_copies)},
            "speech_to_mouth": size,
            "lines": lines,
            "evidence_counts": counts,
            "errors": errors,
            "table": table,
            "files": results,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
