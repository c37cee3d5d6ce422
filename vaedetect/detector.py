"""Detector: load a bundle once, then ``analyze(path) -> Report`` for clips and photos.

det = vaedetect.load_detector()            # bundled default, a registry name, a folder, or org/repo[@rev]
report = det.analyze("clip.mp4")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from vaedetect import hub, media
from vaedetect.audio import leading_silence_frames
from vaedetect.evidence import ClipArrays, RawEvidence, compute_evidence, face_region
from vaedetect.faces import FaceConfig
from vaedetect.ingest import Clip, ingest
from vaedetect.models import ModelBundle
from vaedetect.report import (
    FrameEvidence,
    MediaSummary,
    ModelInfo,
    Report,
    ReportWarning,
    SyncResult,
    TimelinePoint,
)
from vaedetect.scoring import (
    EVIDENCE,
    Head,
    load_heads,
    normalize,
    offset_cues_agree,
    reasons_for,
    select_head,
    thresholds_with_warnings,
    verdict_for,
    worst_region,
)

DISPLAY_PX = 192
HEATMAP_MAX_Z = 4.0
MAX_REPORT_FRAMES = 16
LOW_RES_FACE_PX = 80
SHORT_CLIP_S = 2.0
# Heavy compression, read from the H.264 quantiser when the decoder reports it. Re-encoding six held-out real clips
# at rising CRF (bench/compression.py; bench/results/2026-11-23-cpu.json): the face score *fell* (smoother faces redraw
# more easily: compression hides traces) and the lip-sync score drifted towards "out of step" from a median QP of ~35.
HEAVY_COMPRESSION_QP = 35.0
# JPEG photos by the quality they were saved at: re-saving eight held-out real photos, the face score stayed put
# down to quality 30 and rose (blocking) at 15 and below.
HEAVY_COMPRESSION_JPEG_QUALITY = 25.0
# Fallbacks without either (other codecs, PNG/WebP photos): bits per pixel, which also drops for clean static video.
HEAVY_COMPRESSION_BPP = 0.03
HEAVY_COMPRESSION_IMAGE_BPP = 0.35
KNN = 10

Progress = Callable[[float, str], None]


def load_detector(name_or_path: str | Path | None = None, *, threads: int | None = None) -> Detector:
    """Resolve a bundle (registry name, folder, ``org/repo[@rev]``; default: the bundled one) and load it once."""
    if threads:
        torch.set_num_threads(threads)
    resolved = hub.resolve_bundle(name_or_path)
    bundle = ModelBundle.load(resolved.path, resolved.config)
    return Detector(
        bundle,
        name=resolved.name,
        revision=resolved.revision,
        source=resolved.source,
        bundle_warnings=list(resolved.warnings),
    )


class Detector:
    """Runs ingest -> evidence -> scoring and assembles a :class:`~vaedetect.report.Report`.

    Thread-safe for concurrent ``analyze`` calls: the models are only read, and each call builds its own MediaPipe
    graphs.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        name: str = "default",
        revision: str | None = None,
        source: str = "local",
        bundle_warnings: list[tuple[str, str]] | None = None,
        limits: media.MediaLimits | None = None,
        face_config: FaceConfig | None = None,
    ) -> None:
        self.bundle = bundle
        self.heads: dict[str, Head] = load_heads(bundle.calibration)
        self.bundle_name = name
        self.bundle_revision = revision
        self.bundle_source = source
        self.bundle_warnings = bundle_warnings or []
        self.limits = limits or media.MediaLimits()
        self.face_config = face_config or bundle.config.preprocessing.face_config()
        ref = bundle.reference
        lat = [ref.get("real_latents"), ref.get("fake_latents")]
        xy = [ref.get("real_xy"), ref.get("fake_xy")]
        have = [i for i in range(2) if lat[i] is not None and len(lat[i])]
        self._ref_latents = np.concatenate([lat[i] for i in have]) if have else None
        # Evidence this bundle has a model for (older bundles have no blend model: not "missing", just not offered).
        self._offered = tuple(k for k in EVIDENCE if k != "blend" or bundle.blend is not None)
        self._ref_xy = np.concatenate([xy[i] for i in have]) if have else None

    # -- public ----------------------------------------------------------------------------------------------
    def reference_map(self) -> dict[str, Any]:
        ref = self.bundle.reference
        return {
            "real_xy": np.asarray(ref.get("real_xy", np.zeros((0, 2)))),
            "fake_xy": np.asarray(ref.get("fake_xy", np.zeros((0, 2)))),
            "fake_kinds": [str(k) for k in ref.get("fake_kinds", [])],
        }

    def analyze(self, path: str | Path, progress: Progress | None = None) -> Report:
        """Analyse one clip or photo. Raises :class:`~vaedetect.errors.InputError` for unusable input."""
        timings: dict[str, float] = {}
        report_progress = progress or (lambda _f, _d: None)
        report_progress(0.0, "decoding and finding faces")
        t0 = time.perf_counter()
        clip = ingest(path, self.limits, self.face_config, progress=True)
        timings.update({f"ingest_{k}": v for k, v in clip.timings.items()})
        timings["ingest"] = time.perf_counter() - t0

        report_progress(0.6, "running the models")
        t0 = time.perf_counter()
        arr, offset = self._arrays(clip)
        with torch.inference_mode():
            raw = compute_evidence(self.bundle, arr)
        timings["models"] = time.perf_counter() - t0

        report_progress(0.9, "scoring")
        t0 = time.perf_counter()
        report = self._report(clip, arr, raw, offset)
        timings["scoring"] = time.perf_counter() - t0
        report.timings = {k: round(v, 4) for k, v in timings.items()}
        report_progress(1.0, "done")
        return report

    # -- pipeline pieces --------------------------------------------------------------------------------------
    def _arrays(self, clip: Clip) -> tuple[ClipArrays, int]:
        """Model inputs, starting where speech starts (leading silence is a benchmark shortcut we refuse to use)."""
        arr = ClipArrays.from_clip(clip)
        skip = leading_silence_frames(clip.speech) if clip.mel is not None else 0
        if skip and arr.present[skip:].sum() >= 5:
            arr = arr.frames(skip)
        else:
            skip = 0
        return arr, skip

    def _warnings(self, clip: Clip) -> list[ReportWarning]:
        info, faces = clip.info, clip.faces
        out = [ReportWarning(code, msg) for code, msg in self.bundle_warnings]
        if not faces.present.any():
            out.append(
                ReportWarning(
                    "no_face",
                    "No face was found, so the face evidence could not be examined. Faces smaller than about 40 pixels,"
                    " turned far away or heavily compressed are often missed: a closer, sharper copy may work.",
                )
            )
        elif faces.coverage < 0.5 and not clip.is_image:
            out.append(
                ReportWarning(
                    "partial_face", f"A face is visible in only {100 * faces.coverage:.0f}% of the analysed frames."
                )
            )
        if faces.max_faces > 1:
            out.append(
                ReportWarning(
                    "multiple_faces",
                    f"{faces.max_faces} faces appear; only the main (largest, most persistent) face was examined.",
                )
            )
        if not clip.is_image:
            if not info.has_audio:
                out.append(
                    ReportWarning("no_speech", "This clip has no sound track: lip-sync and voice were not checked.")
                )
            elif not clip.speech.has_speech:
                out.append(ReportWarning("no_speech", "No speech was detected: lip-sync and voice were not checked."))
            if info.analysed_duration_s < SHORT_CLIP_S:
                out.append(
                    ReportWarning(
                        "short_clip", f"The clip is very short ({info.analysed_duration_s:.1f} s); evidence is thin."
                    )
                )
            if info.truncated:
                out.append(
                    ReportWarning(
                        "truncated",
                        f"Only the first {info.analysed_duration_s:.0f} s of {info.duration_s:.0f} s were analysed.",
                    )
                )
        if faces.present.any():
            px = float(np.nanmedian(faces.face_size_px))
            if px < LOW_RES_FACE_PX:
                out.append(
                    ReportWarning(
                        "low_resolution",
                        f"The face is small ({px:.0f} px); fine detail the models rely on is missing.",
                    )
                )
        if self._heavily_compressed(clip):
            how = ""
            if clip.quantizer is not None:
                how = f" (H.264 quantiser {clip.quantizer:.0f} of 51)"
            elif info.jpeg_quality is not None:
                how = f" (JPEG quality about {info.jpeg_quality:.0f} of 100)"
            out.append(
                ReportWarning(
                    "heavy_compression",
                    f"The file is heavily compressed{how}: fine detail is gone, which can hide manipulation traces "
                    "and blurs the mouth movements the lip-sync check reads.",
                )
            )
        return out

    @staticmethod
    def _heavily_compressed(clip: Clip) -> bool:
        info = clip.info
        if clip.quantizer is not None:
            return clip.quantizer >= HEAVY_COMPRESSION_QP
        if info.jpeg_quality is not None:
            return info.jpeg_quality < HEAVY_COMPRESSION_JPEG_QUALITY
        pixels = max(info.width * info.height, 1)
        if info.kind == "image":
            return info.size_bytes * 8 / pixels < HEAVY_COMPRESSION_IMAGE_BPP
        if info.video_bitrate_kbps:
            return info.video_bitrate_kbps * 1000 / (pixels * (info.source_fps or 25.0)) < HEAVY_COMPRESSION_BPP
        return False

    def _place(self, latents: np.ndarray) -> np.ndarray:
        """2-D map position by inverse-distance kNN in the reference embedding: no UMAP transform per request."""
        if self._ref_latents is None or len(latents) == 0:
            return np.zeros((len(latents), 2), np.float32)
        d = np.linalg.norm(latents[:, None, :] - self._ref_latents[None, :, :], axis=2)
        k = min(KNN, d.shape[1])
        nn_idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        nd = np.take_along_axis(d, nn_idx, axis=1)
        w = 1.0 / (nd + 1e-6)
        return (self._ref_xy[nn_idx] * w[..., None]).sum(axis=1) / w.sum(axis=1, keepdims=True)

    def _frames(self, arr: ClipArrays, raw: RawEvidence, offset: int) -> list[FrameEvidence]:
        if raw.frame_idx.size == 0:
            return []
        norm = self.bundle.calibration.get("evidence", {}).get("face")
        z_frames = (raw.frame_scores - norm["mean"]) / norm["std"] if norm else raw.frame_scores
        xy = self._place(raw.latents)
        pick = np.unique(np.round(np.linspace(0, len(raw.frame_idx) - 1, MAX_REPORT_FRAMES)).astype(int))
        out = []
        for j in range(len(raw.frame_idx)):
            fe = FrameEvidence(
                time_s=round((int(raw.frame_idx[j]) + offset) / arr.fps, 3),
                face_found=True,
                face_score=float(z_frames[j]),
                map_xy=(float(xy[j, 0]), float(xy[j, 1])),
            )
            if j in pick and raw.recon is not None and raw.zmap is not None:
                crop = cv2.resize(
                    arr.face_crops[raw.frame_idx[j]], (DISPLAY_PX, DISPLAY_PX), interpolation=cv2.INTER_AREA
                )
                fe.crop = crop
                fe.reconstruction = cv2.resize(raw.recon[j], (DISPLAY_PX, DISPLAY_PX), interpolation=cv2.INTER_CUBIC)
                fe.heatmap = heatmap_overlay(crop, raw.zmap[j], region=face_region(raw.zmap.shape[-1]))
            out.append(fe)
        return out

    def _sync(self, clip: Clip, raw: RawEvidence, offset: int) -> SyncResult | None:
        lip_t = (clip.faces.times_s).tolist()
        lip = clip.faces.lip_opening
        corr = clip.lip_loudness_corr()
        if raw.sync_offset is None:
            return None
        fps = float(media.ANALYSIS_FPS)
        max_off = self.bundle.config.sync.max_offset
        return SyncResult(
            offset_frames=int(raw.sync_offset),
            offset_s=round(raw.sync_offset / fps, 3),
            confidence=float(raw.sync_confidence or 0.0),
            curve_t=[round((int(c) + offset) / fps, 3) for c in raw.sync_centers],
            curve_confidence=[float(v) for v in raw.sync_curve],
            offsets=list(range(-max_off, max_off + 1)),
            mean_distance_by_offset=[float(v) for v in raw.sync_mean_dist],
            lip_t=[round(t, 3) for t in lip_t],
            lip_opening=[float(v) if np.isfinite(v) else None for v in lip],
            loudness_db=[float(max(v, -90.0)) for v in clip.speech.loudness_db],
            lip_loudness_corr=corr,
            offset_cues_agree=offset_cues_agree(raw),
            lipvoice_corr_by_offset=(
                [float(v) if np.isfinite(v) else None for v in raw.lipvoice_corr]
                if raw.lipvoice_corr is not None
                else []
            ),
        )

    def _timeline(
        self, arr: ClipArrays, raw: RawEvidence, z: dict[str, float | None], head: Head | None, offset: int
    ) -> list[TimelinePoint]:
        if arr.is_image:
            return []
        norms = self.bundle.calibration.get("evidence", {})
        n_sec = int(np.ceil(arr.n_frames / arr.fps))
        out = []
        for s in range(n_sec):
            lo, hi = s * arr.fps, (s + 1) * arr.fps
            zs = dict(z)
            face = None
            m = (raw.frame_idx >= lo) & (raw.frame_idx < hi)
            if m.any() and "face" in norms:
                face = float((raw.frame_scores[m].mean() - norms["face"]["mean"]) / norms["face"]["std"])
                zs["face"] = face
                if "latent" in norms:
                    zs["latent"] = float(
                        (raw.frame_latent[m].mean() - norms["latent"]["mean"]) / norms["latent"]["std"]
                    )
                if "blend" in norms and raw.frame_blend is not None:
                    zs["blend"] = float((raw.frame_blend[m].mean() - norms["blend"]["mean"]) / norms["blend"]["std"])
            sync = None
            if raw.sync_centers is not None and "sync" in norms:
                ms = (raw.sync_centers >= lo) & (raw.sync_centers < hi)
                if ms.any():
                    sync = float(-(raw.sync_curve[ms].mean() - norms["sync"]["mean"]) / norms["sync"]["std"])
                    zs["sync"] = sync
            fused = head.probability(zs) if head is not None and (face is not None or sync is not None) else None
            out.append(TimelinePoint(t=float(s + offset / arr.fps), face=face, sync=sync, fused=fused))
        return out

    def _report(self, clip: Clip, arr: ClipArrays, raw: RawEvidence, offset: int) -> Report:
        warnings = self._warnings(clip)
        z = normalize(raw, self.bundle.calibration)
        head = select_head(self.heads, z)
        unavailable = _unavailable(clip, z, set(self.bundle.calibration.get("evidence", {})), self._offered)
        codes = [w.code for w in warnings]
        if head is None:
            # No score and no lines: a 50 % drawn between lines at 0 % and 100 % read as a measurement.
            probability, thresholds = 0.5, {}
            verdict = "uncertain"
            what = "no face" if not clip.faces.present.any() else "no usable evidence"
            reasons = [
                f"There was nothing this model can score ({what}; lip-sync needs a visible face and speech), "
                "so no verdict is given."
            ]
        else:
            probability = head.probability(z)
            unc, fake = thresholds_with_warnings(head, codes)
            thresholds = {"uncertain": round(float(unc), 4), "fake": round(min(fake, 1.0), 4)}
            verdict = verdict_for(probability, unc, fake)
            region = (
                worst_region(raw.zmap.mean(axis=0), face_region(raw.zmap.shape[-1]))
                if raw.zmap is not None and len(raw.zmap)
                else None
            )
            reasons = reasons_for(z, raw, verdict, float(media.ANALYSIS_FPS), region, head)
            if any(c in codes for c in ("low_resolution", "heavy_compression", "short_clip", "multiple_faces")):
                reasons.append("Warnings below widened the uncertain band: the verdict needs stronger evidence.")
        info, faces = clip.info, clip.faces
        return Report(
            verdict=verdict,
            fake_probability=round(float(probability), 4),
            reasons=reasons,
            warnings=warnings,
            scores={k: (None if z[k] is None else round(float(z[k]), 3)) for k in EVIDENCE},
            contributions={k: round(v, 4) for k, v in head.contributions(z).items()} if head is not None else {},
            unavailable=unavailable,
            thresholds=thresholds,
            sync=self._sync(clip, raw, offset),
            timeline=self._timeline(arr, raw, z, head, offset),
            frames=self._frames(arr, raw, offset),
            media=MediaSummary(
                kind=info.kind,
                duration_s=round(info.duration_s, 3),
                analysed_duration_s=round(info.analysed_duration_s, 3),
                fps=float(media.ANALYSIS_FPS) if info.kind == "video" else 0.0,
                width=info.width,
                height=info.height,
                has_audio=info.has_audio,
                face_coverage=round(faces.coverage, 4),
                max_faces=faces.max_faces,
                speech_fraction=round(clip.speech.speech_fraction, 4) if clip.audio is not None else None,
                quantizer=None if clip.quantizer is None else round(clip.quantizer, 2),
                jpeg_quality=None if info.jpeg_quality is None else round(info.jpeg_quality, 1),
            ),
            model=ModelInfo(name=self.bundle_name, revision=self.bundle_revision, source=self.bundle_source),
            timings={},
        )


