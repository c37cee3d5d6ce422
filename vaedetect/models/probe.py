"""A linear probe on frozen embeddings (UnivFD, CVPR 2023): standardise, then one logistic layer.

Why linear: the representation (CLIP, learned on hundreds of millions of images) carries what transfers; a probe with
few parameters fitted on a few hundred labelled files cannot memorise a family's quirks the way a fine-tuned network
would (Effort, ICML 2025: small heads on frozen features generalise better than fine-tuning).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROBE_C = 0.1  # inverse L2 strength, fixed before any number (bench/results/2026-12-06-evidence-rules.md)


@dataclass
class LinearProbe:
    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    weights: np.ndarray  # (D,)
    bias: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        """Log-odds of "like the training fakes" for (N, D) embeddings (or one (D,) embedding: a 0-d array)."""
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    def to_stats(self, name: str) -> dict[str, np.ndarray]:
        """Its tensors as ``probe.<name>.*`` entries of a bundle's ``stats.safetensors``."""
        t = {"mean": self.mean, "scale": self.scale, "weights": self.weights, "bias": np.array([self.bias])}
        return {f"{PREFIX}{name}.{k}": np.ascontiguousarray(v, np.float32) for k, v in t.items()}


PREFIX = "probe."


def probes_from_stats(stats: dict[str, np.ndarray]) -> dict[str, LinearProbe]:
    """Every probe a bundle's stats hold, by evidence name."""
    names = {k[len(PREFIX) :].rsplit(".", 1)[0] for k in stats if k.startswith(PREFIX)}
    out = {}
    for n in sorted(names):
        t = {f: stats[f"{PREFIX}{n}.{f}"].astype(np.float64) for f in ("mean", "scale", "weights", "bias")}
        out[n] = LinearProbe(t["mean"], t["scale"], t["weights"], float(t["bias"][0]))
    return out


def fit_probe(x: np.ndarray, y: np.ndarray, fake_groups: np.ndarray, c: float = PROBE_C) -> LinearProbe:
    """Fit on (N, D) embeddings, labels ``y`` (1 = fake), classes weighted equally and, among the fakes, every
    ``fake_groups`` value (family) equally, so one large family cannot decide what the probe learns."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    w = np.where(y == 0, 0.5 / max((y == 0).sum(), 1), 0.0)
    fakes = y == 1
    if fakes.any():
        groups, inverse, counts = np.unique(fake_groups[fakes], return_inverse=True, return_counts=True)
        w[fakes] = 0.5 / len(groups) / counts[inverse]
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=w * len(y))
    return LinearProbe(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))
