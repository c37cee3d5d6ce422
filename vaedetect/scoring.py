"""Scoring: raw evidence -> z-scores against real data -> fused, calibrated score -> lines, verdict and reasons.

The only module that z-scores: per clip, per sampled frame and per second, each oriented by :data:`DIRECTION` so that
larger always means "less like held-out real clips". :func:`score` is the entry point; the rest are its pieces
(training calls :func:`normalize` and the heads directly to fit them).

Fusion is a logistic model over z-scores, in one of two forms. A bundle with a ``learned`` calibration block scores
with :class:`LearnedHead`: the learned fusion of :mod:`vaedetect.fusion` (quality-corrected, oriented z-scores of the
evidence and the region cues, non-negative weights fitted on labelled fakes of many families), one head per kind of
file, and no verdict without a face. Otherwise the bundle's equal (or pseudo-fake-fitted) heads score the evidence the
input offers. In log-odds space either is a sum of each evidence's push, and a missing evidence contributes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vaedetect.evidence import RawEvidence, face_region
from vaedetect.explain import EVIDENCE_SENTENCES
from vaedetect.fusion import LearnedFusion
from vaedetect.report import EVIDENCE, WIDENING, ReportWarning, TimelinePoint

__all__ = ["DIRECTION", "EVIDENCE", "Head", "Scores", "normalize", "score"]

# +1: larger raw value is more anomalous; -1: smaller is (sync: offset 0 should clearly win).
DIRECTION = {"face": 1.0, "latent": 1.0, "temporal": 1.0, "audio": 1.0, "sync": -1.0, "blend": 1.0}
REASON_Z = 2.0
# An estimated audio offset this large (0.2 s at 25 fps) is stated on its own: held-out real clips miss by at most a
# few frames (a speaker's own lip-to-sound lag), and broadcast tolerance for A/V skew is well under 0.2 s.
CLEAR_OFFSET_FRAMES = 5
AGREE_FRAMES = 2  # the two offset cues agree when their own best offsets are this close
WIDEN_FRACTION = 0.25
WIDENED_REASON = "Warnings below widened the uncertain band: the verdict needs stronger evidence."
LEARNED_REASON_MIN = 0.25  # log-odds an evidence must add under a learned head to be named as a reason
MAX_LEARNED_REASONS = 3
# Why a bundle without learned heads has nothing to score, by the warning that says so (first match wins).
_NO_SCORE_WHY = (("no_face", "no face"), ("faces_too_small", "faces too small"))
NO_FACE_NO_VERDICT = (
    "No face could be examined, so no verdict is given: this model does not judge a voice on its own (its voice"
    " evidence has not been calibrated on labelled synthetic voices)."
)


@dataclass
class Head:
    """One fusion head: a logistic model over a subset of evidence, with its own calibrated thresholds."""

    name: str
    features: tuple[str, ...]
    weights: np.ndarray
    bias: float
    uncertain: float
    fake: float

    def probability(self, z: dict[str, float | None]) -> float:
        x = np.array([z[f] for f in self.features], dtype=np.float64)
        logit = float(self.weights @ np.clip(x, -10, 10) + self.bias)
        return float(1.0 / (1.0 + np.exp(-logit)))

    def weight(self, name: str) -> float:
        return float(self.weights[self.features.index(name)]) if name in self.features else 0.0

    def contributions(self, z: dict[str, float | None]) -> dict[str, float]:
        """Each counted feature's share of the fused log-odds (positive: towards "manipulated"). Features with weight 0
        are left out and the bias is not shared out, so the sum plus the bias is the logit of :meth:`probability`."""
        return {
            f: self.weight(f) * float(np.clip(z[f], -10, 10))
            for f in self.features
            if z.get(f) is not None and self.weight(f) > 0
        }

    @property
    def informative(self) -> bool:
        """A head with no positive weight gives every input the same score: it cannot tell anything apart."""
        return bool(np.any(self.weights > 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": [float(w) for w in self.weights],
            "bias": float(self.bias),
            "thresholds": {"uncertain": float(self.uncertain), "fake": float(self.fake)},
        }

    @classmethod
    def from_json(cls, name: str, d: dict[str, Any]) -> Head:
        return cls(
            name=name,
            features=tuple(d["features"]),
            weights=np.asarray(d["weights"], dtype=np.float64),
            bias=float(d["bias"]),
            uncertain=float(d["thresholds"]["uncertain"]),
            fake=float(d["thresholds"]["fake"]),
        )


@dataclass
class LearnedHead:
    """A bundle's learned fusion (:mod:`vaedetect.fusion`) and its lines, scored through a :class:`Head` over the
    fusion's own z-scores (quality-corrected, oriented towards the training fakes; missing evidence counts as 0)."""

    fusion: LearnedFusion
    head: Head

    def zs(self, z: dict[str, float | None], raw: RawEvidence) -> dict[str, float]:
        zl = self.fusion.zs({**raw.cues, **raw.values, **z}, raw.quality)  # z may carry one second's own values
        return {k: 0.0 if v is None else v for k, v in zl.items()}


