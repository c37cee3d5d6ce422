"""The Report: everything an analysis found, in one JSON-serialisable dataclass.

The CLI writes it with ``--json`` and the UI draws it. Image evidence (face crop, reconstruction, error heatmap) is
kept as arrays for the UI. In the JSON each image field holds a PNG: a file path once :meth:`Report.save_images` has
written them, inline base64 (``data:image/png;base64,...``) with ``to_dict(images=True)``, and is left out otherwise,
so no field is ever an empty promise.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

VERDICTS = ("real", "uncertain", "fake")
# Every evidence a report can score, in the order ``Report.scores`` (and so the JSON) lists them. The one definition:
# scoring, evaluation and training import it from here, because the Report is the contract they all feed.
EVIDENCE = ("face", "latent", "temporal", "audio", "sync", "blend")
# 2: ``contributions``; 3: ``media.quantizer`` and ``media.jpeg_quality``; 4: ``fake_probability`` renamed
# ``manipulation_score`` (it ranks files against the lines; it was never a chance of being fake);
# 5: ``media.cut_to_limit``, ``media.incomplete`` and ``media.promised_duration_s`` (older reports read with defaults);
# 6: ``findings``, ``weak_traces``, ``checks``, ``tier_rates``, ``no_verdict``, ``model.summary`` and, in the JSON
# only, ``verdict_words`` (the words every output shows for the verdict code; the codes themselves are unchanged).
SCHEMA_VERSION = 6
# Warnings that make a verdict less certain: the uncertain band widens instead of the detector guessing.
WIDENING = frozenset({"low_resolution", "heavy_compression", "short_clip", "multiple_faces", "partial_face"})


@dataclass
class ReportWarning:
    """Something that limits how far the verdict can be trusted (``no_face``, ``no_speech``, ...)."""

    code: str
    message: str


@dataclass
class Finding:
    """Something concrete the checks found (a lip-speech shift both lip-sync cues agree on, ...): named first among
    the reasons, and it raises the verdict to at least "uncertain" (``scoring.FINDINGS`` lists what is looked for)."""

    code: str
    message: str


@dataclass
class SyncResult:
    """Lip-speech alignment: the best audio offset and how confident the alignment model is over time.

    ``offset_frames`` follows the SyncNet convention: positive means the audio lags the video. It is where the
    alignment model's mismatch (``mean_distance_by_offset``, lower is better) and the lip-from-voice correlation
    (``lipvoice_corr_by_offset``, higher is better; empty for bundles without it) agree best.
    """

    offset_frames: int
    offset_s: float
    confidence: float
    curve_t: list[float]
    curve_confidence: list[float]
    offsets: list[int]
    mean_distance_by_offset: list[float]
    lip_t: list[float] = field(default_factory=list)
    lip_opening: list[float] = field(default_factory=list)
    loudness_db: list[float] = field(default_factory=list)
    lip_loudness_corr: float | None = None
    lipvoice_corr_by_offset: list[float | None] = field(default_factory=list)
    # False when the two cues put the offset in different places: the UI then claims no offset. None: one cue only.
    offset_cues_agree: bool | None = None


@dataclass
class FrameEvidence:
    """One sampled frame: where it lands on the latent map and how anomalous its face is."""

    time_s: float
    face_found: bool
    face_score: float | None = None
    map_xy: tuple[float, float] | None = None
    crop_png: str | None = None
    reconstruction_png: str | None = None
    heatmap_png: str | None = None
    # Arrays for the UI; never serialised.
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)
    reconstruction: np.ndarray | None = field(default=None, repr=False, compare=False)
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass
class TimelinePoint:
    """Per-second evidence, so a user can see *when* a clip looks off."""

    t: float
    face: float | None = None
    sync: float | None = None
    fused: float | None = None


@dataclass
class MediaSummary:
    kind: str
    duration_s: float
    analysed_duration_s: float
    fps: float
    width: int
    height: int
    has_audio: bool
    face_coverage: float
    max_faces: int
    speech_fraction: float | None = None
    quantizer: float | None = None  # median H.264 picture quantiser (0-51, higher = coarser); None if not reported
    jpeg_quality: float | None = None  # a JPEG photo's estimated save quality (1-100); None for other files
    cut_to_limit: bool = False  # longer than the analysis limit: only its start was analysed
    incomplete: bool = False  # the readable part ends clearly before what the file promises (a cut-off download)
    promised_duration_s: float | None = None  # what the file's index promises, when incomplete


@dataclass
class ModelInfo:
    name: str
    revision: str | None
    source: str
    # Identifies a bundle without a revision (bundled or local): the first 12 hex digits of its calibration's SHA-256.
    fingerprint: str | None = None
    card: str | None = None  # the model card's URL (Hub bundles); a local bundle's card is its README.md
    # The model card in a few sentences (``model_card.summary``), so a report that travels alone says what made it.
    summary: str | None = None


@dataclass
class Report:
    verdict: str
    # 0..1, ranks files; read against ``thresholds`` (this file's lines), not as the chance that the file is fake.
    manipulation_score: float
    reasons: list[str]
    warnings: list[ReportWarning]
    scores: dict[str, float | None]
    unavailable: dict[str, str]
    thresholds: dict[str, float]
    sync: SyncResult | None
    timeline: list[TimelinePoint]
    frames: list[FrameEvidence]
    media: MediaSummary
    model: ModelInfo
    timings: dict[str, float]
    # Each counted evidence's share of the fused log-odds (positive: towards "manipulated"); evidence the scoring head
    # does not use is absent. What the reasons are ordered by, so a reader can see what moved the verdict.
    contributions: dict[str, float] = field(default_factory=dict)
    # Concrete findings (also the first ``reasons``); each one keeps the verdict at "uncertain" or above.
    findings: list[Finding] = field(default_factory=list)
    # Signs that were too weak to count for the verdict (``reasons`` holds what moved it), in words.
    weak_traces: list[str] = field(default_factory=list)
    # Each check's z-score as the verdict read it (quality-corrected under a learned head): the σ the reasons quote.
    checks: dict[str, float] = field(default_factory=dict)
    # How often each verdict was given, for this kind of file, to held-out fakes and real files (the bundle's
    # ``calibration["tier_rates"][kind]``); None when the bundle has not measured it.
    tier_rates: dict[str, Any] | None = None
    # Why no verdict was given ("no_face", "faces_too_small", "nothing_to_score"); None when one was. The code
    # ``verdict`` then stays "uncertain" and ``thresholds`` is empty.
    no_verdict: str | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def judged(self) -> bool:
        """Whether a verdict was given at all (a file with no face to examine gets none)."""
        return self.no_verdict is None and bool(self.thresholds)

    def warning_codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def widening_warnings(self) -> list[ReportWarning]:
        """The warnings that moved this report's verdict lines apart (see ``scoring.thresholds_with_warnings``)."""
        return [w for w in self.warnings if w.code in WIDENING]

    def lines_widened(self) -> bool:
        return bool(self.widening_warnings())

    def pushes(self, min_abs: float = 0.005) -> list[tuple[str, float]]:
        """Counted evidence whose push on the verdict is not negligible, strongest towards "manipulated" first."""
        return sorted(((k, v) for k, v in self.contributions.items() if abs(v) >= min_abs), key=lambda kv: -kv[1])

    def to_dict(self, images: bool = False) -> dict[str, Any]:
        """Plain JSON types. ``images``: each frame's pictures inline as base64 PNG (a self-contained file)."""
        d = _jsonable(asdict(self, dict_factory=_drop_arrays))
        for fr, out in zip(self.frames, d["frames"], strict=True):
            for attr, key in _IMAGE_FIELDS.items():
                arr = getattr(fr, attr)
                if out.get(key) is None and images and arr is not None:
                    out[key] = png_data_uri(arr)
                if out.get(key) is None:
                    out.pop(key, None)
        if d.get("sync"):  # the contract's nested form of the per-time curve (architecture.md), next to the flat one
            d["sync"]["curve"] = {"t": d["sync"]["curve_t"], "confidence": d["sync"]["curve_confidence"]}
        from vaedetect.explain import verdict_words  # the words live with the other words; imported late (cycle)

        d["verdict_words"] = verdict_words(self)
        return d

    def to_json(self, indent: int | None = 2, images: bool = False) -> str:
        return json.dumps(self.to_dict(images=images), indent=indent, allow_nan=False)

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json())
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        data = dict(data)
        if "fake_probability" in data and "manipulation_score" not in data:  # a report written before schema 4
            data["manipulation_score"] = data.pop("fake_probability")
        data["warnings"] = [ReportWarning(**w) for w in data["warnings"]]
        data["findings"] = [Finding(**f) for f in data.get("findings", [])]
        if data.get("sync"):
            sync = {k: v for k, v in data["sync"].items() if k != "curve"}
            data["sync"] = SyncResult(**sync)
        else:
            data["sync"] = None
        data["timeline"] = [TimelinePoint(**p) for p in data["timeline"]]
        frames = []
        for f in data["frames"]:
            f = dict(f)
            if f.get("map_xy") is not None:
                f["map_xy"] = tuple(f["map_xy"])
            frames.append(FrameEvidence(**f))
        data["frames"] = frames
        data["media"] = MediaSummary(**data["media"])
        data["model"] = ModelInfo(**data["model"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.from_dict(json.loads(text))

    def save_images(self, folder: str | Path) -> None:
        """Write each frame's crop / reconstruction / heatmap as PNG and record the paths in the report."""
        from PIL import Image

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for i, fr in enumerate(self.frames):
            for attr, key in _IMAGE_FIELDS.items():
                arr = getattr(fr, attr)
                if arr is None:
                    continue
                out = folder / f"frame{i:03d}_{attr}.png"
                Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(out)
                setattr(fr, key, str(out))


_IMAGE_FIELDS = {"crop": "crop_png", "reconstruction": "reconstruction_png", "heatmap": "heatmap_png"}
_ARRAY_FIELDS = set(_IMAGE_FIELDS)


def png_data_uri(arr: np.ndarray) -> str:
    """An RGB/grey uint8 array as a ``data:image/png;base64,...`` URI (for JSON and the HTML report)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _drop_arrays(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: v for k, v in items if k not in _ARRAY_FIELDS}


def _jsonable(obj: Any) -> Any:
    """Plain Python types only, NaN/inf as null, so the JSON is strict and portable."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj
