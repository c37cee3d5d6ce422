"""The stage that makes a bundle's verdict: the pretrained evidence's heads, the learned fusion, its lines, and what
those lines mean on generators the bundle never saw.

1. Every labelled file is measured once with the bundle (:func:`vaedetect.training.records.measure_all`).
2. The speech-to-mouth head is fitted on real clips only; each file's own value comes from a head that never saw its
   person (:func:`vaedetect.training.records.load_records`).
3. The probes and the learned heads of the recipe's :class:`~vaedetect.training.stacking.EvidenceConfig` are fitted on
   every labelled file (:func:`vaedetect.training.stacking.fit_config`).
4. Lines: real files scored by fits that never saw their person: "uncertain" where 20 % of them are at or above it,
   "likely manipulated" just above the highest of them and of one re-shared copy of each (a real file called
   manipulated is the costliest error, and real footage arrives re-encoded, shrunk or softened).
5. The speaker-change finding's line, from real clips only (:mod:`vaedetect.training.speaker`).
6. Held out: every family (and every group) scored by fits that never saw it (:func:`~vaedetect.training.held_out
   .evaluate`):
   the share of held-out fakes and of real files at each tier, which the page shows beside each verdict, and the
   per-family table of the model card.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vaedetect.evidence import speaker
from vaedetect.fusion import N_FOLDS, UNCERTAIN_FPR, identity_fold
from vaedetect.models import ModelBundle
from vaedetect.training import held_out, speech_mouth
from vaedetect.training.records import load_records, measure_all
from vaedetect.training.speaker import speaker_change_line
from vaedetect.training.stacking import EvidenceConfig, fit_config, photo_records, score

log = logging.getLogger("vaedetect.train")

# The registry names (vaedetect.evidence.REGISTRY) that produce each evidence a head may read.
PRODUCED_BY = {
    "face": "face_vae", "latent": "face_vae", "temporal": "face_vae", "blend": "face_vae", "audio": "voice_vae",
    "sync": "sync", "clip_face": "clip_face", "clip_frame": "clip_frame", "av_fit": "speech_mouth",
    "av_peak": "speech_mouth",
}  # fmt: skip


def evidence_modules(config: EvidenceConfig) -> list[str]:
    """The evidence a bundle with ``config`` runs, in registry order (anything else is a region cue)."""
    from vaedetect.evidence import REGISTRY

    wanted = {PRODUCED_BY.get(f, "region_cues") for f in (*config.video, *config.photo)}
    wanted |= {"face_vae", "sync"}  # the page's pictures: the redrawn face, the map, the alignment curve
    return [name for name in REGISTRY if name in wanted]


def out_of_fold_lines(
    records: list[dict[str, Any]], config: EvidenceConfig, copies: Sequence[dict[str, Any]] = ()
) -> dict[str, dict[str, Any]]:
    """Each kind's lines from its real files (photos: photos and the frames videos carry) scored by fits without
    their identity fold (every fake trains): "uncertain" where 20 % of them are at or above it, "likely manipulated"
    just above the highest of them and of the re-shared ``copies`` of real files, scored alike."""
    scores: dict[str, list[float]] = {"video": [], "photo": []}
    copy_scores: dict[str, list[float]] = {"video": [], "photo": []}
    for k in range(N_FOLDS):
        fitted = fit_config([r for r in records if r["label"] or identity_fold(r["group"]) != k], config)
        for pool, out in ((records, scores), (copies, copy_scores)):
            held = [r for r in pool if not r["label"] and identity_fold(r["group"]) == k]
            for r in held:
                s = score(fitted, r)
                if s is not None:
                    out["photo" if r["is_image"] else "video"].append(s)
            for f in photo_records([r for r in held if not r["is_image"]]):
                s = score(fitted, f)
                if s is not None:
                    out["photo"].append(s)
    lines = {}
    for kind, s in scores.items():
        if s:
            a, c = np.asarray(s), np.asarray(copy_scores[kind])
            lines[kind] = {
                "uncertain": float(np.quantile(a, 1 - UNCERTAIN_FPR)),
                "fake": float(np.nextafter(max(a.max(), c.max() if len(c) else 0.0), 1.0)),
                "n_real_scored_out_of_fold": len(a),
                "n_real_copies_scored_out_of_fold": len(c),
            }
    return lines


def fit_stage(
    bundle_dir: Path, data_dir: Path, cache: Path, config: EvidenceConfig, *, workers: int = 2
) -> dict[str, Any]:
    """Measure, fit and write into ``bundle_dir``: heads into ``stats.safetensors``, the learned heads, lines,
    ``tier_rates`` and the held-out table into ``calibration.json``, the evidence to run into ``config.json``."""
    errors = measure_all(data_dir, cache, bundle=str(bundle_dir), workers=workers, reshared=True)
    if errors:
        log.warning("%d files could not be measured (see %s)", len(errors), cache / "errors.json")
    everything, mouths, size = load_records(cache)
    records = [r for r in everything if not r.get("copy_of")]
    copies = [r for r in everything if r.get("copy_of")]
    if not any(r["label"] for r in records):
        raise ValueError(f"no labelled fakes in {data_dir}: the learned heads need some")
    fitted = fit_config(records, config)
    lines = out_of_fold_lines(records, config, copies)
    tables = held_out.evaluate(records, config, log=log.info)
    bundle = ModelBundle.load(bundle_dir)
    for name, probe in fitted.probes.items():
        bundle.stats.update(probe.to_stats(name))
    if "speech_mouth" in evidence_modules(config):
        head = speech_mouth.fit_real(mouths, size["components"], size["ridge"])
        bundle.stats.update(head.to_stats())
    families = sorted({r["family"] for r in records if r["label"]})
    learned = {}
    fitted_on = {"video": [r for r in records if not r["is_image"]], "photo": photo_records(records)}
    for kind, head in fitted.heads.items():
        head.meta = {
            "config": config.name,
            "n_real": sum(1 for r in fitted_on[kind] if not r["label"]),
            "n_fake": sum(1 for r in fitted_on[kind] if r["label"]),
            "families": families,
            "speech_to_mouth": size,
        }
        learned[kind] = {"fusion": head.to_json(), "thresholds": lines[kind]}
    bundle.calibration["learned"] = learned
    bundle.calibration["tier_rates"] = tables["tier_rates"]
    bundle.calibration["held_out"] = {
        "units": {u: {k: v for k, v in row.items() if k != "tiers"} for u, row in tables["units"].items()},
        "groups": {g: {k: row[k] for k in ("n_fake_videos", "auc")} for g, row in tables["groups"].items()},
    }
    try:
        findings = {speaker.NAME: speaker_change_line(records)}
    except ValueError as err:  # data without real speech: the bundle claims no speaker change rather than failing
        log.warning("%s: the bundle carries no speaker-change finding", err)
        findings = {}
    bundle.calibration["findings"] = findings
    bundle.config.evidence = [*evidence_modules(config), *(["speaker"] if findings else [])]
    bundle.config.training = {**bundle.config.training, "evidence_config": config.__dict__}
    bundle.save(bundle_dir)
    return learned
