"""Mouth opening from speech: a ridge regression from pretrained speech features to the lips' gaps, fitted on real
clips only (AVH-Align's idea with a linear head).

Why this shape: the speech features (Google's speech_embedding, :mod:`vaedetect.pretrained`) were learned on far more
speech than this project holds, and FaceMesh's landmarks on far more faces; the only thing learned here is how one
predicts the other in real talking faces, which a linear map over a short context of embeddings can hold with a few
hundred clips. A clip whose mouth the speech does not predict (a dubbed or replaced voice, a face driven by someone
else's motion) or predicts only at the wrong timing is unusual for real footage; the learned fusion decides which way
the fakes lean (lip-sync generators are trained to be *in* sync).

The mouth is read as its opening (inner and outer lip gaps). Both sides live on the FaceMesh grid (every
``landmark_every``-th analysed frame, 12.5 Hz at 25 fps) and are centred per clip, so a person's resting mouth and a
recording's audio level do not count, only their motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaedetect.faces import EYE_A, EYE_B, FaceConfig

# The mouth's opening, inner and outer lip gaps over the inter-ocular distance: what speech moves. Chosen over the
# aligned lip and jaw points (reduced by PCA) and over four measures (the gaps, mouth width, jaw drop) by how well
# speech predicts each in held-out *real* clips (bench/results/2026-12-06-evidence-rules.md, addendum).
INNER_LIP = (13, 14)
OUTER_LIP = (0, 17)
CONTEXT = (-2, -1, 0, 1, 2)  # speech embeddings read around each mesh frame, in mesh steps (80 ms at 12.5 Hz)
MAX_SHIFT = 7  # audio offsets (mesh steps, 0.56 s) against which the true timing must win
LANDMARK_STEP = FaceConfig().landmark_every  # the mesh grid the head was fitted on (every 2nd frame: 12.5 Hz)
MIN_FRAMES = 12  # mesh frames with a face and speech, after the shifts' margins, for a clip to be judged


def grid_inputs(
    landmarks: np.ndarray, present: np.ndarray, speech: np.ndarray, step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames of the mesh grid (every ``step``-th frame, in step with the frames the mesh ran on), their mouth shapes
    (NaN rows where no landmarks) and whether each is usable (a face with landmarks, and speech), from per-frame
    ``landmarks`` (T, 468, 2; NaN where the mesh did not run)."""
    finite = np.flatnonzero(np.isfinite(landmarks[:, 0, 0]))
    grid = np.arange(int(finite[0]) % step if len(finite) else 0, len(present), step)
    lm = landmarks[grid]
    has = np.isfinite(lm[:, 0, 0]) & present[grid]
    shape = np.full((len(grid), 2), np.nan, np.float32)
    if has.any():
        shape[has] = mouth_shape(lm[has])
    return grid, shape, has & speech[grid].astype(bool)


def mouth_shape(landmarks: np.ndarray) -> np.ndarray:
    """(M, 2) inner and outer lip gaps over the inter-ocular distance, one row per frame of (M, 468, 2) landmarks."""
    if not len(landmarks):
        return np.zeros((0, 2), np.float32)
    lm = landmarks.astype(np.float64)
    iod = np.linalg.norm(lm[:, list(EYE_B)].mean(axis=1) - lm[:, list(EYE_A)].mean(axis=1), axis=1)
    gaps = [np.linalg.norm(lm[:, b] - lm[:, a], axis=1) for a, b in (INNER_LIP, OUTER_LIP)]
    return (np.stack(gaps, axis=1) / np.maximum(iod, 1e-6)[:, None]).astype(np.float32)


