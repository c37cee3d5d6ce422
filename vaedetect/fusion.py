"""Learned fusion: how much each evidence counts, fitted on real files against labelled fakes of many families.

Kept deliberately small so that it generalises and stays readable: each evidence is z-scored against real files with a
robust centre and scale (median, MAD) and oriented so that larger means "more like the fakes seen in training"; the
fusion is a logistic model with *non-negative* weights on those z-scores. An evidence whose direction flips between
families gets a weight near zero instead of a sign tuned to one family, and each weight reads as "how much this
evidence counts". Missing evidence is 0 (typical of real files), so it moves nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vaedetect.audio import ANALYSIS_FPS

Z_CLIP = 8.0  # one extreme value must not decide a verdict alone
# The lowest oriented z an evidence brings into a head fitted from now on (bench/results/2026-12-01-rules.md, rule 12).
# A calibration written without a ``floor`` keeps -Z_CLIP, so a shipped bundle scores as it was fitted.
FLOOR = -Z_CLIP
MAD_TO_SD = 1.4826
# Rule 18's smooth maximum over families (nats): near the worst family's loss, yet every family still pulls a little.
WORST_FAMILY_TAU = 0.1
# What re-sharing changes: how large the face is, how much fine detail its crop has, how many bits each pixel got.
QUALITY = ("face_px", "sharpness", "bits_per_pixel")
# ... and, for a video, how fast the head moves (rule 21: content, not manipulation; off unless asked for).
MOTION = "head_speed"
# The face's lossless code length at the face VAE's input size and at the cue crops' own size (rule 22: each pixel
# evidence corrected for how hard the very pixels it reads are to compress; off unless asked for).
FACE_COMPLEXITY = "face_complexity"
CUE_COMPLEXITY = "cue_complexity"
CODE_LENGTHS = frozenset({FACE_COMPLEXITY, CUE_COMPLEXITY})
# What a correction reads: one tuple of measures for every evidence, or each evidence's own (rule 22).
QualityKeys = tuple[str, ...] | dict[str, tuple[str, ...]]


def scale_matched_keys(features: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Rule 22's measures per evidence: what reads the face at the VAE's size (face, latent, temporal) its code length
    there, a region cue the cue crop's, the rest (audio, sync) :data:`QUALITY` as before."""
    from vaedetect.cues import CUES

    vae = ("face", "latent", "temporal")
    return {k: (FACE_COMPLEXITY,) if k in vae else (CUE_COMPLEXITY,) if k in CUES else QUALITY for k in features}


def bits_per_pixel(
    kind: str, size_bytes: int, width: int, height: int, bitrate_kbps: float | None, fps: float | None
) -> float | None:
    """A photo's file bits over its pixels; a video's bitrate over pixels per frame (None when unknown)."""
    pixels = max(width * height, 1)
    if kind == "image":
        return size_bytes * 8 / pixels
    if not bitrate_kbps:
        return None
    return bitrate_kbps * 1000 / (pixels * (fps or ANALYSIS_FPS))


def quality_vector(quality: dict[str, float | None], keys: tuple[str, ...] = QUALITY) -> np.ndarray | None:
    """Logs of the measures ``keys`` (None when any is missing or not positive)."""
    v = [quality.get(k) for k in keys]
    if any(x is None or not np.isfinite(x) or x <= 0 for x in v):
        return None
    return np.log(np.asarray(v, dtype=np.float64))


