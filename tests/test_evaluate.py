"""The evaluation metrics and the calibration's logistic fits come from scikit-learn now; these tests pin that the
numbers did not move.

``_hand_rolled`` and ``_torch_logistic`` are the implementations evaluate.py and training/calibrate.py carried before,
kept here only as the references the switch is checked against.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED_DATA

from vaedetect.evaluate import binary_metrics, bootstrap_auc_ci, evaluate_csv


def _hand_rolled(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    distinct = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
    tps = np.cumsum(ys)[distinct]
    fps = (distinct + 1) - tps
    fpr = np.r_[0.0, fps / max(len(y) - y.sum(), 1)]
    tpr = np.r_[0.0, tps / max(y.sum(), 1)]
    precision = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))

    def tpr_at(target: float) -> float:
        ok = fpr <= target + 1e-12
        return float(tpr[ok].max())

    return {
        "auc": float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)),
        "ap": float((precision * ys).sum() / ys.sum()),
        "eer": float((fpr[i] + fnr[i]) / 2),
        "tpr_at_fpr_1": tpr_at(0.01),
        "tpr_at_fpr_5": tpr_at(0.05),
    }


@pytest.mark.parametrize("seed", range(5))
def test_sklearn_metrics_agree_with_the_former_hand_rolled_ones_on_untied_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_real, n_fake = rng.integers(20, 200, 2)
    y = np.r_[np.zeros(n_real), np.ones(n_fake)].astype(np.int64)
    s = np.r_[rng.normal(0, 1, n_real), rng.normal(rng.uniform(0, 2), 1, n_fake)]
    got, ref = binary_metrics(y, s), _hand_rolled(y, s)
    for key, value in ref.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_tied_scores_count_as_one_threshold_for_auc_and_ap() -> None:
    # A tie between a real and a fake is a coin flip: AUC 0.5, and AP no longer depends on the rows' order (the
    # hand-rolled AP did: it ranked the tied fake above or below the real by position in the file).
    y = np.array([0, 1])
    s = np.array([0.5, 0.5])
    assert binary_metrics(y, s)["auc"] == 0.5
    assert binary_metrics(y, s)["ap"] == binary_metrics(y[::-1], s[::-1])["ap"] == 0.5


def test_metrics_are_none_when_a_class_is_missing() -> None:
    assert set(binary_metrics(np.ones(4, int), np.arange(4.0)).values()) == {None}
    assert bootstrap_auc_ci(np.zeros(3, int), np.arange(3.0)) is None


@pytest.mark.slow
def test_dev_split_metrics_agree_with_the_former_implementation() -> None:
    """On the labelled dev split scored by the bundled detector (skips without ../shared/data)."""
    manifest = SHARED_DATA / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"{manifest} not present")
    import vaedetect

    res = evaluate_csv(manifest, vaedetect.load_detector().analyze, split="dev", progress=False)
    y = np.array([r["label"] == "fake" for r in res["rows"]], dtype=np.int64)
    s = np.array([r["manipulation_score"] for r in res["rows"]])
    assert len(np.unique(s)) == len(s), "tied scores: AP is defined differently there (see the test above)"
    ref = _hand_rolled(y, s)
    for key, value in ref.items():
        assert res[key] == pytest.approx(value, abs=1e-12), key


def _torch_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """The fit calibrate.py carried before scikit-learn's: the same objective minimised with torch's LBFGS."""
    import torch

    xt, yt = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    pos = float(y.mean())
    weights = torch.where(yt > 0.5, 0.5 / pos, 0.5 / (1 - pos))
    opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (weights * torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt, reduction="none")).mean()
        loss = loss + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


@pytest.mark.parametrize(("l2", "dims"), [(1e-2, 1), (1e-4, 1), (1e-2, 3)])
def test_calibration_logistic_fit_from_sklearn_matches_the_former_torch_fit(l2: float, dims: int) -> None:
    from vaedetect.training.calibrate import _fit_logistic

    rng = np.random.default_rng(dims)
    y = np.r_[np.zeros(40), np.ones(150)]  # unbalanced, as real segments against pseudo-fakes are
    x = rng.normal(0, 1, (len(y), dims)) + y[:, None] * rng.uniform(0.3, 1.5, dims)
    w, b = _fit_logistic(x, y, l2=l2)
    w_ref, b_ref = _torch_logistic(x, y, l2)
    np.testing.assert_allclose(w, w_ref, atol=1e-4)
    assert b == pytest.approx(b_ref, abs=1e-4)
