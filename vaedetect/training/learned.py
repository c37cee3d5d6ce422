"""The learned-fusion stage: every labelled file of the data folder through the detector, then :func:`fit_heads`.

The real-only models stay the evidence; this stage only learns how much each evidence counts, from real files against
labelled fakes of many generator families (as CAD does), and writes the ``learned`` block of the bundle's calibration.
How well that carries to families it never saw is measured leave-one-family-out by ``bench/generalisation.py``.
"""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from vaedetect.errors import InputError
from vaedetect.fusion import FLOOR, fit_heads
from vaedetect.media import IMAGE_EXTENSIONS

log = logging.getLogger("vaedetect.train")

# Real files that come from a family's own pipeline (its inputs, the real half of its demos) belong with that family:
# a leave-one-family-out run holds them out together, so a model never sees the scene it is scored on.
TIED_REPOS = {
    "iperov+DeepFaceLive": ("faceswap-deepfacelive",),
    "tanshuai0219+EDTalk": ("talking-head-edtalk",),
    "tencent-ailab+V-Express": ("talking-head-emo", "talking-head-vasa1"),
    "snowydarknights+talkingface-kit": ("reenact-dpe",),
    "OpenTalker+DPE": ("reenact-dpe",),
    "StelaBou+hyperreenact.github.io": ("reenactment-hyperreenact",),
    "ai-forever+ghost": ("faceswap-ghost",),
    "s0md3v+roop": ("faceswap-roop-inswapper",),
    "FeiiYin+StyleHEAT": ("reenactment-styleheat", "expedit-styleheat"),
    "polimi-ispl+icpr2020dfdc": ("reenactment",),  # FaceForensics++ originals beside its NeuralTextures fake
    "aaronchong888+DeepFake-Detect": ("dfdc-fake",),  # DFDC's real videos beside its fakes
}


def tied_families(row: dict[str, str]) -> tuple[str, ...]:
    """The fake families a real manifest row is tied to (none for a fake or an unrelated real file)."""
    if row["label"] != "real":
        return ()
    repo = row.get("source_repo", "")
    if repo in TIED_REPOS:
        return TIED_REPOS[repo]
    return ("lipsync-wav2lip",) if "wav2lip" in repo.lower() else ()


def labelled_rows(data_dir: Path) -> list[dict[str, str]]:
    """Every labelled file of the manifest (all splits, the dev split's three families included)."""
    with (data_dir / "manifest.csv").open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r.get("label") in ("real", "fake")]


def record_of(row: dict[str, str], evidence: dict[str, Any]) -> dict[str, Any]:
    """A manifest row and what :meth:`vaedetect.detector.Detector.record` measured on it, as :func:`fit_heads` reads."""
    return {
        "path": row["path"],
        "label": int(row["label"] == "fake"),
        "family": row["kind"] if row["label"] == "fake" else "",
        "group": row.get("identity") or row["path"],
        "tied": list(tied_families(row)),
        **evidence,
    }


def reshared_record(detector: Any, row: dict[str, str], data_dir: Path) -> dict[str, Any]:
    """The record of one re-shared copy of a labelled file (:mod:`vaedetect.training.reshare`), made in a temporary
    folder: its original's label, family and identity, path ``<original>#reshared``, ``copy_of`` and ``transform``."""
    from vaedetect.training.reshare import SUFFIX, reshared_copy

    src = data_dir / row["path"]
    with tempfile.TemporaryDirectory(prefix="vaedetect-reshare-") as tmp:
        copy, how = reshared_copy(src, row["path"], Path(tmp), photo=src.suffix.lower() in IMAGE_EXTENSIONS)
        rec = record_of(row, detector.record(copy))
    return {**rec, "path": row["path"] + SUFFIX, "copy_of": row["path"], "transform": how}


def build_records(detector: Any, data_dir: Path, cache: Path, *, reshare: bool = False) -> list[dict[str, Any]]:
    """One record per labelled file, measured once and kept as JSON lines in ``cache`` (re-runs resume; a file
    already there is not measured again, so records must come from the same bundle and code). With ``reshare``, also
    one re-shared copy of each (:func:`reshared_record`)."""
    from vaedetect.training.reshare import SUFFIX

    done: dict[str, dict[str, Any]] = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            r = json.loads(line)
            done[r["path"]] = r
    cache.parent.mkdir(parents=True, exist_ok=True)
    wanted = []
    with cache.open("a") as fh:
        for row in tqdm(labelled_rows(data_dir), desc="evidence", leave=False):
            jobs = {row["path"]: lambda row=row: record_of(row, detector.record(data_dir / row["path"]))}
            if reshare:
                jobs[row["path"] + SUFFIX] = lambda row=row: reshared_record(detector, row, data_dir)
            for key, measure in jobs.items():
                wanted.append(key)
                if key in done:
                    continue
                try:
                    done[key] = measure()
                except (InputError, OSError, subprocess.SubprocessError, ValueError) as e:
                    log.warning("skipped %s: %s", key, e)
                    continue
                fh.write(json.dumps(done[key]) + "\n")
    return [done[k] for k in wanted if k in done]


def fit_learned(
    bundle_dir: Path,
    records: list[dict[str, Any]],
    *,
    l2: float = 0.01,
    floor: float = FLOOR,
    floored: tuple[str, ...] | None = None,
    paired: bool = False,
    scale_matched: bool = False,
) -> dict[str, Any]:
    """Fit the learned heads and write them into ``bundle_dir/calibration.json``; returns the ``learned`` block."""
    learned = fit_heads(
        records, l2=l2, floor=floor, floored=floored, paired_correction=paired, scale_matched=scale_matched
    )
    path = bundle_dir / "calibration.json"
    calibration = json.loads(path.read_text())
    calibration["learned"] = learned
    path.write_text(json.dumps(calibration, indent=2, allow_nan=False))
    return learned


def fit_stage(
    bundle_dir: Path,
    data_dir: Path,
    records_path: Path,
    *,
    l2: float = 0.01,
    reshare: bool = False,
    floor: float = FLOOR,
    floored: tuple[str, ...] | None = None,
    paired: bool = False,
    scale_matched: bool = False,
) -> dict[str, Any]:
    """The stage ``train`` ends with and ``fit-fusion`` runs alone: records (measured with the bundle in
    ``bundle_dir``, or read from ``records_path`` when it is complete; with ``reshare``, a re-shared copy of every
    file too, which with ``paired`` also shapes the quality correction; ``scale_matched``: rule 22's correction) ->
    learned heads in its calibration."""
    from vaedetect.detector import load_detector

    records = build_records(load_detector(bundle_dir), data_dir, records_path, reshare=reshare)
    if not any(r["label"] for r in records):
        log.warning("no labelled fakes in %s: the bundle keeps its equal fusion", data_dir)
        return {}
    return fit_learned(
        bundle_dir, records, l2=l2, floor=floor, floored=floored, paired=paired, scale_matched=scale_matched
    )