def context_stack(speech: np.ndarray, idx: np.ndarray, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Speech features around mesh frames ``idx`` (rows of the mesh-grid ``speech``), moved ``shift`` steps: (N, C*D)
    and which rows had every context step inside the clip."""
    n = len(speech)
    cols, ok = [], np.ones(len(idx), bool)
    for c in CONTEXT:
        j = idx + shift + c
        inside = (j >= 0) & (j < n)
        ok &= inside
        cols.append(speech[np.clip(j, 0, max(n - 1, 0))])
    return np.concatenate(cols, axis=1), ok


@dataclass
class SpeechToMouth:
    """The fitted head: PCA of mouth shape (``components``), standardisation of the speech context, ridge weights."""

    components: np.ndarray  # (K, P) principal directions of clip-centred mouth motion over real frames
    speech_mean: np.ndarray  # (C*D,)
    speech_std: np.ndarray  # (C*D,)
    weights: np.ndarray  # (C*D, K)

    def predict(self, context: np.ndarray) -> np.ndarray:
        """Mouth motion (N, K) predicted from (N, C*D) speech context; centre both per clip before comparing."""
        return ((context - self.speech_mean) / self.speech_std) @ self.weights

    def project(self, shape: np.ndarray) -> np.ndarray:
        return shape @ self.components.T

    def correlations(self, speech: np.ndarray, shape: np.ndarray, use: np.ndarray) -> np.ndarray | None:
        """Correlation of predicted and observed mouth motion for audio offsets -MAX_SHIFT..MAX_SHIFT (mesh steps; a
        positive offset reads the speech that comes later), over the same frames for every offset; None when fewer
        than :data:`MIN_FRAMES` frames qualify.

        ``speech`` (M, D) and ``shape`` (M, P) are per mesh frame; ``use`` (M,) marks frames with a face and speech.
        """
        m = len(shape)
        idx = np.flatnonzero(use)
        idx = idx[(idx - MAX_SHIFT + CONTEXT[0] >= 0) & (idx + MAX_SHIFT + CONTEXT[-1] < m)]
        if len(idx) < MIN_FRAMES:
            return None
        y = self.project(shape[idx])
        y = y - y.mean(axis=0)
        out = np.zeros(2 * MAX_SHIFT + 1)
        for i, k in enumerate(range(-MAX_SHIFT, MAX_SHIFT + 1)):
            ctx, _ = context_stack(speech, idx, k)
            p = self.predict(ctx)
            p = p - p.mean(axis=0)
            den = np.sqrt((p * p).sum() * (y * y).sum())
            out[i] = float((p * y).sum() / den) if den > 1e-12 else 0.0
        return out

    def to_stats(self) -> dict[str, np.ndarray]:
        """Its tensors as ``speech_mouth.*`` entries of a bundle's ``stats.safetensors``."""
        return {f"{PREFIX}{k}": np.ascontiguousarray(getattr(self, k), np.float32) for k in _FIELDS}

    @classmethod
    def from_stats(cls, stats: dict[str, np.ndarray]) -> SpeechToMouth | None:
        if f"{PREFIX}weights" not in stats:
            return None
        return cls(**{k: stats[f"{PREFIX}{k}"].astype(np.float64) for k in _FIELDS})


PREFIX = "speech_mouth."
_FIELDS = ("components", "speech_mean", "speech_std", "weights")


def summary(corr: np.ndarray | None) -> dict[str, float | None]:
    """``av_fit``: the correlation at the true timing; ``av_peak``: how far it stands above the other offsets'."""
    if corr is None:
        return {"av_fit": None, "av_peak": None}
    zero = MAX_SHIFT
    others = np.r_[corr[:zero], corr[zero + 1 :]]
    return {"av_fit": float(corr[zero]), "av_peak": float(corr[zero] - np.median(others))}


def fit(clips: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_components: int, ridge: float) -> SpeechToMouth:
    """Fit on real clips, each ``(speech (M, D), shape (M, P), use (M,))`` on its mesh grid."""
    shapes = [s[u] - s[u].mean(axis=0) for _, s, u in clips if u.sum() >= 2]
    allshape = np.concatenate(shapes)
    _, _, vt = np.linalg.svd(allshape - allshape.mean(axis=0), full_matrices=False)
    comps = vt[:n_components]
    xs, ys = [], []
    for sp, sh, use in clips:
        idx = np.flatnonzero(use)
        ctx, ok = context_stack(sp, idx)
        idx, ctx = idx[ok], ctx[ok]
        if len(idx) < 2:
            continue
        y = sh[idx] @ comps.T
        xs.append(ctx - ctx.mean(axis=0))  # per clip centred, as at scoring time
        ys.append(y - y.mean(axis=0))
    x, y = np.concatenate(xs), np.concatenate(ys)
    mean, std = np.zeros(x.shape[1]), x.std(axis=0) + 1e-6
    xz = x / std
    w = np.linalg.solve(xz.T @ xz + ridge * len(xz) * np.eye(xz.shape[1]), xz.T @ y)
    return SpeechToMouth(comps, mean, std, w)