def load_learned(calibration: dict[str, Any]) -> dict[str, LearnedHead]:
    """The bundle's learned heads by kind of file ("video", "photo"); empty for a bundle calibrated without them."""
    out = {}
    for kind, d in calibration.get("learned", {}).items():
        f = LearnedFusion.from_json(d["fusion"])
        th = d["thresholds"]
        head = Head(f"learned-{kind}", f.features, f.weights, f.bias, float(th["uncertain"]), float(th["fake"]))
        out[kind] = LearnedHead(f, head)
    return out


def _z(name: str, value: Any, norm: dict[str, float]) -> Any:
    """One evidence value (a float or an array of them) as a z-score against held-out real clips, larger = odder."""
    return DIRECTION[name] * (value - norm["mean"]) / max(norm["std"], 1e-6)


def normalize(raw: RawEvidence, calibration: dict[str, Any]) -> dict[str, float | None]:
    """Per-clip z-scores, one per :data:`EVIDENCE` (None where the clip or the bundle has no such evidence)."""
    norms = calibration.get("evidence", {})
    out: dict[str, float | None] = {}
    for name in EVIDENCE:
        value = getattr(raw, name)
        out[name] = None if value is None or name not in norms else float(_z(name, value, norms[name]))
    return out


def frame_face_z(raw: RawEvidence, calibration: dict[str, Any]) -> np.ndarray:
    """Face z-score of each sampled frame (``raw.frame_idx`` order); raw values if the bundle has no face statistics."""
    norm = calibration.get("evidence", {}).get("face")
    return _z("face", raw.frame_scores, norm) if norm else raw.frame_scores


def frame_latent_z(raw: RawEvidence, calibration: dict[str, Any]) -> np.ndarray | None:
    """Latent z-score of each sampled frame, as :func:`frame_face_z` (None without latent statistics)."""
    norm = calibration.get("evidence", {}).get("latent")
    return None if norm is None else _z("latent", raw.frame_latent, norm)


def per_second(
    raw: RawEvidence,
    calibration: dict[str, Any],
    z: dict[str, float | None],
    fuse: Callable[[dict[str, float | None]], float] | None,
) -> list[TimelinePoint]:
    """The clip's z-scores with each second's own face, latent, blend and lip-sync values in place of the clip's, and
    the head's score on that mix: *when* a clip looks off. ``t`` counts from the first analysed frame; nothing for a
    photo."""
    if raw.is_image:
        return []
    norms = calibration.get("evidence", {})
    out = []
    for s in range(int(np.ceil(raw.n_frames / raw.fps))):
        lo, hi = s * raw.fps, (s + 1) * raw.fps
        zs = dict(z)
        face = sync = None
        m = (raw.frame_idx >= lo) & (raw.frame_idx < hi)
        if m.any() and "face" in norms:
            zs["face"] = face = float(_z("face", raw.frame_scores[m].mean(), norms["face"]))
            if "latent" in norms:
                zs["latent"] = float(_z("latent", raw.frame_latent[m].mean(), norms["latent"]))
            if "blend" in norms and raw.frame_blend is not None:
                zs["blend"] = float(_z("blend", raw.frame_blend[m].mean(), norms["blend"]))
        for name, (frames, values) in raw.frame_values.items():  # e.g. the CLIP probe's logit of each sampled face
            mv = (frames >= lo) & (frames < hi)
            if mv.any():
                zs[name] = float(np.mean(values[mv]))
        if raw.sync_centers is not None and "sync" in norms:
            ms = (raw.sync_centers >= lo) & (raw.sync_centers < hi)
            if ms.any():
                zs["sync"] = sync = float(_z("sync", raw.sync_curve[ms].mean(), norms["sync"]))
        fused = fuse(zs) if fuse is not None and (face is not None or sync is not None) else None
        out.append(TimelinePoint(t=float(s), face=face, sync=sync, fused=fused))
    return out


def feature_vector(z: dict[str, float | None], features: tuple[str, ...]) -> np.ndarray | None:
    """A head's inputs, or None when any is missing: nothing is filled in (a head only scores what it can see)."""
    vals = [z.get(f) for f in features]
    return None if any(v is None for v in vals) else np.array(vals, dtype=np.float64)


