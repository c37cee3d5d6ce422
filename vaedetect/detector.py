"""Detector: load a bundle once, then ``analyze(path) -> Report`` for clips and photos.

det = vaedetect.load_detector()            # bundled default, a registry name, a folder, or org/repo[@rev]
report = det.analyze("clip.mp4")

One module per stage: ``ingest`` (decode, faces, audio) -> ``evidence`` (models -> raw statistics) -> ``scoring``
(z-scores, lines, verdict, reasons) -> ``report.Report``, with ``caveats`` saying what limits the verdict and
``figures`` drawing the face pictures. This module only runs them in order and fills in the Report.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaedetect import hub, media, model_card, pretrained, workers
from vaedetect.audio import leading_silence_frames
from vaedetect.caveats import clip_warnings, unavailable
from vaedetect.evidence import (
    DEFAULT_EVIDENCE,
    PRETRAINED_OF,
    ClipArrays,
    RawEvidence,
    ReferenceMap,
    clip_quality,
    compute_evidence,
    face_region,
    frames_as_photos,
    lip_loudness_corr,
)
from vaedetect.faces import FaceConfig, FacePool
from vaedetect.fusion import CODE_LENGTHS
from vaedetect.ingest import Clip, ingest
from vaedetect.models import ModelBundle
from vaedetect.report import (
    EVIDENCE,
    FrameEvidence,
    MediaSummary,
    ModelInfo,
    Report,
    SyncResult,
)
from vaedetect.scoring import (
    Scores,
    frame_face_z,
    frame_latent_z,
    load_learned,
    normalize,
    offset_cues_agree,
    score,
)

MAX_REPORT_FRAMES = 16  # sampled frames that carry pictures in a report (every sampled frame is on the map)

Progress = Callable[[float, str], None]


def load_detector(name_or_path: str | Path | None = None, *, threads: int | None = None) -> Detector:
    """Resolve a bundle (registry name, folder, ``org/repo[@rev]``; default: the bundled one) and load it once.

    ``threads``: the cores an analysis may use (default: all this process may use); see :mod:`vaedetect.workers`,
    which sets the whole process's torch, OpenCV and ONNX Runtime thread counts from it."""
    workers.configure(threads)
    resolved = hub.resolve_bundle(name_or_path)
    bundle = ModelBundle.load(resolved.path, resolved.config)
    return Detector(
        bundle,
        name=resolved.name,
        revision=resolved.revision,
        source=resolved.source,
        bundle_warnings=list(resolved.warnings),
        card_path=resolved.path / "README.md",
    )


