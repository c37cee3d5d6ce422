"""Evaluation: the field's metrics (ROC-AUC, AP, EER, TPR at low FPR) over a labeled CSV of clips and photos."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from vaedetect.errors import InputError
from vaedetect.report import EVIDENCE

SUMMARY_KEYS = (
    "n", "auc", "ap", "eer", "tpr_at_fpr_1", "tpr_at_fpr_5", "accuracy_at_threshold", "real_called_fake",
    "seconds_per_clip",
)  # fmt: skip


def binary_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
    """AUC, AP (scikit-learn), EER and TPR at 1% / 5% FPR read off its ROC curve; None where a class is missing."""
    y = np.asarray(y, dtype=np.int64)
    s = np.asarray(s, dtype=np.float64)
    if len(y) == 0 or y.min() == y.max():
        return {"auc": None, "ap": None, "eer": None, "tpr_at_fpr_1": None, "tpr_at_fpr_5": None}
    # Every distinct threshold is kept: the EER and TPR-at-FPR readings need the full staircase, not its corners.
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))

    def tpr_at(target: float) -> float:
        ok = fpr <= target + 1e-12
        return float(tpr[ok].max()) if ok.any() else 0.0

    return {
        "auc": float(roc_auc_score(y, s)),
        "ap": float(average_precision_score(y, s)),
        "eer": float((fpr[i] + fnr[i]) / 2),
        "tpr_at_fpr_1": tpr_at(0.01),
        "tpr_at_fpr_5": tpr_at(0.05),
    }


def bootstrap_auc_ci(
    y: np.ndarray, s: np.ndarray, groups: list[str] | None = None, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """95% percentile interval of the AUC under resampling; whole groups (identities) are resampled when given.

    Why groups: eleven crops of one person are one piece of evidence about generalisation, not eleven. With a small,
    clustered labelled set the interval, not the point estimate, says whether a bar like AUC >= 0.85 is met.
    """
    y = np.asarray(y, dtype=np.int64)
    s = np.asarray(s, dtype=np.float64)
    if len(y) == 0 or y.min() == y.max():
        return None
    keys = list(groups) if groups is not None else [str(i) for i in range(len(y))]
    members: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        members.setdefault(k, []).append(i)
    clusters = [np.array(v) for v in members.values()]
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(n_boot):
        idx = np.concatenate([clusters[j] for j in rng.integers(0, len(clusters), len(clusters))])
        yb = y[idx]
        if yb.min() != yb.max():
            aucs.append(float(roc_auc_score(yb, s[idx])))
    if not aucs:
        return None
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return float(lo), float(hi)


def read_labels(csv_path: Path, root: Path | None = None, split: str | None = None) -> list[dict[str, str]]:
    """Rows with ``path`` resolved against ``root`` (default: the CSV's folder) and ``label`` in {real, fake}.

    With ``split``, only rows whose ``split`` column equals it (so a data manifest can be evaluated in place).
    """
    root = root or csv_path.parent
    rows = []
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"path", "label"} - set(reader.fieldnames or [])
        if split is not None and "split" not in (reader.fieldnames or []):
            missing.add("split")
        if missing:
            raise InputError(f"{csv_path.name} needs the columns path,label (missing: {', '.join(sorted(missing))}).")
        for row in reader:
            if split is not None and row["split"] != split:
                continue
            label = (row.get("label") or "").strip().lower()
            if label not in ("real", "fake"):
                raise InputError(f"{csv_path.name}: label must be 'real' or 'fake', got {row.get('label')!r}.")
            p = Path(row["path"])
            rows.append(
                {
                    "path": str(p if p.is_absolute() else root / p),
                    "label": label,
                    "kind": row.get("kind") or label,
                    "identity": (row.get("identity") or "").strip(),
                }
            )
    return rows


def evaluate_csv(
    csv_path: str | Path,
    analyze: Callable[[str], Any] | None = None,
    root: str | Path | None = None,
    progress: bool = True,
    split: str | None = None,
    *,
    checkpoint: str | None = None,
    workers: int = 1,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Score every row and summarise; a failing row goes to ``errors`` and the run continues.

    With ``analyze(path) -> Report`` the rows are scored here, one after another; without it they are scored by
    :func:`vaedetect.scan.score_paths` (``workers`` processes or Ray at ``ray_address``, each loading ``checkpoint``).
    """
    from tqdm.auto import tqdm

    from vaedetect.scan import score_file, score_paths

    rows = read_labels(Path(csv_path), Path(root) if root else None, split)
    paths = [r["path"] for r in rows]
    lines = (score_file(analyze, p) for p in paths) if analyze else score_paths(paths, checkpoint, workers, ray_address)
    by_path = {line["file"]: line for line in tqdm(lines, total=len(rows), desc="eval", disable=not progress)}
    return summarize(rows, [by_path[p] for p in paths])


def summarize(rows: list[dict[str, str]], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of labelled ``rows`` from their scan lines (:func:`vaedetect.scan.score_file`), in the same order."""
    scored: list[dict[str, Any]] = []
    errors = [
        {"path": r["path"], "message": line["error"]} for r, line in zip(rows, lines, strict=True) if line["error"]
    ]
    seconds = [line["seconds"] for line in lines if not line["error"]]
    for row, line in zip(rows, lines, strict=True):
        if line["error"]:
            continue
        scored.append(
            {
                "path": row["path"],
                "label": row["label"],
                "kind": row["kind"],
                "media": line["media"],
                "identity": row["identity"],
                "manipulation_score": line["score"],
                "verdict": line["verdict"],
                "scores": line["scores"],
                "warnings": line["warnings"],
            }
        )
    y = np.array([r["label"] == "fake" for r in scored], dtype=np.int64)
    s = np.array([r["manipulation_score"] for r in scored], dtype=np.float64)
    verdict_fake = np.array([r["verdict"] == "fake" for r in scored], dtype=bool)
    out: dict[str, Any] = {"n": len(rows), "n_scored": len(scored), **binary_metrics(y, s)}
    # Rows without an identity are their own cluster; with identities the interval resamples people.
    groups = [r["identity"] or r["path"] for r in scored]
    ci = bootstrap_auc_ci(y, s, groups)
    out["auc_ci95"] = list(ci) if ci else None
    out["auc_ci95_resampled"] = f"{len(set(groups))} identities" if any(r["identity"] for r in scored) else "rows"
    out["accuracy_at_threshold"] = float(np.mean(verdict_fake == (y == 1))) if len(y) else None
    out["real_called_fake"] = float(np.mean(verdict_fake[y == 0])) if (y == 0).any() else None
    out["fake_called_fake"] = float(np.mean(verdict_fake[y == 1])) if (y == 1).any() else None
    out["verdict_counts"] = {
        lab: {
            v: sum(1 for r in scored if r["label"] == lab and r["verdict"] == v) for v in ("real", "uncertain", "fake")
        }
        for lab in ("real", "fake")
    }
    per_kind: dict[str, Any] = {}
    for kind in sorted({r["kind"] for r in scored}):
        ks = [r for r in scored if r["kind"] == kind]
        per_kind[kind] = {
            "n": len(ks),
            "mean_score": float(np.mean([r["manipulation_score"] for r in ks])),
            "detection_rate": float(np.mean([r["verdict"] == "fake" for r in ks])),
            "flagged_rate": float(np.mean([r["verdict"] != "real" for r in ks])),
        }
        # A family of fakes against every real row: how well this kind of manipulation is ranked (per-family AUC).
        fam = np.array([r["kind"] == kind for r in scored], dtype=bool)
        if (y[fam] == 1).all() and (y == 0).any():
            keep = fam | (y == 0)
            per_kind[kind]["auc_vs_real"] = binary_metrics(y[keep], s[keep])["auc"]
    out["per_kind"] = per_kind
    # Videos and photos apart: one AUC over both also ranks a photo's score against a clip's, which come from different
    # fusion heads; a photo is one frame, so its AUC is the field's frame-level photo AUC.
    per_media: dict[str, Any] = {}
    for kind in sorted({r["media"] for r in scored}):
        mask = np.array([r["media"] == kind for r in scored], dtype=bool)
        per_media[kind] = {
            "n": int(mask.sum()),
            "n_fake": int(y[mask].sum()),
            **{k: binary_metrics(y[mask], s[mask])[k] for k in ("auc", "ap")},
            "real_called_fake": float(np.mean(verdict_fake[mask & (y == 0)])) if (mask & (y == 0)).any() else None,
        }
    out["per_media"] = per_media
    per_evidence = {}
    for name in EVIDENCE:
        pairs = [(r["label"] == "fake", r["scores"][name]) for r in scored if r["scores"].get(name) is not None]
        if pairs:
            ye, se = zip(*pairs, strict=True)
            per_evidence[name] = {"n": len(pairs), **binary_metrics(np.array(ye, int), np.array(se, float))}
    out["per_evidence"] = per_evidence
    out["errors"] = errors
    out["seconds_per_clip"] = float(np.mean(seconds)) if seconds else None
    out["rows"] = scored
    return out


def record_in_bundle(folder: str | Path, result: dict[str, Any], name: str) -> None:
    """Put an evaluation's summary (no per-file rows) into ``calibration.json`` and rewrite the model card.

    Measured numbers belong with the weights they were measured on, so a published bundle carries them.
    """
    import json

    from vaedetect.hub import make_model_card

    folder = Path(folder)
    cal_path = folder / "calibration.json"
    cal = json.loads(cal_path.read_text())
    summary: dict[str, Any] = {k: result.get(k) for k in SUMMARY_KEYS}
    summary["auc_ci95"] = result.get("auc_ci95")
    summary["auc_ci95_resampled"] = result.get("auc_ci95_resampled")
    summary["errors"] = len(result.get("errors", []))
    summary["per_kind"] = {
        k: {kk: v[kk] for kk in ("n", "mean_score", "flagged_rate", "detection_rate")}
        for k, v in result.get("per_kind", {}).items()
    }
    summary["per_media"] = result.get("per_media", {})
    summary["per_evidence_auc"] = {k: v.get("auc") for k, v in result.get("per_evidence", {}).items()}
    summary["per_evidence_n"] = {k: v.get("n") for k, v in result.get("per_evidence", {}).items()}
    key = name if name.startswith("eval_") else f"eval_{name}"
    cal.setdefault("metrics", {})[key] = summary
    cal_path.write_text(json.dumps(cal, indent=2, allow_nan=False))
    (folder / "README.md").write_text(make_model_card(folder))