@dataclass
class QualityCorrection:
    """Removes from each evidence the part that image quality predicts on *real* files (a least-squares slope on
    :func:`quality_vector`, centred on the real files' mean quality).

    Why: reconstruction errors and region statistics follow detail and compression (Serrà et al., ICLR 2020), so
    without this a sharp real face or a soft fake is judged by its quality. After it, evidence reads "unusual for
    real footage of this quality". Files without a quality measure are left as they are.
    """

    mean_q: np.ndarray
    slopes: dict[str, np.ndarray]
    keys: tuple[str, ...] = QUALITY
    # An evidence listed here reads its own measures, centred on its own means (rule 22); the rest read ``keys``.
    keys_for: dict[str, tuple[str, ...]] = field(default_factory=dict)
    means_for: dict[str, np.ndarray] = field(default_factory=dict)

    def predicted(self, k: str, quality: dict[str, float | None]) -> float | None:
        """What quality predicts of evidence ``k`` beyond the real files' mean (None: no slope or a measure missing)."""
        if k not in self.slopes:
            return None
        own = self.keys_for.get(k)
        q = quality_vector(quality, self.keys if own is None else own)
        return None if q is None else float(self.slopes[k] @ (q - (self.mean_q if own is None else self.means_for[k])))

    @property
    def measures(self) -> set[str]:
        """Every quality measure some evidence's correction reads."""
        return {m for k in self.slopes for m in self.keys_for.get(k, self.keys)}

    def apply(self, values: dict[str, float | None], quality: dict[str, float | None]) -> dict[str, float | None]:
        out = dict(values)
        for k in self.slopes:
            v, p = values.get(k), self.predicted(k, quality)
            if p is not None and v is not None and np.isfinite(v):
                out[k] = float(v - p)
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "quality": list(self.keys),
            "mean_q": self.mean_q.tolist(),
            "slopes": {k: v.tolist() for k, v in self.slopes.items()},
        }
        if self.keys_for:
            out["quality_for"] = {k: list(v) for k, v in self.keys_for.items()}
            out["mean_q_for"] = {k: v.tolist() for k, v in self.means_for.items()}
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> QualityCorrection:
        slopes = {k: np.asarray(v) for k, v in d["slopes"].items()}
        keys_for = {k: tuple(v) for k, v in d.get("quality_for", {}).items()}
        means_for = {k: np.asarray(v, dtype=np.float64) for k, v in d.get("mean_q_for", {}).items()}
        mean_q = np.asarray(d["mean_q"], dtype=np.float64)
        return cls(mean_q, slopes, tuple(d.get("quality", QUALITY)), keys_for, means_for)


# A real file and its re-shared copy: (original values, original quality, copy values, copy quality).
Pair = tuple[dict[str, float | None], dict[str, float | None], dict[str, float | None], dict[str, float | None]]


def _value(values: dict[str, float | None], k: str) -> float:
    v = values.get(k)
    return np.nan if v is None else float(v)


def fit_quality_correction(
    real: list[dict[str, float | None]],
    quality: list[dict[str, float | None]],
    features: tuple[str, ...],
    pairs: list[Pair] | None = None,
    keys: QualityKeys = QUALITY,
) -> QualityCorrection | None:
    """Slopes of each evidence on :func:`quality_vector` over real files (between files, centred).

    With ``keys`` a dict (rule 22), each evidence is fitted on its own measures, centred on the real files that have
    them; those with :data:`QUALITY` (or the first group) also set the shared ``keys`` and ``mean_q``.

    With ``pairs`` (rule 17 of bench/results/2026-12-01-rules.md), a second block of equal weight fits the change of
    the evidence against the change of quality from a real file to its re-shared copy (no intercept): a pair differs
    only in how it travelled, so that block measures what re-sharing does, which the between-file slope mixes with
    what differs between sources.
    """
    if isinstance(keys, dict):
        return _fit_per_evidence(real, quality, features, pairs, keys)
    qs = [quality_vector(q, keys) for q in quality]
    ok = [i for i, q in enumerate(qs) if q is not None]
    if len(ok) < 10:
        return None
    q = np.stack([qs[i] for i in ok])
    mean_q = q.mean(axis=0)
    dq, pair_rows = None, []
    if pairs:
        pq = [(quality_vector(a, keys), quality_vector(b, keys)) for _, a, _, b in pairs]
        pair_rows = [i for i, (a, b) in enumerate(pq) if a is not None and b is not None]
        dq = np.array([pq[i][1] - pq[i][0] for i in pair_rows]).reshape(-1, len(keys))
    slopes = {}
    for k in features:
        v = np.array([_value(real[i], k) for i in ok], dtype=np.float64)
        fin = np.isfinite(v)
        if fin.sum() < 10:
            continue
        a, y = q[fin] - mean_q, v[fin] - v[fin].mean()
        if dq is not None:
            dv = np.array([_value(pairs[i][2], k) - _value(pairs[i][0], k) for i in pair_rows], dtype=np.float64)
            pfin = np.isfinite(dv)
            if pfin.sum() >= 10:  # each block weighs as much as the other, whatever its size
                wa, wp = np.sqrt(1.0 / fin.sum()), np.sqrt(1.0 / pfin.sum())
                a = np.vstack([a * wa, dq[pfin] * wp])
                y = np.r_[y * wa, dv[pfin] * wp]
        slopes[k] = np.linalg.lstsq(a, y, rcond=None)[0]
    return QualityCorrection(mean_q, slopes, keys)


