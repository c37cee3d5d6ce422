"""Fitting :class:`~vaedetect.models.speech_mouth.SpeechToMouth` on real clips only, and scoring clips with heads that
never saw their person.

Its size (PCA dimensions, ridge strength) is chosen by how well it predicts the mouth of *real* people it did not
train on (mean per-clip correlation at the true timing, identity folds): no fake is read, so the choice cannot fit a
generator family.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np

from vaedetect.fusion import N_FOLDS, identity_fold
from vaedetect.models import speech_mouth as sm

log = logging.getLogger("vaedetect.train")

SIZES = (1, 2)
RIDGES = (1.0, 10.0, 100.0)


@dataclass
class MouthClip:
    """One clip's inputs on the mesh grid, with its person and label (fakes are scored, never fitted)."""

    speech: np.ndarray  # (G, 96)
    shape: np.ndarray  # (G, P), NaN rows where no landmarks
    use: np.ndarray  # (G,) bool
    group: str
    label: int
    trains: bool = True  # False for a re-shared copy: scored like any clip, never fitted on

    @property
    def triple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.speech, np.nan_to_num(self.shape), self.use


def _fits(clips: list[MouthClip]) -> list[MouthClip]:
    return [c for c in clips if c.trains and not c.label and c.use.sum() >= sm.MIN_FRAMES]


def choose_size(clips: list[MouthClip]) -> tuple[int, float, dict[str, float]]:
    """(PCA dimensions, ridge) with the best mean out-of-fold correlation at the true timing over real clips."""
    real = _fits(clips)
    table = {}
    for k, ridge in itertools.product(SIZES, RIDGES):
        fits = []
        for fold in range(N_FOLDS):
            train = [c.triple for c in real if identity_fold(c.group) != fold]
            head = sm.fit(train, k, ridge)
            for c in real:
                if identity_fold(c.group) == fold:
                    corr = head.correlations(*c.triple)
                    if corr is not None:
                        fits.append(corr[sm.MAX_SHIFT])
        table[f"{k}/{ridge}"] = float(np.mean(fits))
    best = max(table, key=table.__getitem__)
    k, ridge = best.split("/")
    log.info("speech-to-mouth size: %s (held-out real correlation %.3f)", best, table[best])
    return int(k), float(ridge), table


def fit_real(clips: list[MouthClip], k: int, ridge: float) -> sm.SpeechToMouth:
    """The head that ships: fitted on every real clip."""
    return sm.fit([c.triple for c in _fits(clips)], k, ridge)


def cross_fitted(clips: list[MouthClip], k: int, ridge: float) -> list[dict[str, float | None]]:
    """``av_fit``/``av_peak`` of every clip from the head fitted on the real clips outside its identity fold."""
    out: list[dict[str, float | None]] = [sm.summary(None)] * len(clips)
    real = _fits(clips)
    for fold in range(N_FOLDS):
        head = sm.fit([c.triple for c in real if identity_fold(c.group) != fold], k, ridge)
        for i, c in enumerate(clips):
            if identity_fold(c.group) == fold:
                out[i] = sm.summary(head.correlations(*c.triple))
    return out
