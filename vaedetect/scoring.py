"""Scoring: raw evidence -> z-scores against real data -> fused, calibrated probability -> verdict, reasons, warnings.

Fusion is a logistic model over the per-evidence z-scores. In log-odds space that is a product of experts: each
available evidence multiplies in its own likelihood ratio, and a missing one contributes nothing. The teacher head
sees every evidence; students (distilled from the teacher's outputs on the same pseudo-fakes) cover the subsets a
photo, a silent clip or a faceless clip leave, so each input is scored with what applies and the Report says which
evidence was unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vaedetect.evidence import RawEvidence
from vaedetect.report import WIDENING

EVIDENCE = ("face", "latent", "temporal", "audio", "sync", "blend")
# +1: larger raw value is more anomalous; -1: smaller is (sync: offset 0 should clearly win).
DIRECTION = {"face": 1.0, "latent": 1.0, "temporal": 1.0, "audio": 1.0, "sync": -1.0, "blend": 1.0}
REASON_Z = 2.0
# An estimated audio offset this large (0.2 s at 25 fps) is stated on its own: held-out real clips miss by at most a
# few frames (a speaker's own lip-to-sound lag), and broadcast tolerance for A/V skew is well under 0.2 s.
CLEAR_OFFSET_FRAMES = 5
AGREE_FRAMES = 2  # the two offset cues agree when their own best offsets are this close
WIDEN_FRACTION = 0.25


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


def normalize(raw: RawEvidence, calibration: dict[str, Any]) -> dict[str, float | None]:
    """z-scores oriented so that larger = more anomalous than held-out real clips."""
    out: dict[str, float | None] = {}
    norms = calibration.get("evidence", {})
    for name in EVIDENCE:
        value = getattr(raw, name)
        st = norms.get(name)
        if value is None or st is None:
            out[name] = None
            continue
        out[name] = float(DIRECTION[name] * (value - st["mean"]) / max(st["std"], 1e-6))
    return out


def load_heads(calibration: dict[str, Any]) -> dict[str, Head]:
    """Fusion heads; an uninformative one is left out (no verdict beats a constant one)."""
    heads = {name: Head.from_json(name, d) for name, d in calibration.get("heads", {}).items()}
    return {name: h for name, h in heads.items() if h.informative}


def select_head(heads: dict[str, Head], z: dict[str, float | None]) -> Head | None:
    """The head using the most evidence among those whose every input is available."""
    available = {k for k, v in z.items() if v is not None}
    usable = [h for h in heads.values() if set(h.features) <= available]
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