def _unavailable(
    clip: Clip, z: dict[str, float | None], calibrated: set[str], offered: tuple[str, ...] = EVIDENCE
) -> dict[str, str]:
    """Why each offered evidence is missing: the input's reason first, the bundle's only when the input had it."""
    why: dict[str, str] = {}
    no_face = not clip.faces.present.any()
    for k in offered:
        if z[k] is not None:
            continue
        if k in ("face", "latent", "blend", "temporal") and no_face:
            why[k] = "no face found"
        elif k == "temporal" and clip.is_image:
            why[k] = "a photo has no motion"
        elif k in ("audio", "sync") and clip.is_image:
            why[k] = "a photo has no sound"
        elif k in ("audio", "sync") and not clip.info.has_audio:
            why[k] = "no sound track"
        elif k in ("audio", "sync") and not clip.speech.has_speech:
            why[k] = "no speech detected"
        elif k not in calibrated:
            why[k] = "this model bundle does not provide it"
        elif k == "temporal":
            why[k] = "too few face frames"
        elif k == "sync":
            why[k] = "too little speech with a visible mouth"
        else:
            why[k] = "too little speech"
    return why


def heatmap_overlay(
    crop: np.ndarray, zmap: np.ndarray, max_z: float = HEATMAP_MAX_Z, region: np.ndarray | None = None
) -> np.ndarray:
    """Normalised error (0..max_z sigma above real faces) as a colour overlay on the face: hot = unlike real faces.

    With ``region`` (a mask at the zmap's resolution: the face area the score is taken from) everything outside it is
    shown dimmed and grey, so a background or collar the redrawing misses does not draw the eye to what is not scored.
    """
    h, w = crop.shape[:2]
    z = cv2.resize(np.clip(zmap, 0.0, max_z) / max_z, (w, h), interpolation=cv2.INTER_CUBIC)
    z = np.clip(z, 0.0, 1.0)
    colour = cv2.cvtColor(cv2.applyColorMap((z * 255).astype(np.uint8), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    alpha = (0.25 + 0.6 * z)[..., None]
    out = crop * (1 - alpha) + colour * alpha
    if region is not None:
        inside = cv2.resize(region.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        inside = cv2.GaussianBlur(inside, (0, 0), max(w, h) / 96)[..., None]  # a soft edge, not a cut-out
        grey = 0.35 * crop.mean(axis=2, keepdims=True) + 40.0
        out = out * inside + grey * (1 - inside)
    return np.clip(out, 0, 255).astype(np.uint8)