class Detector:
    """Runs ingest -> evidence -> scoring and assembles a :class:`~vaedetect.report.Report`.

    Thread-safe for concurrent ``analyze`` calls: the models are only read, and each call borrows its own MediaPipe
    graphs from :attr:`faces` (kept between calls and reset before each; :meth:`close` releases them).
    """

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        name: str = "default",
        revision: str | None = None,
        source: str = "local",
        bundle_warnings: list[tuple[str, str]] | None = None,
        card_path: Path | None = None,
        limits: media.MediaLimits | None = None,
        face_config: FaceConfig | None = None,
    ) -> None:
        self.bundle = bundle
        self.bundle_name = name
        self.bundle_revision = revision
        self.bundle_source = source
        self.bundle_warnings = bundle_warnings or []
        self.card_path = card_path  # the bundle's README.md, which the app shows as the model card
        hub_repo = source == "hub" and revision and "/" in name  # a Hub bundle named by its repo id
        self.card_url = f"https://huggingface.co/{name}/blob/{revision}/README.md" if hub_repo else None
        calibration = json.dumps(bundle.calibration, sort_keys=True).encode()
        self.bundle_fingerprint = hashlib.sha256(calibration).hexdigest()[:12]
        self.card_summary = model_card.summary(bundle.config.to_json(), bundle.calibration)
        self.limits = limits or media.MediaLimits()
        self.face_config = face_config or bundle.config.preprocessing.face_config()
        self.faces = FacePool(self.face_config)
        self.reference = ReferenceMap.from_reference(bundle.reference)
        # Evidence this bundle has a model for (older bundles have no blend model: not "missing", just not offered).
        self._offered = tuple(k for k in EVIDENCE if k != "blend" or bundle.blend is not None)
        # The face's code lengths (rule 22) cost PNG encodings: an analysis measures them only when a head reads them.
        corrections = [h.fusion.correction for h in load_learned(bundle.calibration).values()]
        self._reads_code_length = any(c is not None and c.measures & CODE_LENGTHS for c in corrections)

    def warm_up(self) -> None:
        """Build now what the first analysis would otherwise build (MediaPipe's video graphs and the pretrained
        networks this bundle's evidence reads), e.g. in a thread once the app serves its page. Loading the detector
        does not: it stays fast, and a process that never analyses never pays for them."""
        with self.faces.analyzer() as fa:
            blank = np.zeros((64, 64, 3), np.uint8)
            fa.mesh(blank)
            fa.detect(blank)
        names = self.bundle.config.evidence or DEFAULT_EVIDENCE
        pretrained.warm(sorted({p for n in names for p in PRETRAINED_OF.get(n, ())}))

    def close(self) -> None:
        """Release the kept MediaPipe graphs (a later analysis builds new ones)."""
        self.faces.close()

    def reference_map(self) -> dict[str, Any]:
        """The reference clusters of the face map (see :func:`vaedetect.figures.umap_figure`)."""
        return self.reference.for_figure()

    def analyze(self, path: str | Path, progress: Progress | None = None) -> Report:
        """Analyse one clip or photo. Raises :class:`~vaedetect.errors.InputError` for unusable input."""
        timings: dict[str, float] = {}
        report_progress = progress or (lambda _f, _d: None)
        report_progress(0.0, "decoding and finding faces")
        t0 = time.perf_counter()
        clip = ingest(path, self.limits, self.face_config, progress=True, pool=self.faces)
        timings.update({f"ingest_{k}": v for k, v in clip.timings.items()})
        timings["ingest"] = time.perf_counter() - t0

        report_progress(0.6, "running the models")
        t0 = time.perf_counter()
        arr, offset, raw = self.measure(clip)
        timings["models"] = time.perf_counter() - t0
        timings.update({f"models_{k}": v for k, v in raw.timings.items()})

        report_progress(0.9, "scoring")
        t0 = time.perf_counter()
        warnings = clip_warnings(clip, self.bundle_warnings)
        scores = score(raw, self.bundle.calibration, warnings)
        report = Report(
            verdict=scores.verdict,
            manipulation_score=round(scores.manipulation_score, 4),
            reasons=scores.reasons,
            warnings=warnings,
            scores={k: (None if v is None else round(v, 3)) for k, v in scores.z.items()},
            contributions={k: round(v, 4) for k, v in scores.contributions.items()},
            findings=scores.findings,
            weak_traces=scores.weak_traces,
            checks=scores.checks,
            tier_rates=scores.tier_rates,
            no_verdict=scores.no_verdict,
            unavailable=unavailable(clip, scores.z, set(self.bundle.calibration.get("evidence", {})), self._offered),
            thresholds=scores.lines,
            sync=self._sync(clip, raw, offset),
            timeline=[replace(p, t=p.t + offset / arr.fps) for p in scores.seconds],
            frames=self._frames(arr, raw, scores, offset),
            media=_media_summary(clip),
            model=ModelInfo(
                name=self.bundle_name,
                revision=self.bundle_revision,
                source=self.bundle_source,
                fingerprint=self.bundle_fingerprint,
                card=self.card_url,
                summary=self.card_summary,
            ),
            timings={},
        )
        timings["scoring"] = time.perf_counter() - t0
        report.timings = {k: round(v, 4) for k, v in timings.items()}
        report_progress(1.0, "done")
        return report

    def measure(
        self, clip: Clip, *, keep_images: bool = True, all_measures: bool = False
    ) -> tuple[ClipArrays, int, RawEvidence]:
        """The models' raw evidence of an ingested clip (from where speech starts), with its quality measures (with
        ``all_measures``, also those no head of this bundle reads); also the arrays it was measured on and the frames
        skipped before them. ``analyze``, ``record`` and the benchmarks' cache all measure through here."""
        arr, offset = self._arrays(clip)
        with torch.inference_mode():
            raw = compute_evidence(self.bundle, arr, keep_images=keep_images)
        raw.offset_frames = offset
        code_length = all_measures or self._reads_code_length
        raw.quality = clip_quality(clip, arr, self.bundle.config.face_vae.image_px if code_length else None)
        return arr, offset, raw

    def record(self, path: str | Path) -> dict[str, Any]:
        """What the learned fusion is fitted on for one file (see :func:`vaedetect.fusion.fit_heads`): the per-clip
        z-scores and region cues, the quality measures, whether it is a photo, and for a video a few of its frames as
        a photo would be read (:func:`vaedetect.evidence.frames_as_photos`); no pictures are kept."""
        return self.record_clip(ingest(path, self.limits, self.face_config, pool=self.faces))

    def record_clip(self, clip: Clip) -> dict[str, Any]:
        """:meth:`record` of an already ingested clip."""
        arr, skip, raw = self.measure(clip, keep_images=False, all_measures=True)
        cal = self.bundle.calibration
        z = normalize(raw, cal)
        values = {k: v for k, v in {**z, **raw.cues, **raw.values}.items() if v is not None and np.isfinite(v)}
        rec: dict[str, Any] = {"values": values, "quality": raw.quality, "is_image": clip.is_image}
        if not clip.is_image and arr.cue_crops is not None and arr.cue_idx is not None:
            rec["frames"] = frames_as_photos(
                arr.cue_crops, arr.cue_landmarks, arr.cue_idx + skip, clip.faces.face_size_px, raw.frame_idx + skip,
                frame_face_z(raw, cal), frame_latent_z(raw, cal), raw.quality.get("bits_per_pixel"),
                self.bundle.config.face_vae.image_px,
            )  # fmt: skip
        return rec

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

    def _frames(self, arr: ClipArrays, raw: RawEvidence, scores: Scores, offset: int) -> list[FrameEvidence]:
        """Every sampled face: its time, z-score and map position; evenly spread ones also carry their pictures."""
        if raw.frame_idx.size == 0:
            return []
        from vaedetect import figures  # plotly with it: a detector's load need not pay for drawing pages

        xy = self.reference.place(raw.latents)
        pick = np.unique(np.round(np.linspace(0, len(raw.frame_idx) - 1, MAX_REPORT_FRAMES)).astype(int))
        out = []
        for j, idx in enumerate(raw.frame_idx):
            fe = FrameEvidence(
                time_s=round((int(idx) + offset) / arr.fps, 3),
                face_found=True,
                face_score=float(scores.frame_face[j]),
                map_xy=(float(xy[j, 0]), float(xy[j, 1])),
            )
            if j in pick and raw.recon is not None and raw.zmap is not None:
                region = face_region(raw.zmap.shape[-1])
                fe.crop, fe.reconstruction, fe.heatmap = figures.frame_images(
                    arr.face_crops[idx], raw.recon[j], raw.zmap[j], region
                )
            out.append(fe)
        return out

    def _sync(self, clip: Clip, raw: RawEvidence, offset: int) -> SyncResult | None:
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
            lip_t=[round(t, 3) for t in clip.faces.times_s.tolist()],
            lip_opening=[float(v) if np.isfinite(v) else None for v in clip.faces.lip_opening],
            loudness_db=[float(max(v, -90.0)) for v in clip.speech.loudness_db],
            lip_loudness_corr=lip_loudness_corr(clip.faces.lip_opening, clip.speech.loudness_db),
            offset_cues_agree=offset_cues_agree(raw),
            lipvoice_corr_by_offset=(
                [float(v) if np.isfinite(v) else None for v in raw.lipvoice_corr]
                if raw.lipvoice_corr is not None
                else []
            ),
        )


def _media_summary(clip: Clip) -> MediaSummary:
    info, faces = clip.info, clip.faces
    return MediaSummary(
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
        cut_to_limit=info.cut_to_limit,
        incomplete=info.incomplete,
        promised_duration_s=None if info.promised_duration_s is None else round(info.promised_duration_s, 3),
    )