def _fit_per_evidence(
    real: list[dict[str, float | None]],
    quality: list[dict[str, float | None]],
    features: tuple[str, ...],
    pairs: list[Pair] | None,
    keys: dict[str, tuple[str, ...]],
) -> QualityCorrection | None:
    groups: dict[tuple[str, ...], list[str]] = {}
    for k in features:
        groups.setdefault(keys.get(k, QUALITY), []).append(k)
    fitted = {g: fit_quality_correction(real, quality, tuple(fs), pairs, g) for g, fs in groups.items()}
    fitted = {g: c for g, c in fitted.items() if c is not None}
    if not fitted:
        return None
    base = fitted.get(QUALITY) or next(iter(fitted.values()))
    out = QualityCorrection(base.mean_q, {}, base.keys)
    for g, c in fitted.items():
        for k, b in c.slopes.items():
            out.slopes[k] = b
            if g != base.keys:
                out.keys_for[k], out.means_for[k] = g, c.mean_q
    return out


def copy_pairs(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Pair]]:
    """``records`` without re-shared copies, and each real copy paired with its original among them (rule 17)."""
    originals = [r for r in records if not r.get("copy_of")]
    by_path = {r["path"]: r for r in originals if not r["label"] and "path" in r}
    pairs = [
        (o["values"], o["quality"], c["values"], c["quality"])
        for c in records
        if c.get("copy_of") and not c["label"] and (o := by_path.get(c["copy_of"])) is not None
    ]
    return originals, pairs


@dataclass
class Norm:
    """Robust standardisation of one evidence against real files; ``direction`` orients it towards the fakes, or
    ``two_sided`` reads it as a distance from the real median either way (rule 14 of the 2026-12-01 rules)."""

    center: float
    scale: float
    direction: float = 1.0
    n: int = 0
    two_sided: bool = False
    floor: float | None = None  # this evidence's own floor (rule 15), else the fusion's

    def z(self, value: float | None, floor: float = -Z_CLIP) -> float | None:
        """Oriented z-score, clipped to [``floor``, Z_CLIP] (two-sided: |z| in [0, Z_CLIP]); None for a missing or
        non-finite value."""
        if value is None or not np.isfinite(value):
            return None
        z = (value - self.center) / self.scale
        if self.two_sided:
            return float(min(abs(z), Z_CLIP))
        return float(np.clip(self.direction * z, floor if self.floor is None else self.floor, Z_CLIP))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"center": self.center, "scale": self.scale, "direction": self.direction, "n": self.n}
        if self.two_sided:
            out["two_sided"] = True
        if self.floor is not None:
            out["floor"] = self.floor
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Norm:
        return cls(
            float(d["center"]),
            float(d["scale"]),
            float(d.get("direction", 1.0)),
            int(d.get("n", 0)),
            bool(d.get("two_sided", False)),
            None if d.get("floor") is None else float(d["floor"]),
        )


