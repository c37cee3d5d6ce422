"""Calibration: turn trained models into a detector whose thresholds hold a measured false-positive rate.

No real deepfake is needed: every statistic comes from held-out real footage and pseudo-fakes made from it
(:mod:`vaedetect.pseudofakes`). :func:`calibrate` runs the steps in order, one function each:

1. :func:`fit_latent_gaussian`   the face VAE's latent distribution on real training faces
2. :func:`fit_pixel_errors`      per-pixel reconstruction error statistics on held-out real faces
3. :func:`collect_samples`       raw evidence on held-out real segments and on their pseudo-fakes
4. :func:`normalise_evidence`    each evidence as a z-score against the real segments
5. :func:`fit_experts`, :func:`fit_heads`, :func:`set_thresholds`   fusion and the lines at the target FPRs
6. :func:`measure`               each head's metrics on its calibration samples (in-sample, reported as such)
7. :func:`reference_map`         real and pseudo-fake latents embedded in 2-D for the report's map
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from vaedetect import pseudofakes
from vaedetect.evidence import ClipArrays, RawEvidence, compute_evidence, mahalanobis, run_face_vae
from vaedetect.models import ModelBundle
from vaedetect.pseudofakes import AUDIO_KINDS, FACE_KINDS
from vaedetect.scoring import EVIDENCE, Head, normalize, select_head
from vaedetect.training.data import Item
from vaedetect.training.recipes import TrainConfig
from vaedetect.training.stages import face_pool

HEAD_FEATURES = {
    "full": ("face", "latent", "temporal", "blend", "audio", "sync"),
    "face": ("face", "latent", "temporal", "blend"),
    "photo": ("face", "latent", "blend"),
    "audio": ("audio",),
}
# Which pseudo-fakes each expert is fitted against: the manipulations it can see at all.
EXPERT_KINDS = {
    "face": FACE_KINDS,
    "latent": FACE_KINDS,
    "temporal": FACE_KINDS,
    "blend": FACE_KINDS,
    "sync": ("audio-shift", "audio-swap"),
    "audio": ("audio-smooth",),
}
FAKE_FPR = 0.05
UNCERTAIN_FPR = 0.20
# The uncertain tier never vanishes (it can when a head has too few held-out reals to resolve both rates): a score
# just under the "fake" line is not "likely real".
MIN_UNCERTAIN_BAND = 0.01
MAX_LATENT_FACES = 6000
MAX_ERROR_FACES = 3000
COVARIANCE_SHRINK = 0.1  # few samples for 64-256 latent dimensions


@dataclass
class Sample:
    """One calibration input: its evidence, whether it is a pseudo-fake, which kind, and whose footage it is."""

    evidence: RawEvidence
    label: int  # 0 real, 1 pseudo-fake
    kind: str  # "real", "real-variant" or a pseudo-fake kind
    identity: str


@dataclass
class Scored:
    """A sample as the heads see it: z-scores instead of raw evidence."""

    z: dict[str, float | None]
    label: int
    kind: str


def calibrate(
    bundle: ModelBundle,
    train_clips: list[ClipArrays],
    val_clips: list[tuple[Item, ClipArrays]],
    cfg: TrainConfig,
    work: Path,
) -> dict[str, Any]:
    """Real-data statistics, fusion heads (Platt-scaled on pseudo-fakes), thresholds at measured FPR, reference map.

    Writes ``bundle.stats``, ``bundle.calibration`` and ``bundle.reference``; returns the metrics.
    """
    rng = np.random.default_rng(cfg.seed + 7)
    fit_latent_gaussian(bundle, train_clips, cfg, rng)
    mu_val = fit_pixel_errors(bundle, [c for _, c in val_clips], cfg, rng)
    samples, fake_latents, fake_kinds = collect_samples(bundle, val_clips, cfg, rng)
    evidence_norm, scored = normalise_evidence(samples)
    bundle.calibration = {"evidence": evidence_norm}
    equal = cfg.fusion == "equal"
    experts = fit_experts(scored, evidence_norm, equal)
    heads = fit_heads(scored, experts, equal)
    set_thresholds(heads, scored)
    metrics = measure(heads, scored)
    bundle.calibration["heads"] = {n: h.to_json() for n, h in heads.items()}
    bundle.calibration["experts"] = {
        k: {"weight": w, "bias": b, "fitted_against": [] if equal else list(EXPERT_KINDS[k])}
        for k, (w, b) in experts.items()
    }
    bundle.calibration["metrics"] = metrics
    bundle.calibration["fpr_targets"] = {"fake": FAKE_FPR, "uncertain": UNCERTAIN_FPR}
    bundle.calibration["fusion"] = cfg.fusion
    bundle.reference = reference_map(bundle, mu_val, fake_latents, fake_kinds, cfg, rng)
    return metrics


def _subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x[rng.choice(len(x), n, replace=False)] if len(x) > n else x


def fit_latent_gaussian(
    bundle: ModelBundle, train_clips: list[ClipArrays], cfg: TrainConfig, rng: np.random.Generator
) -> None:
    """Step 1: mean and (shrinkage) precision of the latents of real training faces, for the latent evidence."""
    pool = _subsample(face_pool(train_clips, cfg.face_frame_stride * 2, bundle.config.face_vae.image_px),
                      MAX_LATENT_FACES, rng)  # fmt: skip
    _, _, mu = run_face_vae(bundle, pool)
    mean = mu.mean(axis=0)
    cov = np.cov(mu - mean, rowvar=False)
    cov = (1 - COVARIANCE_SHRINK) * cov + COVARIANCE_SHRINK * np.eye(cov.shape[0]) * np.trace(cov) / cov.shape[0]
    bundle.stats["latent_mean"] = mean.astype(np.float32)
    bundle.stats["latent_precision"] = np.linalg.inv(cov).astype(np.float32)


def fit_pixel_errors(
    bundle: ModelBundle, val_clips: list[ClipArrays], cfg: TrainConfig, rng: np.random.Generator
) -> np.ndarray:
    """Step 2: per-pixel error mean and std on held-out real faces (the heatmap's z-map); returns their latents."""
    pool = _subsample(face_pool(val_clips, cfg.face_frame_stride * 2, bundle.config.face_vae.image_px),
                      MAX_ERROR_FACES, rng)  # fmt: skip
    _, err, mu = run_face_vae(bundle, pool)
    bundle.stats["pixel_err_mean"] = err.mean(axis=0).astype(np.float32)
    bundle.stats["pixel_err_std"] = (err.std(axis=0) + 1e-3).astype(np.float32)
    return mu


def _segments(c: ClipArrays, seconds: float, max_n: int) -> list[slice]:
    n = c.n_frames
    if c.is_image:
        return [slice(0, 1)]
    length = max(int(seconds * c.fps), 10)
    if n < length:
        return [slice(0, n)] if c.present.sum() >= 5 else []
    starts = np.linspace(0, n - length, min(max_n, max(1, n // length))).astype(int)
    return [slice(int(s), int(s) + length) for s in starts if c.present[s : s + length].mean() > 0.5]


def collect_samples(
    bundle: ModelBundle, val_clips: list[tuple[Item, ClipArrays]], cfg: TrainConfig, rng: np.random.Generator
) -> tuple[list[Sample], list[np.ndarray], list[str]]:
    """Step 3: evidence on held-out real segments (and photos) and on their pseudo-fakes; each segment's donor is the
    next clip of its kind. Also returns pseudo-fake face latents with their kinds, for the reference map."""
    video_val = [(it, c) for it, c in val_clips if not c.is_image]
    image_val = [(it, c) for it, c in val_clips if c.is_image and c.present.any()]
    jobs = []
    for k, (it, c) in enumerate(video_val):
        for s in _segments(c, cfg.segment_s, cfg.max_segments_per_clip):
            jobs.append((it, c.frames(s.start, s.stop), video_val[(k + 1) % len(video_val)][1]))
    for k, (it, c) in enumerate(image_val):
        jobs.append((it, c, image_val[(k + 1) % len(image_val)][1]))
    samples: list[Sample] = []
    fake_latents: list[np.ndarray] = []
    fake_kinds: list[str] = []
    for it, seg, donor in tqdm(jobs, desc="calibrate", leave=False):
        samples.append(Sample(compute_evidence(bundle, seg, keep_images=False), 0, "real", it.identity))
        if seg.is_image:
            # The same real photo tightly cropped and low-resolution, as dataset face crops arrive: thresholds must
            # hold for those too, and this is how we measure real inputs of that quality without any fake.
            edge = replace(seg, face_crops=np.stack([pseudofakes.frame_edge(f, rng) for f in seg.face_crops]))
            small = replace(edge, face_crops=np.stack([pseudofakes.degrade(f, rng) for f in edge.face_crops]))
            for variant in (edge, small):
                samples.append(Sample(compute_evidence(bundle, variant, keep_images=False), 0, "real-variant",
                                      it.identity))  # fmt: skip
        kinds = FACE_KINDS + (AUDIO_KINDS if seg.mel is not None and seg.speech.sum() >= 8 else ())
        for kind in kinds:
            fake = pseudofakes.make_pseudofake(kind, seg, donor, bundle, rng)
            if fake is None:
                continue
            ev = compute_evidence(bundle, fake, keep_images=False)
            samples.append(Sample(ev, 1, kind, it.identity))
            if kind in FACE_KINDS and ev.latents.size:
                fake_latents.append(ev.latents[:: max(1, len(ev.latents) // 4)])
                fake_kinds += [kind] * len(fake_latents[-1])
    return samples, fake_latents, fake_kinds


def normalise_evidence(samples: list[Sample]) -> tuple[dict[str, dict[str, float]], list[Scored]]:
    """Step 4: each evidence's mean and std on the real samples, and every sample's z-scores against them."""
    norm = {}
    for name in EVIDENCE:
        vals = np.array([v for s in samples if s.label == 0 and (v := getattr(s.evidence, name)) is not None])
        if vals.size >= 2:
            norm[name] = {"mean": float(vals.mean()), "std": float(vals.std() + 1e-6), "n": int(vals.size)}
    calibration = {"evidence": norm}
    return norm, [Scored(normalize(s.evidence, calibration), s.label, s.kind) for s in samples]


def _feature_vector(z: dict[str, float | None], features: tuple[str, ...]) -> np.ndarray | None:
    """The z-scores of ``features`` as a vector; None when any is missing (a head scores only complete inputs)."""
    vals = [z.get(f) for f in features]
    return None if any(v is None for v in vals) else np.array(vals, dtype=np.float64)


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-regularised logistic regression (scikit-learn's, LBFGS), bias not penalised.

    The objective is the class-weighted mean log-loss plus ``l2 * |w|^2``; scikit-learn's ``C`` times the summed
    loss plus ``|w|^2 / 2`` has the same minimum with ``C = 1 / (2 * l2 * n)``.
    """
    model = LogisticRegression(C=1.0 / (2 * l2 * len(y)), class_weight="balanced", max_iter=1000, tol=1e-10)
    model.fit(x, (y > 0.5).astype(np.int64))
    return model.coef_[0].astype(np.float64), float(model.intercept_[0])


def fit_experts(scored: list[Scored], evidence_norm: dict[str, Any], equal: bool) -> dict[str, tuple[float, float]]:
    """Step 5a: each evidence is one expert with a weight and a bias on its z-score (its log-odds).

    ``equal`` (the default recipe): no expert is fitted; every evidence with real-clip statistics counts alike, the
    one-class reading of the z-scores (each already says how unusual the input is next to real footage). Why: our face
    and voice pseudo-fakes move the latent and voice evidence the wrong way (a VAE regeneration or a smoothed voice is
    *more* typical for the VAE), so fitted weights for those are 0 by construction, and whether the face expert clears
    0 varies between trainings, which can leave photos and silent clips with no head at all (bench/results).

    Otherwise (product of experts): a 1-D logistic model per evidence, fitted on the real segments against the
    pseudo-fakes it can see at all (sync against shifted/swapped audio, the face experts against blended or
    regenerated faces). Under PoE the fused log-odds is the sum, so experts that saw different manipulations do not
    wash each other out as a joint model fitted on the pooled pseudo-fakes does (a sync fake looks real to the face
    experts and vice versa). Weights are kept >= 0: being *more* real-looking than real footage is never evidence of
    manipulation.
    """
    if equal:  # an evidence has a z-score exactly when it has real-clip statistics
        return {name: (1.0, 0.0) for name in EXPERT_KINDS if name in evidence_norm}
    experts: dict[str, tuple[float, float]] = {}
    for name, kinds in EXPERT_KINDS.items():
        data = [(s.z[name], s.label) for s in scored
                if s.z.get(name) is not None and (s.label == 0 or s.kind in kinds)]  # fmt: skip
        ys = np.array([y for _, y in data], dtype=np.float64)
        if len(set(ys.tolist())) < 2:
            continue
        w, b = _fit_logistic(np.array([[v] for v, _ in data], dtype=np.float64), ys)
        experts[name] = (max(float(w[0]), 0.0), float(b) if w[0] > 0 else 0.0)
    return experts


def fit_heads(scored: list[Scored], experts: dict[str, tuple[float, float]], equal: bool) -> dict[str, Head]:
    """Step 5b: one head per kind of input (HEAD_FEATURES), summing the experts it can use.

    The face-only and audio-only heads are the same experts restricted to what a photo or a faceless clip offers,
    which under the PoE's independence assumption is the full head with the missing experts marginalised out.
    """
    heads: dict[str, Head] = {}
    for name, feats in HEAD_FEATURES.items():
        feats = tuple(f for f in feats if f in experts)
        if not feats:
            continue
        w = np.array([experts[f][0] for f in feats])
        b = float(sum(experts[f][1] for f in feats))
        if equal:
            w = w / np.sqrt(len(feats))  # Stouffer: about N(0, 1) on real inputs when the evidence is independent
        # Platt step: one scale and offset on the summed log-odds, fitted on real segments against the pseudo-fakes
        # this head can see, so the score is calibrated (independent experts overcount correlated evidence).
        # Monotone, so rankings (and AUC) are the sum's own. Skipped when the pseudo-fakes score *below* the real
        # segments on the sum (a negative scale would invert the score); the head then keeps the plain sum.
        visible = {k for f in feats for k in EXPERT_KINDS[f]}
        rows = [(float(w @ x), s.label) for s in scored if (x := _feature_vector(s.z, feats)) is not None
                and (s.label == 0 or s.kind in visible)]  # fmt: skip
        ys = np.array([y for _, y in rows], dtype=np.float64)
        if len(set(ys.tolist())) == 2 and np.ptp([v for v, _ in rows]) > 0:
            a, c = _fit_logistic(np.array([[v] for v, _ in rows]), ys, l2=1e-4)
            if a[0] > 0:
                w, b = w * float(a[0]), float(c)
        head = Head(name, feats, w, b, 0.0, 1.0)
        if head.informative:
            heads[name] = head
    return heads


def threshold_at_fpr(real_scores: np.ndarray, fpr: float) -> float:
    """The lowest threshold that at most ``fpr`` of these real scores reach (``score >= threshold``).

    With k = floor(fpr * n) it lies between the k-th and (k+1)-th highest real score; with k = 0 (fewer than 1/fpr
    reals) just above the highest, so no real seen is called fake. An interpolated quantile does not hold the rate
    on the ~20 real clips a head may have: it lets more reals than the rate allows reach the threshold.
    """
    s = np.sort(np.asarray(real_scores, dtype=np.float64))[::-1]
    k = int(np.floor(fpr * len(s) + 1e-9))
    if k == 0:
        return float(np.nextafter(s[0], np.inf))
    if k >= len(s):
        return float(s[-1])
    t = (s[k - 1] + s[k]) / 2
    return float(t if t > s[k] else np.nextafter(s[k], np.inf))  # ties: stay above the (k+1)-th


def set_thresholds(heads: dict[str, Head], scored: list[Scored]) -> None:
    """Step 5c: each head's lines at FAKE_FPR and UNCERTAIN_FPR on the real samples it will actually score.

    A photo's single frame is noisier than a 3-second segment's average, so photos get their own quantiles; a head
    with fewer than 20 such reals falls back to all the reals it can score.
    """
    reals = [s.z for s in scored if s.label == 0]
    for head in heads.values():
        mine = [z for z in reals if select_head(heads, z) is head]
        if len(mine) < 20:
            mine = [z for z in reals if _feature_vector(z, head.features) is not None]
        p_real = np.array([head.probability(z) for z in mine])
        fake_thr = threshold_at_fpr(p_real, FAKE_FPR) if p_real.size else 0.9
        unc_thr = threshold_at_fpr(p_real, UNCERTAIN_FPR) if p_real.size else 0.5
        # "Likely manipulated" also needs the fused probability itself to favour manipulation.
        fake_thr = min(max(fake_thr, 0.5), 0.99)
        head.fake, head.uncertain = fake_thr, min(unc_thr, fake_thr - MIN_UNCERTAIN_BAND)


def measure(heads: dict[str, Head], scored: list[Scored]) -> dict[str, Any]:
    """Step 6: each head's metrics on the calibration samples it can score, and each evidence's own AUC."""
    from vaedetect.evaluate import binary_metrics

    metrics: dict[str, Any] = {"note": "on held-out real segments and their pseudo-fakes (calibration set)"}
    for name, head in heads.items():
        mine = [s for s in scored if _feature_vector(s.z, head.features) is not None]
        ps = np.array([head.probability(s.z) for s in mine])
        ys = np.array([s.label for s in mine])
        ks = [s.kind for s in mine]
        m = binary_metrics(ys, ps)
        reals = ps[ys == 0]
        m["fpr_at_fake_threshold"] = float(np.mean(reals >= head.fake)) if reals.size else None
        m["fpr_at_uncertain_threshold"] = float(np.mean(reals >= head.uncertain)) if reals.size else None
        m["per_kind_detection"] = {
            k: float(np.mean(ps[np.array(ks) == k] >= head.fake)) for k in sorted(set(ks)) if k != "real"
        }
        m["n_real"], m["n_fake"] = int((ys == 0).sum()), int((ys == 1).sum())
        metrics[name] = m
    per_evidence = {}
    for name in EVIDENCE:
        ys_e = np.array([s.label for s in scored if s.z[name] is not None])
        ps_e = np.array([s.z[name] for s in scored if s.z[name] is not None])
        if len(set(ys_e.tolist())) == 2:
            per_evidence[name] = binary_metrics(ys_e, ps_e)["auc"]
    metrics["per_evidence_auc"] = per_evidence
    return metrics


def reference_map(
    bundle: ModelBundle,
    real_latents: np.ndarray,
    fake_latents: list[np.ndarray],
    fake_kinds: list[str],
    cfg: TrainConfig,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Step 7: held-out real latents and pseudo-fake latents, embedded in 2-D with UMAP once, at build time."""
    real_lat = real_latents[rng.choice(len(real_latents), min(len(real_latents), cfg.umap_points), replace=False)]
    fake_lat = np.concatenate(fake_latents) if fake_latents else np.zeros((0, real_lat.shape[1]))
    kinds = np.array(fake_kinds, dtype="<U16")
    if len(fake_lat) > cfg.umap_points:
        keep = rng.choice(len(fake_lat), cfg.umap_points, replace=False)
        fake_lat, kinds = fake_lat[keep], kinds[keep]
    xy = embed_2d(np.concatenate([real_lat, fake_lat]).astype(np.float32), cfg.seed)
    return {
        "real_latents": real_lat.astype(np.float32),
        "fake_latents": fake_lat.astype(np.float32),
        "real_xy": xy[: len(real_lat)].astype(np.float32),
        "fake_xy": xy[len(real_lat) :].astype(np.float32),
        "fake_kinds": kinds,
        "real_mahalanobis": mahalanobis(bundle, real_lat).astype(np.float32),
    }


def embed_2d(latents: np.ndarray, seed: int) -> np.ndarray:
    """UMAP when there are enough points, PCA otherwise (UMAP needs a neighbourhood to exist)."""
    if len(latents) >= 30:
        import umap

        reducer = umap.UMAP(n_neighbors=15, min_dist=0.2, random_state=seed, n_jobs=1)
        return reducer.fit_transform(latents)
    centered = latents - latents.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return centered @ vt[:2].T