def load_heads(calibration: dict[str, Any]) -> dict[str, Head]:
    """Fusion heads; an uninformative one is left out (no verdict beats a constant one)."""
    heads = {name: Head.from_json(name, d) for name, d in calibration.get("heads", {}).items()}
    return {name: h for name, h in heads.items() if h.informative}


def select_head(heads: dict[str, Head], z: dict[str, float | None]) -> Head | None:
    """The head using the most evidence among those whose every input is available."""
    usable = [h for h in heads.values() if feature_vector(z, h.features) is not None]
    return max(usable, key=lambda h: len(h.features), default=None)


def thresholds_with_warnings(head: Head, warning_codes: list[str]) -> tuple[float, float]:
    """Each widening warning moves the 'real' bound down and the 'fake' bound up by a quarter of the distance left."""
    unc, fake = head.uncertain, head.fake
    for _ in range(sum(1 for c in warning_codes if c in WIDENING)):
        unc = unc * (1 - WIDEN_FRACTION)
        fake = fake + (1 - fake) * WIDEN_FRACTION
    return unc, fake


def verdict_for(probability: float, uncertain: float, fake: float) -> str:
    if probability >= fake:
        return "fake"
    if probability >= uncertain:
        return "uncertain"
    return "real"


_REGIONS = (
    ("forehead", (0.0, 0.33), (0.2, 0.8)),
    ("eyes", (0.33, 0.5), (0.15, 0.85)),
    ("nose and cheeks", (0.5, 0.66), (0.15, 0.85)),
    ("mouth", (0.66, 0.85), (0.25, 0.75)),
    ("jaw and chin", (0.85, 1.0), (0.15, 0.85)),
    ("face edges", (0.33, 0.85), (0.0, 0.15)),
)


def worst_region(zmap: np.ndarray, scored: np.ndarray | None = None) -> str:
    """Name of the face region with the highest mean error z-score (for a reason a person can check by eye).

    With ``scored`` (the face-area mask the score uses, as the heatmap shows it) only those pixels count, so the
    region named is one the user sees coloured."""
    h, w = zmap.shape[-2:]
    mask = np.ones((h, w), bool) if scored is None else scored
    best, best_v = "face", -np.inf
    for name, (y0, y1), (x0, x1) in _REGIONS:
        rows = slice(int(y0 * h), max(int(y1 * h), int(y0 * h) + 1))
        cols = slice(int(x0 * w), int(x1 * w))
        m = mask[rows, cols]
        if not m.any():
            continue
        v = float(np.mean(zmap[..., rows, cols][..., m]))
        if v > best_v:
            best, best_v = name, v
    return best


def offset_cues_agree(raw: RawEvidence) -> bool | None:
    """Whether the alignment model's and lip-from-voice's own best offsets are within ``AGREE_FRAMES``; None when
    there is only one cue (no lip-from-voice in the bundle, or too little mouth motion to correlate)."""
    m, v = raw.sync_offset_model, raw.lipvoice_offset
    if m is None or v is None:
        return None
    return abs(m - v) <= AGREE_FRAMES


# Sentences for an evidence that is the verdict's main driver without being striking on its own (|z| < REASON_Z): the
# verdict still has to be explained by what moved it, in words that do not overstate a small deviation.
_DRIVER_SENTENCES = {
    "face": "The face reconstructs {how} worse than the average real face ({z:+.1f}σ).",
    "latent": "The face lies {how} further from real faces in the model's latent space than the average real face"
    " ({z:+.1f}σ).",
    "temporal": "The face changes from frame to frame {how} more than in the average real clip ({z:+.1f}σ).",
    "blend": "The face shows {how} stronger blending traces than the average real face ({z:+.1f}σ).",
    "audio": "The voice reconstructs {how} worse than the average real speech ({z:+.1f}σ).",
    "sync": "Mouth movements match the speech {how} less closely than in the average real clip ({z:+.1f}σ).",
}
WEIGHS_MOST = " This weighs most in the verdict."
NOT_COUNTED = " Not counted in the verdict: in calibration this evidence did not separate real clips from fakes."


def _how(z: float) -> str:
    return "a little" if z < 1.0 else "noticeably"