def robust_norm(real_values: np.ndarray, fake_values: np.ndarray | None = None) -> Norm:
    """Median/MAD of the real values; direction from whether the fakes' median lies above or below it."""
    r = np.asarray(real_values, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size < 3:
        return Norm(0.0, 1.0, 1.0, int(r.size))
    center = float(np.median(r))
    scale = float(np.median(np.abs(r - center)) * MAD_TO_SD) or float(np.std(r)) or 1.0
    direction = 1.0
    if fake_values is not None:
        f = np.asarray(fake_values, dtype=np.float64)
        f = f[np.isfinite(f)]
        if f.size and np.median(f) < center:
            direction = -1.0
    return Norm(center, max(scale, 1e-6), direction, int(r.size))


@dataclass
class LearnedFusion:
    features: tuple[str, ...]
    norms: dict[str, Norm]
    weights: np.ndarray
    bias: float
    correction: QualityCorrection | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    floor: float = -Z_CLIP  # see :data:`FLOOR`

    def zs(
        self, values: dict[str, float | None], quality: dict[str, float | None] | None = None
    ) -> dict[str, float | None]:
        if self.correction is not None and quality is not None:
            values = self.correction.apply(values, quality)
        return {k: self.norms[k].z(values.get(k), self.floor) for k in self.features}

    def logit(self, values: dict[str, float | None], quality: dict[str, float | None] | None = None) -> float:
        z = self.zs(values, quality)
        x = np.array([0.0 if z[k] is None else z[k] for k in self.features])
        return float(self.weights @ x + self.bias)

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "norms": {k: self.norms[k].to_json() for k in self.features},
            "weights": [float(w) for w in self.weights],
            "bias": float(self.bias),
            "correction": self.correction.to_json() if self.correction is not None else None,
            "meta": self.meta,
            "floor": self.floor,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LearnedFusion:
        return cls(
            features=tuple(d["features"]),
            norms={k: Norm.from_json(v) for k, v in d["norms"].items()},
            weights=np.asarray(d["weights"], dtype=np.float64),
            bias=float(d["bias"]),
            correction=QualityCorrection.from_json(d["correction"]) if d.get("correction") else None,
            meta=dict(d.get("meta", {})),
            floor=float(d.get("floor", -Z_CLIP)),
        )


def fit_fusion(
    real: list[dict[str, float | None]],
    fake: list[dict[str, float | None]],
    features: tuple[str, ...],
    *,
    l2: float = 0.01,
    fake_groups: list[str] | None = None,
    real_quality: list[dict[str, float | None]] | None = None,
    fake_quality: list[dict[str, float | None]] | None = None,
    floor: float = FLOOR,
    two_sided: tuple[str, ...] = (),
    floored: tuple[str, ...] | None = None,
    real_pairs: list[Pair] | None = None,
    worst_family_tau: float | None = None,
    quality_keys: QualityKeys = QUALITY,
) -> LearnedFusion:
    """Fit norms on ``real`` (oriented by ``fake``, or two-sided for the features in ``two_sided``) and non-negative
    logistic weights, classes balanced; ``l2`` is the ridge penalty on the weights against a weighted mean log-loss.

    ``fake_groups`` (e.g. the family of each fake) weights every group equally, so one large family cannot decide
    what the fusion learns about all of them. With ``real_quality`` (and ``fake_quality``), a
    :class:`QualityCorrection` fitted on the real files (and ``real_pairs``, rule 17) is applied first. ``floor``:
    see :data:`FLOOR`; with ``floored``, only those evidence take it (rule 15). With ``worst_family_tau`` (and
    ``fake_groups``), the weights minimise a smooth maximum (temperature ``worst_family_tau``) of the groups' own
    class-balanced losses instead of their mean (rule 18, group DRO). ``quality_keys``: what the correction reads
    (rule 21 adds :data:`MOTION` for videos; rule 22 gives each evidence its own, :func:`scale_matched_keys`).
    """
    correction = None
    if real_quality is not None:
        correction = fit_quality_correction(real, real_quality, features, real_pairs, quality_keys)
        if correction is not None:
            real = [correction.apply(v, q) for v, q in zip(real, real_quality, strict=True)]
            if fake_quality is not None:
                fake = [correction.apply(v, q) for v, q in zip(fake, fake_quality, strict=True)]

    def column(rows: list[dict[str, float | None]], k: str) -> np.ndarray:
        return np.array([np.nan if r.get(k) is None else r[k] for r in rows], dtype=np.float64)

    norms = {k: robust_norm(column(real, k), column(fake, k)) for k in features}
    norms = {k: replace(n, two_sided=True) if k in two_sided else n for k, n in norms.items()}
    if floored is not None:  # the floor for these evidence only; the fusion keeps the lowest
        norms = {k: replace(n, floor=floor) if k in floored else n for k, n in norms.items()}
        floor = -Z_CLIP

    def matrix(rows: list[dict[str, float | None]]) -> np.ndarray:
        out = np.zeros((len(rows), len(features)))
        for j, k in enumerate(features):
            z = [norms[k].z(v, floor) for v in column(rows, k)]
            out[:, j] = [0.0 if v is None else v for v in z]
        return out

    x = np.vstack([matrix(real), matrix(fake)])
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    w_fake = np.ones(len(fake))
    if fake_groups is not None:
        groups = np.asarray(fake_groups)
        for g in np.unique(groups):
            w_fake[groups == g] = 1.0 / (groups == g).sum()
    sample_w = np.r_[np.full(len(real), 0.5 / max(len(real), 1)), 0.5 * w_fake / w_fake.sum()]

    worst = worst_family_tau is not None and fake_groups is not None and len(fake) > 0
    if worst:
        fam_of = np.unique(np.asarray(fake_groups), return_inverse=True)[1]
        n_fam = np.bincount(fam_of)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        s = x @ w + b
        p = 1.0 / (1.0 + np.exp(-s))
        per = -(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
        sw = sample_w
        if worst:  # each family's loss with all reals; the smooth max weighs families by softmax(loss / tau)
            real_nll = per[: len(real)].mean() if len(real) else 0.0
            fam_nll = np.bincount(fam_of, weights=per[len(real) :]) / n_fam
            fam_loss = 0.5 * real_nll + 0.5 * fam_nll
            top = fam_loss.max()
            e = np.exp((fam_loss - top) / worst_family_tau)
            pi = e / e.sum()
            sw = np.r_[np.full(len(real), 0.5 / max(len(real), 1)), 0.5 * pi[fam_of] / n_fam[fam_of]]
            value = float(top + worst_family_tau * np.log(e.sum()))
        else:
            value = float(np.sum(sample_w * per))
        g = sw * (p - y)
        return value + 0.5 * l2 * float(w @ w), np.r_[x.T @ g + l2 * w, g.sum()]

    from scipy.optimize import minimize  # fitting only: importing it costs a detector's load ~0.4 s

    bounds = [(0.0, None)] * len(features) + [(None, None)]
    res = minimize(loss, np.zeros(len(features) + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return LearnedFusion(features, norms, res.x[:-1], float(res.x[-1]), correction, floor=floor)


# -- the bundle's learned heads ----------------------------------------------------------------------------------
# The per-clip evidence the learned heads read. Not ``temporal`` (the latent step between frames): heavy re-encoding of
# a real clip moves it far more than any other evidence (bench/results/2026-12-01-invariance.json), so a verdict
# leaning on it would follow how a clip travelled, not how it was made.
LEARNED_EVIDENCE = ("face", "latent", "audio", "sync")
N_FOLDS = 5
UNCERTAIN_FPR = 0.20  # share of held-out real files at or above the "uncertain" line


def head_features(kind: str) -> tuple[str, ...]:
    """What each learned head reads: a video everything, a photo what one picture offers."""
    from vaedetect.cues import CUES, FRAME_CUES

    return LEARNED_EVIDENCE + CUES if kind == "video" else ("face", "latent", *FRAME_CUES)


def identity_fold(group: str) -> int:
    """The fold (of :data:`N_FOLDS`) a person's files fall in: fixed by the name, so every run splits alike."""
    return int(hashlib.sha1(group.encode()).hexdigest(), 16) % N_FOLDS


def fit_records(
    records: list[dict[str, Any]],
    features: tuple[str, ...],
    *,
    l2: float = 0.01,
    correct: bool = True,
    floor: float = FLOOR,
    two_sided: tuple[str, ...] = (),
    floored: tuple[str, ...] | None = None,
    paired: bool = False,
    worst_family_tau: float | None = None,
    quality_keys: QualityKeys = QUALITY,
) -> LearnedFusion:
    """:func:`fit_fusion` on records (see :func:`fit_heads`), with the quality correction unless ``correct`` is off.
    With ``paired``, re-shared copies among ``records`` only shape the correction (:func:`copy_pairs`)."""
    pairs = None
    if paired:
        records, pairs = copy_pairs(records)
    real = [r for r in records if not r["label"]]
    fake = [r for r in records if r["label"]]
    return fit_fusion(
        [r["values"] for r in real],
        [r["values"] for r in fake],
        features,
        l2=l2,
        fake_groups=[r["family"] for r in fake],
        real_quality=[r["quality"] for r in real] if correct else None,
        fake_quality=[r["quality"] for r in fake] if correct else None,
        floor=floor,
        two_sided=two_sided,
        floored=floored,
        real_pairs=pairs if correct else None,
        worst_family_tau=worst_family_tau,
        quality_keys=quality_keys,
    )


def probability(model: LearnedFusion, record: dict[str, Any]) -> float:
    """A fitted head's score of one record (its ``values`` and ``quality``)."""
    return float(1.0 / (1.0 + np.exp(-model.logit(record["values"], record["quality"]))))


def out_of_fold(
    train: list[dict[str, Any]],
    scored: list[dict[str, Any]],
    features: tuple[str, ...],
    *,
    l2: float = 0.01,
    floor: float = FLOOR,
    floored: tuple[str, ...] | None = None,
    paired: bool = False,
    worst_family_tau: float | None = None,
    quality_keys: QualityKeys = QUALITY,
) -> np.ndarray:
    """Each of ``scored`` scored by a head fitted on ``train`` without its identity fold (every fake trains): how the
    lines see real files the model never trained on. In ``scored``'s order."""
    out = np.zeros(len(scored))
    for k in range(N_FOLDS):
        idx = [i for i, r in enumerate(scored) if identity_fold(r["group"]) == k]
        if idx:
            fold = [r for r in train if r["label"] or identity_fold(r["group"]) != k]
            model = fit_records(
                fold, features, l2=l2, floor=floor, floored=floored, paired=paired, worst_family_tau=worst_family_tau,
                quality_keys=quality_keys,
            )  # fmt: skip
            out[idx] = [probability(model, scored[i]) for i in idx]
    return out


def real_frames(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The frames real videos carry (``record["frames"]``), as photo records of their video's identity."""
    return [
        {"label": 0, "family": "", "group": r["group"], "is_image": True, **f}
        for r in records
        if not r["label"] and not r["is_image"]
        for f in r.get("frames", [])
    ]


def fit_heads(
    records: list[dict[str, Any]],
    *,
    l2: float = 0.01,
    photo_lines_on_frames: bool = True,
    train_on_copies: bool = False,
    floor: float = FLOOR,
    floored: tuple[str, ...] | None = None,
    paired_correction: bool = False,
    worst_family_tau: float | None = None,
    scale_matched: bool = False,
) -> dict[str, Any]:
    """The ``learned`` block of a bundle's calibration: a video head and a photo head fitted on every record, with
    lines from real files scored by a model that did not train on their identity (5 folds): "uncertain" where 20% of
    them are at or above it, "likely manipulated" just above the highest of them, because a real file called
    manipulated is the costliest error.

    - The photo head's real files are real photos and, with ``photo_lines_on_frames``, the frames real videos carry:
      photos people send are often frames of videos.
    - Re-shared copies among the records (``copy_of``, see :mod:`vaedetect.training.reshare`) raise "likely
      manipulated" above every real copy too, so re-sharing a real file does not push it over; they train the heads
      only with ``train_on_copies`` (measured worse on held-out families: bench/results/2026-12-01-rules.md, rule 7);
      with ``paired_correction`` they shape the quality correction only (rule 17, :func:`copy_pairs`).
    - With ``scale_matched``, each evidence's quality correction reads its own measures (rule 22,
      :func:`scale_matched_keys`).

    A record is ``{"label": 0|1, "family": str, "group": identity, "is_image": bool, "values": {...}, "quality":
    {...}, "frames": [{"values", "quality"}, ...] (videos), "copy_of": path (copies)}`` (see
    :meth:`vaedetect.detector.Detector.record`).
    """
    out: dict[str, Any] = {}
    originals = [r for r in records if not r.get("copy_of")]
    for kind in ("video", "photo"):
        features = head_features(kind)
        pool = records if train_on_copies or paired_correction else originals
        train = [r for r in pool if kind == "photo" or not r["is_image"]]
        paired = paired_correction and not train_on_copies
        scored_reals = [r for r in originals if not r["label"] and r["is_image"] == (kind == "photo")]
        if kind == "photo" and photo_lines_on_frames and scored_reals:
            scored_reals += real_frames(originals)
        if not scored_reals:  # no real file of this kind to set its lines on: that kind keeps the equal fusion
            continue
        real_copies = [r for r in records if r.get("copy_of") and not r["label"] and r["is_image"] == (kind == "photo")]
        opts = {
            "l2": l2, "floor": floor, "floored": floored, "paired": paired, "worst_family_tau": worst_family_tau,
            "quality_keys": scale_matched_keys(features) if scale_matched else QUALITY,
        }  # fmt: skip
        scored = out_of_fold(train, scored_reals + real_copies, features, **opts)
        oof_a, oof_copies = scored[: len(scored_reals)], scored[len(scored_reals) :]
        model = fit_records(train, features, **opts)
        rows, pairs = copy_pairs(train) if paired else (train, [])
        model.meta = {
            "n_real": sum(1 for r in rows if not r["label"]),
            "n_fake": sum(1 for r in rows if r["label"]),
            "families": sorted({r["family"] for r in rows if r["label"]}),
            "n_real_scored_out_of_fold": len(oof_a),
            "n_real_copies_scored_out_of_fold": len(oof_copies),
            "n_quality_pairs": len(pairs),
        }
        fake_line = float(np.nextafter(scored.max(), 1.0))
        out[kind] = {
            "fusion": model.to_json(),
            "thresholds": {"uncertain": float(np.quantile(oof_a, 1 - UNCERTAIN_FPR)), "fake": fake_line},
        }
    return out
