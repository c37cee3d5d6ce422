"""Fit an evidence configuration on labelled records: linear probes on frozen embeddings, then the learned heads.

A probe's logit is one evidence among the others (``clip_face``: the probe on the faces' CLIP embeddings). The heads
must see it as they will on a new file, so they are fitted on the probes' *out-of-fold* logits (stacking): five inner
folds, fakes grouped by family and real files by person, each file's logit from a probe that never saw its family or
its person. The probes that ship are then refitted on every record.

A record is what :func:`vaedetect.training.learned.record_of` makes (``label``, ``family``, ``group``, ``is_image``,
``values``, ``quality``, ``frames``), with ``embeddings`` ({name: vector}) on the record and on each of its frames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vaedetect.cues import CUES, FRAME_CUES
from vaedetect.fusion import LEARNED_EVIDENCE, LearnedFusion, fit_records, probability
from vaedetect.models.probe import PROBE_C, LinearProbe, fit_probe

PROBED = ("clip_face", "clip_frame")  # evidence that are a probe's logit over the embedding of the same name
INNER_FOLDS = 5


@dataclass(frozen=True)
class EvidenceConfig:
    """What each head reads, and whether the quality correction applies (see the rules in bench/results)."""

    name: str
    video: tuple[str, ...]
    photo: tuple[str, ...]
    correct: bool = False

    @property
    def probes(self) -> tuple[str, ...]:
        return tuple(p for p in PROBED if p in self.video or p in self.photo)


@dataclass
class FittedConfig:
    config: EvidenceConfig
    probes: dict[str, LinearProbe]
    heads: dict[str, LearnedFusion] = field(default_factory=dict)  # "video", "photo"


# The candidate configurations of bench/results/2026-12-06-evidence-rules.md (written before their numbers), and the
# configuration shipped before them, refitted under the same protocol for comparison.
SEEDS = ("face", "latent", "audio", "sync")
AV = ("clip_face", "av_fit", "av_peak")
CONFIGS = {
    "A": EvidenceConfig("A", AV + SEEDS, ("clip_face", "face", "latent")),
    "B": EvidenceConfig("B", AV + SEEDS + CUES, ("clip_face", "face", "latent", *FRAME_CUES), correct=True),
    "C": EvidenceConfig("C", AV, ("clip_face",)),
    "D": EvidenceConfig("D", (*AV, *SEEDS, "clip_frame"), ("clip_face", "face", "latent", "clip_frame")),
}
SHIPPED = EvidenceConfig("shipped", LEARNED_EVIDENCE + CUES, ("face", "latent", *FRAME_CUES), correct=True)
CANDIDATES = ("A", "B", "C", "D")


def _fold(key: str) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % INNER_FOLDS


def _inner_fold(r: dict[str, Any]) -> int:
    return _fold("family:" + r["family"]) if r["label"] else _fold("person:" + r["group"])


def _embedding(r: dict[str, Any], name: str) -> np.ndarray | None:
    e = r.get("embeddings", {}).get(name)
    return None if e is None else np.asarray(e, dtype=np.float64)


def _rows(records: list[dict[str, Any]], name: str) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    idx = [i for i, r in enumerate(records) if _embedding(r, name) is not None]
    x = np.stack([_embedding(records[i], name) for i in idx]) if idx else np.zeros((0, 1))
    y = np.array([records[i]["label"] for i in idx])
    fam = np.array([records[i]["family"] for i in idx])
    return idx, x, y, fam


def fit_probes(records: list[dict[str, Any]], names: tuple[str, ...], c: float = PROBE_C) -> dict[str, LinearProbe]:
    """One probe per embedding name, on every record that has it (videos and photos alike)."""
    out = {}
    for name in names:
        _, x, y, fam = _rows(records, name)
        if len(set(y.tolist())) == 2:
            out[name] = fit_probe(x, y, fam, c)
    return out


def with_probe_values(r: dict[str, Any], probes: dict[str, LinearProbe]) -> dict[str, Any]:
    """``r`` with each probe's logit added to its values (and to each of its frames' values)."""

    def add(d: dict[str, Any]) -> dict[str, Any]:
        values = dict(d["values"])
        for name, probe in probes.items():
            e = _embedding(d, name)
            if e is not None:
                values[name] = float(probe.logit(e))
        return {**d, "values": values}

    out = add(r)
    if r.get("frames"):
        out["frames"] = [add(f) for f in r["frames"]]
    return out


def out_of_fold_probe_values(records: list[dict[str, Any]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every record with its probes' logits from probes fitted without its inner fold (see the module docstring)."""
    if not names:
        return records
    folds = [_inner_fold(r) for r in records]
    out = list(records)
    for k in range(INNER_FOLDS):
        train = [r for r, f in zip(records, folds, strict=True) if f != k]
        probes = fit_probes(train, names)
        for i, f in enumerate(folds):
            if f == k:
                out[i] = with_probe_values(records[i], probes)
    return out


def photo_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the photo head learns from: photos, and the frames videos carry read as photos (photos people send are
    often frames of videos), each frame with its video's label, family and person."""
    out = [r for r in records if r["is_image"]]
    for r in records:
        if not r["is_image"]:
            keep = {k: r[k] for k in ("label", "family", "group", "tied") if k in r}
            out += [{**keep, "is_image": True, "frame_of": r.get("path", ""), **f} for f in r.get("frames", [])]
    return out


def fit_config(records: list[dict[str, Any]], config: EvidenceConfig, *, l2: float = 0.01) -> FittedConfig:
    """Probes (on every record) and the video and photo heads (on the probes' out-of-fold logits)."""
    stacked = out_of_fold_probe_values(records, config.probes)
    heads = {}
    videos = [r for r in stacked if not r["is_image"]]
    photos = photo_records(stacked)
    for kind, rows, features in (("video", videos, config.video), ("photo", photos, config.photo)):
        if any(r["label"] for r in rows) and any(not r["label"] for r in rows):
            heads[kind] = fit_records(rows, features, l2=l2, correct=config.correct)
    return FittedConfig(config, fit_probes(records, config.probes), heads)


def score(fitted: FittedConfig, record: dict[str, Any]) -> float | None:
    """The fitted configuration's score of one record (a photo or a frame: the photo head); None without a head."""
    kind = "photo" if record["is_image"] else "video"
    head = fitted.heads.get(kind)
    if head is None:
        return None
    return probability(head, with_probe_values(record, fitted.probes))