def reasons_for(
    z: dict[str, float | None],
    raw: RawEvidence,
    verdict: str,
    fps: float,
    region: str | None,
    head: Head | None = None,
) -> list[str]:
    """Plain-language sentences, what moved the verdict first.

    With the scoring ``head`` the sentences follow each evidence's share of the fused log-odds, so the reasons
    explain the verdict actually given: the evidence that pushed a clip towards "manipulated" most is always named
    (softly worded when it is not striking on its own), a striking evidence the head does not count is labelled as
    such, and nothing reassuring is said about the evidence that drove a non-real verdict.
    """
    contrib = head.contributions(z) if head is not None else {}  # counted evidence only
    driver = None
    if verdict != "real" and contrib:
        best = max(contrib, key=contrib.__getitem__)
        driver = best if contrib[best] > 0 else None

    # (group, strength, sentence): group 0 = counted or no head given, 1 = shown but not counted, 2 = reassuring.
    items: list[tuple[int, float, str]] = []
    stated: set[str] = set()  # evidence a sentence already names

    def notable(key: str, value: float, sentence: str) -> None:
        stated.add(key)
        if head is not None and key not in contrib:
            items.append((1, value, sentence + NOT_COUNTED))
        else:
            items.append((0, contrib.get(key, value), sentence + (WEIGHS_MOST if key == driver else "")))

    fz, lz, tz, az, sz, bz = (z.get(k) for k in EVIDENCE)
    if fz is not None:
        if fz >= REASON_Z:
            where = f", most in the {region} region" if region else ""
            notable("face", fz, f"The face reconstructs {fz:.1f}σ worse than the real faces the model learned{where}.")
        elif fz <= 1.0 and driver != "face":
            items.append((2, -fz, f"The face reconstructs like real faces do ({fz:+.1f}σ)."))
    if bz is not None and bz >= REASON_Z:
        notable(
            "blend",
            bz,
            f"The face shows blending traces (a seam or colour step inside the face), {bz:.1f}σ above real faces.",
        )
    if lz is not None and lz >= REASON_Z:
        notable("latent", lz, f"The face lies far from real faces in the model's latent space ({lz:.1f}σ).")
    if tz is not None and tz >= REASON_Z:
        notable("temporal", tz, f"The face changes from frame to frame more than in real footage ({tz:.1f}σ).")
    if az is not None and az >= REASON_Z:
        notable("audio", az, f"The voice reconstructs {az:.1f}σ worse than real speech the model learned.")
    if raw.sync_offset is not None:
        off = raw.sync_offset
        # An offset is only claimed when the alignment model and lip-from-voice each find it on their own (a bundle
        # without lip-from-voice has one cue, which then stands alone).
        m, v = raw.sync_offset_model, raw.lipvoice_offset
        agree = offset_cues_agree(raw) is not False
        poorly = f"Mouth movements match the speech poorly ({sz or 0:.1f}σ below real clips)."
        if not agree:  # whatever the fused offset, neither "in step" nor "out of step" is claimed
            items.append(
                (
                    0,
                    0.0,
                    f"The two lip-sync cues disagree about the audio offset (alignment model: {(m or 0) / fps:+.2f} s,"
                    f" mouth opening vs voice: {(v or 0) / fps:+.2f} s), so no offset is claimed.",
                )
            )
            if sz is not None and sz >= REASON_Z:
                notable("sync", sz, poorly)
        elif abs(off) >= CLEAR_OFFSET_FRAMES or (abs(off) >= 2 and (sz or 0) >= 1.0):
            lead = "the lips lead the speech" if off > 0 else "the speech leads the lips"
            notable(
                "sync",
                max(sz or 0, 2.0),
                f"Lip movements and speech are out of step: {lead} by {abs(off) / fps:.2f} s.",
            )
        elif sz is not None and sz >= REASON_Z:
            notable("sync", sz, poorly)
        elif sz is not None and driver == "sync" and abs(off) <= 1:
            notable(
                "sync",
                sz,
                f"Lip movements and speech are in step (no audio offset), but they match {_how(sz)} less closely"
                f" than in the average real clip ({sz:+.1f}σ).",
            )
        elif sz is not None and sz <= 1.0 and abs(off) <= 1:
            items.append((2, -sz, "Lip movements and speech are in step, as in real footage."))
    if driver is not None and driver not in stated and (dz := z.get(driver)) is not None:
        items.append((0, contrib[driver], _DRIVER_SENTENCES[driver].format(how=_how(dz), z=dz) + WEIGHS_MOST))
    items.sort(key=lambda t: (t[0], -t[1]))
    out = [s for _, _, s in items]
    if not out:
        out = ["No single piece of evidence stands out from real footage."]
    if verdict == "uncertain":
        out.append("The combined evidence is between what real clips and manipulated clips usually show.")
    return out


