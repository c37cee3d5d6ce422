"""Labelled files as the learned fusion sees them: a manifest row's label, family, person and the real files tied to
a family (see :mod:`vaedetect.training.evidence_stage` for the stage that fits on them)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

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
