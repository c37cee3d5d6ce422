"""Evaluation: the field's metrics (ROC-AUC, AP, EER, TPR at low FPR) over a labeled CSV of clips and photos."""

from __future__ import annotations

import numpy as np


def roc_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR at every distinct threshold (ties handled as one step)."""
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    p, n = max(y.sum(), 1), max(len(y) - y.sum(), 1)
    return np.r_[0.0, fps / n], np.r_[0.0, tps / p]


def binary_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
    """AUC, AP, EER and TPR at 1% / 5% FPR; None where a class is missing."""
    y = np.asarray(y, dtype=np.int64)
    s = np.asarray(s, dtype=np.float64)
    if len(y) == 0 or y.min() == y.max():
        return {"auc": None, "ap": None, "eer": None, "tpr_at_fpr_1": None, "tpr_at_fpr_5": None}
    fpr, tpr = roc_curve(y, s)
    auc = float(np.trapz(tpr, fpr))
    order = np.argsort(-s, kind="mergesort")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    ap = float((precision * hits).sum() / hits.sum())
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    eer = float((fpr[i] + fnr[i]) / 2)

    def tpr_at(target: float) -> float:
        ok = fpr <= target + 1e-12
        return float(tpr[ok].max()) if ok.any() else 0.0

    return {"auc": auc, "ap": ap, "eer": eer, "tpr_at_fpr_1": tpr_at(0.01), "tpr_at_fpr_5": tpr_at(0.05)}
