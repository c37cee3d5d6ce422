"""A stand-in detector for UI tests: the real API's shape, plausible numbers and real image arrays.

It validates uploads with the real :func:`vaedetect.media.probe` when that module is importable, so bad files raise
the same user-facing :class:`~vaedetect.errors.InputError` the real detector would; the numbers are random but
deterministic per file content, so every widget has something realistic to draw.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from tqdm.auto import tqdm

from vaedetect.errors import EmptyFileError, InputError, NotMediaError
from vaedetect.report import (
    FrameEvidence,
    MediaSummary,
    ModelInfo,
    Report,
    ReportWarning,
    SyncResult,
    TimelinePoint,
)

THRESHOLDS = {"uncertain": 0.35, "fake": 0.7}
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
CROP_PX = 128


def _face() -> np.ndarray:
    """A real face (scikit-image's astronaut) if available, else a smooth synthetic blob."""
    try:
        from faces_factory import astronaut_face  # type: ignore[import-not-found]
    except ImportError:
        try:
            from tests.faces_factory import astronaut_face
        except ImportError:  # pragma: no cover - skimage missing
            astronaut_face = None
    if astronaut_face is not None:
        try:
            return cv2.resize(astronaut_face(), (CROP_PX, CROP_PX), interpolation=cv2.INTER_AREA)
        except Exception:  # pragma: no cover
            pass
    yy, xx = np.mgrid[0:CROP_PX, 0:CROP_PX] / CROP_PX
    img = np.stack([200 - 80 * yy, 160 - 60 * xx, 140 + 40 * yy * xx], -1)
    return img.clip(0, 255).astype(np.uint8)


def _heatmap_overlay(crop: np.ndarray, recon: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    err = np.abs(crop.astype(np.float32) - recon.astype(np.float32)).mean(-1)
    yy, xx = np.mgrid[0:CROP_PX, 0:CROP_PX]
    cy, cx = rng.uniform(0.4, 0.8) * CROP_PX, rng.uniform(0.3, 0.7) * CROP_PX
    err += 60 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (CROP_PX / 8) ** 2))
    norm = cv2.normalize(err, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(norm, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(crop, 0.5, colour, 0.5, 0)


class FakeDetector:
    """Same surface as the real Detector: ``analyze``, ``reference_map`` and the bundle attributes."""

    bundle_name = "fake-test-bundle"
    bundle_revision: str | None = "0123456789abcdef"
    bundle_fingerprint = "fedcba987654"
    card_url: str | None = None
    card_path: Path | None = None

    def __init__(self, delay_s: float = 0.0, seed: int = 0) -> None:
        self.delay_s = delay_s
        self.bundle = SimpleNamespace(calibration={"fake": True})  # what the app's examples cache keys on
        self.bundle_warnings: list[tuple[str, str]] = [
            ("checkpoint_fallback", "Test detector in use: the numbers on this page are made up.")
        ]
        self._face = _face()
        self._reference = self._make_reference(seed)

    @staticmethod
    def _make_reference(seed: int) -> dict:
        rng = np.random.default_rng(seed)
        real = rng.normal([0.0, 0.0], [1.2, 0.9], size=(600, 2))
        centres = {"self-blend": (4.0, 1.5), "cross-blend": (3.0, -3.0), "vae-regen": (-3.0, 3.5)}
        fakes, kinds = [], []
        for kind, c in centres.items():
            fakes.append(rng.normal(c, 0.8, size=(150, 2)))
            kinds += [kind] * 150
        return {"real_xy": real, "fake_xy": np.concatenate(fakes), "fake_kinds": kinds}

    def reference_map(self) -> dict:
        return self._reference

    # ------------------------------------------------------------------------------------------------------------

    def _probe(self, path: Path) -> tuple[str, float, float, int, int, bool]:
        """(kind, duration_s, fps, width, height, has_audio); raises InputError like the real detector."""
        try:
            from vaedetect import media
        except ImportError:  # pragma: no cover - media module not there yet
            media = None
        if media is not None:
            info = media.probe(path)
            return (
                info.kind,
                float(info.duration_s),
                float(info.source_fps or 25.0),
                int(info.width),
                int(info.height),
                bool(info.has_audio),
            )
        if not path.exists() or path.stat().st_size == 0:  # pragma: no cover
            raise EmptyFileError("This file is empty (0 bytes). Please upload the video again.")
        head = path.read_bytes()[:64]
        if path.suffix.lower() in _IMAGE_SUFFIXES:  # pragma: no cover
            return "image", 0.0, 0.0, 640, 480, False
        if b"ftyp" not in head and not head.startswith(b"\x1aE\xdf\xa3"):  # pragma: no cover
            raise NotMediaError("This file is not a video or photo that vaedetect can read.")
        return "video", 2.0, 25.0, 320, 240, True  # pragma: no cover

    def analyze(self, path: str, progress=None) -> Report:
        p = Path(path)
        if not p.exists():
            raise InputError("The uploaded file could not be found. Please upload it again.")
        t0 = time.perf_counter()
        kind, duration, fps, width, height, has_audio = self._probe(p)
        with p.open("rb") as fh:
            digest = hashlib.sha256(fh.read(1 << 20)).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        is_image = kind == "image"
        analysed = 0.0 if is_image else min(duration, 60.0)

        n_frames = 1 if is_image else max(2, min(12, int(analysed * 2)))
        times = [0.0] if is_image else np.linspace(0, max(analysed - 0.04, 0.0), n_frames).round(2).tolist()
        prob = float(rng.beta(2, 3))
        frames = []
        for t in tqdm(times, desc="Faces", leave=False, disable=None):
            if self.delay_s:
                time.sleep(self.delay_s / len(times))
            shift = np.float32([[1, 0, rng.normal(0, 1.5)], [0, 1, rng.normal(0, 1.5)]])
            crop = cv2.warpAffine(self._face, shift, (CROP_PX, CROP_PX), borderMode=cv2.BORDER_REFLECT)
            recon = cv2.GaussianBlur(crop, (0, 0), 1.6)
            z = float(rng.normal(3 * prob, 0.7))
            frames.append(
                FrameEvidence(
                    time_s=float(t),
                    face_found=True,
                    face_score=z,
                    map_xy=(float(rng.normal(3 * prob, 0.8)), float(rng.normal(prob, 0.8))),
                    crop=crop,
                    reconstruction=recon,
                    heatmap=_heatmap_overlay(crop, recon, rng),
                )
            )

        sync = None
        unavailable: dict[str, str] = {}
        warnings: list[ReportWarning] = []
        if is_image:
            unavailable.update(
                audio="a photo has no sound.", sync="a photo has no speech.", temporal="a photo has no motion."
            )
        elif not has_audio:
            unavailable.update(audio="this clip has no sound track.", sync="this clip has no sound track.")
            warnings.append(ReportWarning("no_speech", "No speech was heard, so lip-sync could not be checked."))
        else:
            sync = self._sync(rng, analysed, fps)
        if width < 200 or height < 200:
            warnings.append(ReportWarning("low_resolution", "The picture is small; fine detail may be lost."))

        timeline = []
        if not is_image:
            for sec in range(max(1, int(np.ceil(analysed)))):
                # Like the real detector: face/sync as z-scores, fused as a probability.
                face = float(rng.normal(3 * prob - 0.5, 0.5))
                s = None if sync is None else float(rng.normal(2 * prob - 0.5, 0.6))
                fused = float(np.clip(prob + rng.normal(0, 0.08), 0, 1))
                timeline.append(TimelinePoint(t=float(sec), face=face, sync=s, fused=fused))

        verdict = "fake" if prob >= THRESHOLDS["fake"] else "uncertain" if prob >= THRESHOLDS["uncertain"] else "real"
        reasons = {
            "real": ["The face reconstructs about as well as real faces in the reference set."],
            "uncertain": ["Some frames reconstruct worse than typical real faces, but not clearly so."],
            "fake": ["Several frames reconstruct much worse than real faces, especially around the mouth."],
        }[verdict]
        if sync is not None:
            reasons.append(f"Lip movements and speech line up (confidence {sync.confidence:.1f}).")
        scores = {
            "face": float(np.mean([f.face_score for f in frames])),
            "latent": float(rng.normal(2 * prob, 0.5)),
            "audio": None if sync is None else float(rng.normal(prob, 0.5)),
            "sync": None if sync is None else float(rng.normal(prob, 0.5)),
            "temporal": None if is_image else float(rng.normal(prob, 0.5)),
        }
        # Like the real detector: each counted evidence's push in log-odds (face and lip-sync counted, voice not).
        contributions = {k: round(w * scores[k], 4) for k, w in (("face", 0.1), ("sync", 0.3)) if scores[k] is not None}
        return Report(
            verdict=verdict,
            manipulation_score=prob,
            reasons=reasons,
            warnings=warnings,
            scores=scores,
            contributions=contributions,
            unavailable=unavailable,
            thresholds=dict(THRESHOLDS),
            sync=sync,
            timeline=timeline,
            frames=frames,
            media=MediaSummary(
                kind=kind,
                duration_s=duration,
                analysed_duration_s=analysed,
                fps=fps,
                width=width,
                height=height,
                has_audio=has_audio,
                face_coverage=1.0,
                max_faces=1,
                speech_fraction=None if sync is None else 0.8,
            ),
            model=ModelInfo(name=self.bundle_name, revision=self.bundle_revision, source="tests/fakes.py"),
            timings={"total": time.perf_counter() - t0},
        )

    @staticmethod
    def _sync(rng: np.random.Generator, duration: float, fps: float) -> SyncResult:
        offset = int(rng.integers(-3, 4))
        offsets = list(range(-15, 16))
        dist = [float(8 + 0.04 * (o - offset) ** 2 + rng.normal(0, 0.15)) for o in offsets]
        dist[offsets.index(offset)] = min(dist) - 0.5
        curve_t = np.arange(0, max(duration, 0.4), 0.2).round(2).tolist()
        conf = np.clip(4 + np.cumsum(rng.normal(0, 0.4, len(curve_t))), 0, None)
        lip_t = np.arange(0, duration, 1 / 25).round(3).tolist()
        opening = np.clip(np.sin(np.arange(len(lip_t)) * 0.75), 0, None) * 10
        loud = -40 + 25 * opening / 10 + rng.normal(0, 2, len(lip_t))
        return SyncResult(
            offset_frames=offset,
            offset_s=offset / 25.0,
            confidence=float(conf.mean()),
            curve_t=[float(x) for x in curve_t],
            curve_confidence=[float(x) for x in conf],
            offsets=offsets,
            mean_distance_by_offset=dist,
            lip_t=[float(x) for x in lip_t],
            lip_opening=[float(x) for x in opening],
            loudness_db=[float(x) for x in loud],
            lip_loudness_corr=float(np.corrcoef(opening, loud)[0, 1]) if len(lip_t) > 2 else None,
            lipvoice_corr_by_offset=[None, *(float(0.6 - 0.03 * abs(o - offset)) for o in offsets[1:])],
        )


def fake_report(*, kind: str = "video", has_audio: bool = True, faces: bool = True, seed: int = 0) -> Report:
    """A Report without touching any file, for figure tests (``kind="image"`` for a photo)."""
    det = FakeDetector(seed=seed)
    rng = np.random.default_rng(seed)
    is_image = kind == "image"
    frames = []
    times = [0.0] if is_image else [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    for t in times:
        crop = det._face
        recon = cv2.GaussianBlur(crop, (0, 0), 1.6)
        frames.append(
            FrameEvidence(
                time_s=t,
                face_found=faces,
                face_score=float(rng.normal(1, 0.5)) if faces else None,
                map_xy=(float(rng.normal()), float(rng.normal())) if faces else None,
                crop=crop if faces else None,
                reconstruction=recon if faces else None,
                heatmap=_heatmap_overlay(crop, recon, rng) if faces else None,
            )
        )
    sync = det._sync(rng, 3.0, 25.0) if has_audio and not is_image else None
    timeline = [] if is_image else [TimelinePoint(t=float(s), face=0.8, sync=1.3 if sync else None, fused=0.25)
                                    for s in range(3)]  # fmt: skip
    warnings = [] if faces else [ReportWarning("no_face", "No face was found in this clip.")]
    unavailable = {} if sync else {"sync": "no speech was heard in this clip."}
    return Report(
        verdict="uncertain",
        manipulation_score=0.42,
        reasons=["Some frames reconstruct worse than typical real faces."],
        warnings=warnings,
        scores={"face": 1.1, "latent": 0.4, "audio": None, "sync": None, "temporal": 0.2},
        unavailable=unavailable,
        thresholds=dict(THRESHOLDS),
        sync=sync,
        timeline=timeline,
        frames=frames,
        media=MediaSummary(
            kind=kind,
            duration_s=0.0 if is_image else 3.0,
            analysed_duration_s=0.0 if is_image else 3.0,
            fps=0.0 if is_image else 25.0,
            width=640,
            height=480,
            has_audio=has_audio and not is_image,
            face_coverage=1.0 if faces else 0.0,
            max_faces=1 if faces else 0,
        ),
        model=ModelInfo(name="fake-test-bundle", revision="0123456789abcdef", source="tests"),
        timings={"total": 0.01},
    )
