"""Lip-from-voice: a linear map from one frame of speech spectrum to how open the mouth is, fitted on real clips.

Why it exists next to the contrastive alignment model: that model has millions of weights and ~40 training speakers,
so on an unseen speaker its distance-vs-offset curve can be flat or wrong. Louder, more open vowels come with a more
open mouth for every speaker; a ridge regression with one weight per mel band captures that coupling and cannot
memorise anyone. Correlating predicted and observed mouth opening at each audio shift gives a second offset curve that
generalises (numbers in ``bench/experiments/offsets.py``) and is easy to explain. It only sharpens the *offset*
estimate; the sync evidence that enters the verdict is still the alignment model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vaedetect.audio import MEL_PER_VIDEO_FRAME, minus_speech_mean

MIN_FRAMES = 8  # fewer paired frames than this and a correlation says nothing


def mel_frames(mel: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Log-mel averaged per video frame, minus the clip's mean speech spectrum (microphone and room colouring)."""
    n = len(mel) // MEL_PER_VIDEO_FRAME
    frames = mel[: n * MEL_PER_VIDEO_FRAME].reshape(n, MEL_PER_VIDEO_FRAME, -1).mean(axis=1)
    return minus_speech_mean(frames, speech[:n], MIN_FRAMES).astype(np.float32)


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - np.nanmean(x)) / (np.nanstd(x) + 1e-6)


def lag_correlations(
    lip: np.ndarray, pred: np.ndarray, present: np.ndarray, speech: np.ndarray, lags: np.ndarray
) -> np.ndarray:
    """Pearson correlation of ``lip[t]`` with ``pred[t + lag]`` over frames with a face and speech at ``t + lag``.

    NaN where too few frames pair up (a long shift on a short clip).
    """
    n = min(len(lip), len(pred), len(present), len(speech))
    t = np.arange(n)
    out = np.full(len(lags), np.nan)
    for i, lag in enumerate(lags):
        u = t + int(lag)
        ok = (u >= 0) & (u < n)
        ok[ok] &= speech[u[ok]] & present[t[ok]] & np.isfinite(lip[t[ok]])
        if ok.sum() < MIN_FRAMES:
            continue
        x, y = lip[t[ok]], pred[u[ok]]
        if x.std() < 1e-6 or y.std() < 1e-6:
            continue
        out[i] = float(np.corrcoef(x, y)[0, 1])
    return out


@dataclass(frozen=True)
class LipVoice:
    weight: np.ndarray  # (n_mels,) on standardised mel frames
    mean: np.ndarray  # (n_mels,)
    std: np.ndarray  # (n_mels,)
    # Median over training clips of the shift at which predicted and observed opening agree best: the mouth moves a
    # little before the sound it makes. Subtracted, so offset 0 means "as the training clips were recorded".
    lag: int = 0

    STATS_KEYS = ("lipvoice_weight", "lipvoice_mean", "lipvoice_std", "lipvoice_lag")

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Predicted (standardised) mouth opening for each video frame of :func:`mel_frames` output."""
        return ((frames - self.mean) / self.std) @ self.weight

    def curve(
        self, lip: np.ndarray, mel: np.ndarray, speech: np.ndarray, present: np.ndarray, max_offset: int
    ) -> np.ndarray:
        """Correlation for audio offsets -max_offset..max_offset (SyncNet sign: audio at ``t + offset`` goes with
        video at ``t``), with the natural lag removed."""
        pred = self.predict(mel_frames(mel, speech))
        offsets = np.arange(-max_offset, max_offset + 1)
        return lag_correlations(lip, pred, present, speech, offsets + self.lag)

    def to_stats(self) -> dict[str, np.ndarray]:
        return {
            "lipvoice_weight": self.weight.astype(np.float32),
            "lipvoice_mean": self.mean.astype(np.float32),
            "lipvoice_std": self.std.astype(np.float32),
            "lipvoice_lag": np.array([self.lag], dtype=np.int64),
        }

    @classmethod
    def from_stats(cls, stats: dict[str, np.ndarray]) -> LipVoice | None:
        """None for bundles made before lip-from-voice existed."""
        if not all(k in stats for k in cls.STATS_KEYS):
            return None
        return cls(
            weight=np.asarray(stats["lipvoice_weight"], np.float32),
            mean=np.asarray(stats["lipvoice_mean"], np.float32),
            std=np.asarray(stats["lipvoice_std"], np.float32),
            lag=int(np.asarray(stats["lipvoice_lag"]).reshape(-1)[0]),
        )


def fit_lipvoice(
    clips: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], ridge: float = 0.1, max_lag: int = 15
) -> LipVoice | None:
    """Ridge regression of per-clip standardised lip opening on mel frames, over speech frames with a face.

    ``clips`` holds ``(lip, mel, speech, present)`` per clip. ``ridge`` is per sample on standardised inputs, so it
    does not change meaning with the amount of data. None when there is too little speech to fit anything.
    """
    xs, ys, kept = [], [], []
    for lip, mel, speech, present in clips:
        frames = mel_frames(mel, speech)
        n = min(len(frames), len(lip))
        ok = speech[:n] & present[:n] & np.isfinite(lip[:n])
        if ok.sum() < MIN_FRAMES:
            continue
        xs.append(frames[:n][ok])
        ys.append(_standardise(lip[:n][ok]))
        kept.append((lip, frames, speech, present))
    if not xs:
        return None
    x, y = np.concatenate(xs).astype(np.float64), np.concatenate(ys).astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    xn = (x - mean) / std
    gram = xn.T @ xn + ridge * len(xn) * np.eye(xn.shape[1])
    weight = np.linalg.solve(gram, xn.T @ (y - y.mean()))
    model = LipVoice(weight=weight.astype(np.float32), mean=mean.astype(np.float32), std=std.astype(np.float32))
    lags = np.arange(-max_lag, max_lag + 1)
    best = []
    for lip, frames, speech, present in kept:
        c = lag_correlations(lip, model.predict(frames), present, speech, lags)
        if np.isfinite(c).any():
            best.append(int(lags[int(np.nanargmax(c))]))
    lag = int(np.median(best)) if best else 0
    return LipVoice(weight=model.weight, mean=model.mean, std=model.std, lag=lag)
