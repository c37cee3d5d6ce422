"""Scoring: raw evidence -> z-scores against real data -> fused, calibrated score -> lines, verdict and reasons.

The only module that z-scores: per clip, per sampled frame and per second, each oriented by :data:`DIRECTION` so that
larger always means "less like held-out real clips". :func:`score` is the entry point; the rest are its pieces
(training calls :func:`normalize` and the heads directly to fit them).

Fusion is a logistic model over z-scores, in one of two forms. A bundle with a ``learned`` calibration block scores
with :class:`LearnedHead`: the learned fusion of :mod:`vaedetect.fusion` (quality-corrected, oriented z-scores of the
evidence and the region cues, non-negative weights fitted on labelled fakes of many families), one head per kind of
file, and no verdict without a face. Otherwise the bundle's equal (or pseudo-fake-fitted) heads score the evidence the
input offers. In log-odds space either is a sum of each evidence's push, and a missing evidence contributes nothing.

Reasons come in two lists: what moved the score the way the verdict went, and traces too weak to count. A concrete
finding (:data:`FINDINGS`: e.g. a lip-speech shift both lip-sync cues agree on) is named first and keeps the verdict at
"uncertain" or above, whatever the score: the score ranks files, a finding is a specific thing a person can check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from vaedetect.evidence import RawEvidence, face_region, speaker
from vaedetect.explain import (
    AWAY_SENTENCE,
    BETWEEN_REASON,
    EVIDENCE_NAMES,
    EVIDENCE_SENTENCES,
    NOTHING_FOUND_REASON,
    SHIFT_FINDING,
    shift_words,
    sigma,
)
from vaedetect.fusion import LearnedFusion
from vaedetect.models.bundle import tier_rates
from vaedetect.report import EVIDENCE, WIDENING, Finding, ReportWarning, TimelinePoint

__all__ = ["DIRECTION", "EVIDENCE", "FINDINGS", "Head", "Reasons", "Scores", "normalize", "score"]

# +1: larger raw value is more anomalous; -1: smaller is (sync: offset 0 should clearly win).
DIRECTION = {"face": 1.0, "latent": 1.0, "temporal": 1.0, "audio": 1.0, "sync": -1.0, "blend": 1.0}
REASON_Z = 2.0
# An estimated audio offset this large (0.2 s at 25 fps) is stated on its own: held-out real clips miss by at most a
# few frames (a speaker's own lip-to-sound lag), and broadcast tolerance for A/V skew is well under 0.2 s.
CLEAR_OFFSET_FRAMES = 5
AGREE_FRAMES = 2  # the two offset cues agree when their own best offsets are this close
WIDEN_FRACTION = 0.25
WIDENED_REASON = "The limits listed below move the lines apart: a sign has to be stronger to raise the verdict."
LEARNED_REASON_MIN = 0.25  # log-odds an evidence must add under a learned head to be named as a reason
LEARNED_TRACE_MIN = 0.1  # ... and to be listed at all, as a trace too weak to count
MAX_LEARNED_REASONS = 3
# Why a bundle without learned heads has nothing to score, by the warning that says so (first match wins).
_NO_SCORE_WHY = (("no_face", "no face"), ("faces_too_small", "faces too small"))
NO_FACE_NO_VERDICT = (
    "No face could be examined, so no verdict is given: this model does not judge a voice on its own (its voice"
    " evidence has not been calibrated on labelled synthetic voices)."
)
NO_FACE_NO_VOICE = "No face could be examined, so no verdict is given."
FLOOR_VERDICT = "uncertain"  # the lowest verdict a file with a finding can get


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

    def _zs(self, z: dict[str, float | None], raw: RawEvidence) -> dict[str, float | None]:
        # The inputs the fusion reads: the cues, the raw evidence values, then z (which may carry one second's own).
        return self.fusion.zs({**raw.cues, **raw.values, **z}, raw.quality)

    def zs(self, z: dict[str, float | None], raw: RawEvidence) -> dict[str, float]:
        return {k: 0.0 if v is None else v for k, v in self._zs(z, raw).items()}

    def measured(self, z: dict[str, float | None], raw: RawEvidence) -> dict[str, float]:
        """:meth:`zs` without the evidence this file lacks (scored as 0): the σ of each check the file had."""
        return {k: v for k, v in self._zs(z, raw).items() if v is not None}


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


# -- findings -----------------------------------------------------------------------------------------------------


def shift_finding(raw: RawEvidence, z: dict[str, float | None]) -> Finding | None:
    """A clear lip-speech shift that the alignment model and lip-from-voice each find on their own (with one cue only,
    or cues that disagree, the shift stays a reason or is not claimed at all)."""
    off = raw.sync_offset
    if off is None or abs(off) < CLEAR_OFFSET_FRAMES or offset_cues_agree(raw) is not True:
        return None
    return Finding("audio_shift", SHIFT_FINDING.format(shift=shift_words(off, raw.fps)))


def speaker_finding(raw: RawEvidence, z: dict[str, float | None], calibration: dict[str, Any]) -> Finding | None:
    """The voice changes speaker more than in any real clip the bundle's line was set on (:mod:`~vaedetect.evidence
    .speaker`)."""
    sentence = speaker.finding(raw, calibration)
    return None if sentence is None else Finding("speaker_change", sentence)


Check = Callable[[RawEvidence, dict[str, float | None], dict[str, Any]], Finding | None]
# What is looked for, in the order the findings are named. Each entry reads the clip's raw evidence, per-clip z-scores
# and the bundle's calibration and returns a Finding or None; adding one is one line here.
FINDINGS: tuple[Check, ...] = (lambda raw, z, _cal: shift_finding(raw, z), speaker_finding)


def findings_for(raw: RawEvidence, z: dict[str, float | None], calibration: dict[str, Any]) -> list[Finding]:
    return [f for check in FINDINGS if (f := check(raw, z, calibration)) is not None]


def floored(verdict: str, findings: list[Finding]) -> str:
    """A finding keeps the verdict at :data:`FLOOR_VERDICT` or above: a specific problem is worth a closer look even
    when the score (which ranks files) stays below the line."""
    return FLOOR_VERDICT if findings and verdict == "real" else verdict


# -- reasons ------------------------------------------------------------------------------------------------------


class Reasons(NamedTuple):
    """Sentences behind a verdict: ``moved`` pushed the score the way the verdict went (the finding's sentences come
    before them in the report); ``weak`` are traces too weak to count, or evidence the verdict does not count."""

    moved: list[str]
    weak: list[str]


# Sentences for an evidence that is the verdict's main driver without being striking on its own (|z| < REASON_Z): the
# verdict still has to be explained by what moved it, in words that do not overstate a small deviation.
_DRIVER_SENTENCES = {
    "face": "The face reconstructs {how} worse than the average real face ({z}).",
    "latent": "The face lies {how} further from real faces in the model's latent space than the average real face"
    " ({z}).",
    "temporal": "The face changes from frame to frame {how} more than in the average real clip ({z}).",
    "blend": "The face shows {how} stronger blending traces than the average real face ({z}).",
    "audio": "The voice reconstructs {how} worse than the average real speech ({z}).",
    "sync": "Mouth movements match the speech {how} less closely than in the average real clip ({z}).",
}
_DRIVER_GENERIC = "{name}: {how} further from real footage than the average real file ({z})."
WEIGHS_MOST = " This weighs most in the verdict."
NOT_COUNTED = " Not counted in the verdict: in calibration this evidence did not separate real clips from fakes."


def _how(z: float) -> str:
    return "a little" if z < 1.0 else "noticeably"


def _driver_sentence(key: str, z: float) -> str:
    template = _DRIVER_SENTENCES.get(key, _DRIVER_GENERIC)
    return template.format(how=_how(z), z=sigma(z), name=EVIDENCE_NAMES.get(key, key))


def reasons_for(
    z: dict[str, float | None],
    raw: RawEvidence,
    verdict: str,
    fps: float,
    region: str | None,
    head: Head | None = None,
    between: bool | None = None,
) -> Reasons:
    """Plain-language sentences under a bundle's equal or pseudo-fake-fitted heads.

    With the scoring ``head`` the sentences follow each evidence's share of the fused log-odds, so the reasons
    explain the verdict actually given: for "uncertain" and "fake" what pushed towards "manipulated" (the largest push
    is always named, softly worded when it is not striking on its own; nothing reassuring is said about it), with
    striking evidence the head does not count among the weak traces; for "real" what looked like real footage, with
    the signs that did not reach the line as weak traces. ``between``: the score itself fell between the lines (False
    when a finding raised the verdict), which the last sentence says. A shift that is a finding is left to it.
    """
    between = verdict == "uncertain" if between is None else between
    contrib = head.contributions(z) if head is not None else {}  # counted evidence only
    driver = None
    if verdict != "real" and contrib:
        best = max(contrib, key=contrib.__getitem__)
        driver = best if contrib[best] > 0 else None

    # (group, strength, sentence): group 0 = counted or no head given, 1 = shown but not counted, 2 = reassuring,
    # 3 = neither (a claim withheld).
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
            notable(
                "face",
                fz,
                f"The face reconstructs {sigma(fz, False)} worse than the real faces the model learned{where}.",
            )
        elif fz <= 1.0 and driver != "face":
            items.append((2, -fz, f"The face reconstructs like real faces do ({sigma(fz)})."))
    if bz is not None and bz >= REASON_Z:
        notable(
            "blend",
            bz,
            "The face shows blending traces (a seam or colour step inside the face),"
            f" {sigma(bz, False)} above real faces.",
        )
    if lz is not None and lz >= REASON_Z:
        notable("latent", lz, f"The face lies far from real faces in the model's latent space ({sigma(lz)}).")
    if tz is not None and tz >= REASON_Z:
        notable("temporal", tz, f"The face changes from frame to frame more than in real footage ({sigma(tz)}).")
    if az is not None and az >= REASON_Z:
        notable("audio", az, f"The voice reconstructs {sigma(az, False)} worse than real speech the model learned.")
    if raw.sync_offset is not None:
        off = raw.sync_offset
        # An offset is only claimed when the alignment model and lip-from-voice each find it on their own (a bundle
        # without lip-from-voice has one cue, which then stands alone).
        m, v = raw.sync_offset_model, raw.lipvoice_offset
        agree = offset_cues_agree(raw) is not False
        poorly = f"Mouth movements match the speech poorly ({sigma(sz or 0, False)} below real clips)."
        if not agree:  # whatever the fused offset, neither "in step" nor "out of step" is claimed
            items.append(
                (
                    3,
                    0.0,
                    f"The two lip-sync cues disagree about the audio offset (alignment model: {(m or 0) / fps:+.2f} s,"
                    f" mouth opening vs voice: {(v or 0) / fps:+.2f} s), so no offset is claimed.",
                )
            )
            if sz is not None and sz >= REASON_Z:
                notable("sync", sz, poorly)
        elif shift_finding(raw, z) is not None:
            stated.add("sync")  # named first, as a finding
        elif abs(off) >= CLEAR_OFFSET_FRAMES or (abs(off) >= 2 and (sz or 0) >= 1.0):
            notable("sync", max(sz or 0, 2.0), f"Lip movements and speech are out of step: {shift_words(off, fps)}.")
        elif sz is not None and sz >= REASON_Z:
            notable("sync", sz, poorly)
        elif sz is not None and driver == "sync" and abs(off) <= 1:
            notable(
                "sync",
                sz,
                f"Lip movements and speech are in step (no audio offset), but they match {_how(sz)} less closely"
                f" than in the average real clip ({sigma(sz)}).",
            )
        elif sz is not None and sz <= 1.0 and abs(off) <= 1:
            items.append((2, -sz, "Lip movements and speech are in step, as in real footage."))
    if driver is not None and driver not in stated and (dz := z.get(driver)) is not None:
        items.append((0, contrib[driver], _driver_sentence(driver, dz) + WEIGHS_MOST))
    items.sort(key=lambda t: (t[0], -t[1]))
    towards = [s for g, _, s in items if g == 0]
    uncounted = [s for g, _, s in items if g == 1]
    reassuring = [s for g, _, s in items if g == 2]
    withheld = [s for g, _, s in items if g == 3]
    if verdict == "real":
        return Reasons(reassuring or [NOTHING_FOUND_REASON], towards + uncounted + withheld)
    moved = towards + ([BETWEEN_REASON] if between else [])
    return Reasons(moved, uncounted + withheld)


def learned_reasons(
    zh: dict[str, float | None],
    learned: LearnedHead,
    raw: RawEvidence,
    verdict: str,
    between: bool | None = None,
) -> Reasons:
    """Under a learned head, each sentence in the direction the fusion learned and with the σ it read.

    For "uncertain" and "fake": the evidence that pushed the score up most (the first "weighs most"), then a clear
    audio offset when it is not already a finding; weak traces are smaller pushes up. For "real": the evidence that
    pushed the score down most, with every push up as a weak trace. ``between`` as in :func:`reasons_for`.
    """
    between = verdict == "uncertain" if between is None else between
    contrib = learned.head.contributions(zh)
    up = sorted((k for k, v in contrib.items() if v >= LEARNED_TRACE_MIN), key=lambda k: -contrib[k])
    down = sorted((k for k, v in contrib.items() if v <= -LEARNED_REASON_MIN), key=lambda k: contrib[k])

    def towards_fakes(k: str) -> str:
        d = 1 if learned.fusion.norms[k].direction > 0 else -1
        sentence = EVIDENCE_SENTENCES.get((k, d)) or f"{EVIDENCE_NAMES.get(k, k)} is unlike real footage."
        return f"{sentence} ({sigma(zh[k] or 0.0)})"

    def away(k: str) -> str:
        return AWAY_SENTENCE.format(name=EVIDENCE_NAMES.get(k, k), z=sigma(zh[k] or 0.0))

    strong = [k for k in up if contrib[k] >= LEARNED_REASON_MIN]
    shift = []
    off = raw.sync_offset
    one_cue = offset_cues_agree(raw) is None
    if off is not None and abs(off) >= CLEAR_OFFSET_FRAMES and one_cue:  # with both cues agreeing it is a finding
        shift = [f"Lip movements and speech are out of step: {shift_words(off, raw.fps)}."]
    if verdict == "real":
        moved = [away(k) for k in down[:MAX_LEARNED_REASONS]] or [NOTHING_FOUND_REASON]
        return Reasons(moved, shift + [towards_fakes(k) for k in up[:MAX_LEARNED_REASONS]])
    moved = [towards_fakes(k) + (WEIGHS_MOST if i == 0 else "") for i, k in enumerate(strong[:MAX_LEARNED_REASONS])]
    weak = [towards_fakes(k) for k in up if k not in strong][:MAX_LEARNED_REASONS]
    return Reasons(moved + shift + ([BETWEEN_REASON] if between else []), weak)


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
    reasons: list[str]  # the findings' sentences first, then what moved the score the way the verdict went
    contributions: dict[str, float] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    weak_traces: list[str] = field(default_factory=list)
    checks: dict[str, float] = field(default_factory=dict)  # each check's z as the verdict read it (the reasons' σ)
    tier_rates: dict[str, Any] | None = None  # measured verdict shares for this kind of file, if the bundle has them
    no_verdict: str | None = None  # why no verdict was given ("no_face", "faces_too_small", "nothing_to_score")


def score(raw: RawEvidence, calibration: dict[str, Any], warnings: list[ReportWarning]) -> Scores:
    """Raw evidence -> z-scores -> the fitting head's score -> lines (widened by :data:`WIDENING` warnings) -> verdict
    (raised to "uncertain" by a finding) and the reasons behind it."""
    z = normalize(raw, calibration)
    codes = [w.code for w in warnings]
    learned = load_learned(calibration)
    lh: LearnedHead | None = None
    kind = "photo" if raw.is_image else "video"
    zh: dict[str, float | None] = z
    checks = {k: v for k, v in z.items() if v is not None}
    if learned and z.get("face") is None:  # the face is the way in: a voice alone is not judged
        head = None
    elif kind in learned:
        lh = learned[kind]
        head, zh = lh.head, dict(lh.zs(z, raw))
        checks = lh.measured(z, raw)
    else:  # a bundle without learned heads (or none for this kind of file): the equal/poe heads
        head = select_head(load_heads(calibration), z)
    fuse: Callable[[dict[str, float | None]], float] | None = None
    if lh is not None:
        fuse = lambda zs: lh.head.probability(lh.zs(zs, raw))  # noqa: E731
    elif head is not None:
        fuse = head.probability
    findings = findings_for(raw, z, calibration)
    weak: list[str] = []
    no_verdict = None
    if head is None:
        # No score and no lines: a 50 % drawn between lines at 0 % and 100 % read as a measurement.
        no_verdict = next((code for code, _ in _NO_SCORE_WHY if code in codes), "nothing_to_score")
        what = next((why for code, why in _NO_SCORE_WHY if code in codes), "no usable evidence")
        if learned:
            moved = [NO_FACE_NO_VERDICT if raw.has_audio or raw.audio is not None else NO_FACE_NO_VOICE]
        else:
            moved = [
                f"There was nothing this model can score ({what}; lip-sync needs a visible face and speech), "
                "so no verdict is given."
            ]
        probability, lines, verdict = 0.5, {}, "uncertain"
    else:
        probability = head.probability(zh)
        unc, fake = thresholds_with_warnings(head, codes)
        lines = {"uncertain": round(float(unc), 4), "fake": round(min(fake, 1.0), 4)}
        scored = verdict_for(probability, unc, fake)
        verdict = floored(scored, findings)
        between = scored == "uncertain"
        if lh is not None:
            moved, weak = learned_reasons(zh, lh, raw, verdict, between)
        else:
            region = None
            if raw.zmap is not None and len(raw.zmap):
                region = worst_region(raw.zmap.mean(axis=0), face_region(raw.zmap.shape[-1]))
            moved, weak = reasons_for(z, raw, verdict, raw.fps, region, head, between)
        if any(c in WIDENING for c in codes):
            moved.append(WIDENED_REASON)
    return Scores(
        z=z,
        frame_face=frame_face_z(raw, calibration) if raw.frame_idx.size else np.zeros(0),
        seconds=per_second(raw, calibration, z, fuse),
        head=head,
        manipulation_score=float(probability),
        lines=lines,
        verdict=verdict,
        reasons=[f.message for f in findings] + moved,
        contributions=head.contributions(zh) if head is not None else {},
        findings=findings,
        weak_traces=weak,
        checks={k: round(float(v), 3) for k, v in checks.items()},
        tier_rates=tier_rates(calibration, kind),
        no_verdict=no_verdict,
    )