def learned_reasons(zh: dict[str, float | None], learned: LearnedHead, raw: RawEvidence, verdict: str) -> list[str]:
    """Under a learned head: the evidence that pushed the score up most, in words that follow the direction the fusion
    learned, then a clear audio offset if both lip-sync cues find it."""
    contrib = learned.head.contributions(zh)
    top = sorted((k for k, v in contrib.items() if v >= LEARNED_REASON_MIN), key=lambda k: -contrib[k])
    out = []
    for i, k in enumerate(top[:MAX_LEARNED_REASONS]):
        d = 1 if learned.fusion.norms[k].direction > 0 else -1
        most = WEIGHS_MOST if i == 0 and verdict != "real" else ""
        out.append(f"{EVIDENCE_SENTENCES[(k, d)]} ({zh[k]:+.1f}σ){most}")
    off = raw.sync_offset
    if off is not None and abs(off) >= CLEAR_OFFSET_FRAMES and offset_cues_agree(raw) is not False:
        lead = "the lips lead the speech" if off > 0 else "the speech leads the lips"
        out.append(f"Lip movements and speech are out of step: {lead} by {abs(off) / raw.fps:.2f} s.")
    if not out:
        out = ["Nothing in the face or voice differs much from real footage of similar quality."]
    if verdict == "uncertain":
        out.append("The combined evidence is between what real clips and manipulated clips usually show.")
    return out


@dataclass
class Scores:
    """Everything scoring decided about one clip; the detector copies it into the Report."""

    z: dict[str, float | None]  # per clip, one per EVIDENCE
    frame_face: np.ndarray  # face z-score per sampled frame (``raw.frame_idx`` order)
    seconds: list[TimelinePoint]  # ``t`` from the first analysed frame
    head: Head | None  # None: nothing this bundle can score
    manipulation_score: float  # 0.5 without a head (and then no lines: see ``lines``)
    lines: dict[str, float]  # {"uncertain", "fake"} after widening; empty without a head
    verdict: str
    reasons: list[str]
    contributions: dict[str, float] = field(default_factory=dict)


def score(raw: RawEvidence, calibration: dict[str, Any], warnings: list[ReportWarning]) -> Scores:
    """Raw evidence -> z-scores -> the fitting head's score -> lines (widened by :data:`WIDENING` warnings) -> verdict
    and the reasons behind it."""
    z = normalize(raw, calibration)
    codes = [w.code for w in warnings]
    learned = load_learned(calibration)
    lh: LearnedHead | None = None
    kind = "photo" if raw.is_image else "video"
    zh: dict[str, float | None] = z
    if learned and z.get("face") is None:  # the face is the way in: a voice alone is not judged
        head = None
    elif kind in learned:
        lh = learned[kind]
        head, zh = lh.head, dict(lh.zs(z, raw))
    else:  # a bundle without learned heads (or none for this kind of file): the equal/poe heads
        head = select_head(load_heads(calibration), z)
    fuse: Callable[[dict[str, float | None]], float] | None = None
    if lh is not None:
        fuse = lambda zs: lh.head.probability(lh.zs(zs, raw))  # noqa: E731
    elif head is not None:
        fuse = head.probability
    if head is None:
        # No score and no lines: a 50 % drawn between lines at 0 % and 100 % read as a measurement.
        what = next((why for code, why in _NO_SCORE_WHY if code in codes), "no usable evidence")
        reasons = (
            [NO_FACE_NO_VERDICT]
            if learned
            else [
                f"There was nothing this model can score ({what}; lip-sync needs a visible face and speech), "
                "so no verdict is given."
            ]
        )
        probability, lines, verdict = 0.5, {}, "uncertain"
    else:
        probability = head.probability(zh)
        unc, fake = thresholds_with_warnings(head, codes)
        lines = {"uncertain": round(float(unc), 4), "fake": round(min(fake, 1.0), 4)}
        verdict = verdict_for(probability, unc, fake)
        if lh is not None:
            reasons = learned_reasons(zh, lh, raw, verdict)
        else:
            region = None
            if raw.zmap is not None and len(raw.zmap):
                region = worst_region(raw.zmap.mean(axis=0), face_region(raw.zmap.shape[-1]))
            reasons = reasons_for(z, raw, verdict, raw.fps, region, head)
        if any(c in WIDENING for c in codes):
            reasons.append(WIDENED_REASON)
    return Scores(
        z=z,
        frame_face=frame_face_z(raw, calibration) if raw.frame_idx.size else np.zeros(0),
        seconds=per_second(raw, calibration, z, fuse),
        head=head,
        manipulation_score=float(probability),
        lines=lines,
        verdict=verdict,
        reasons=reasons,
        contributions=head.contributions(zh) if head is not None else {},
    )
