"""Caveats: what limits how far a verdict on this file can be trusted, read from the ingested clip.

Two lists for the Report: ``warnings`` (no face, heavy compression, a small or partly visible face, ...) and
``unavailable`` (which evidence could not be examined, and why). They live apart from scoring because they judge the
*file* (its codec's quantiser, JPEG quality, face size, sound track) rather than the evidence; scoring only reads
their codes, widening the verdict lines for those in ``report.WIDENING``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vaedetect.ingest import Clip
from vaedetect.report import EVIDENCE, ReportWarning

LOW_RES_FACE_PX = 80
SHORT_CLIP_S = 2.0
PARTIAL_FACE_COVERAGE = 0.5  # a face in fewer of the analysed frames than this is "partly visible"
# Heavy compression, read from the H.264 quantiser when the decoder reports it. Re-encoding held-out real clips at
# rising CRF (bench/experiments/compression.py, numbers in bench/results): the face score *fell* (smoother faces
# redraw more easily: compression hides traces) and the lip-sync score drifted towards "out of step" from about this
# quantiser.
HEAVY_COMPRESSION_QP = 35.0
# JPEG photos by the quality they were saved at: re-saving held-out real photos, the face score stayed put down to
# moderate qualities and rose (blocking) only at very low ones; this line sits between.
HEAVY_COMPRESSION_JPEG_QUALITY = 25.0
# Fallbacks without either (other codecs, PNG/WebP photos): bits per pixel, which also drops for clean static video.
HEAVY_COMPRESSION_BPP = 0.03
HEAVY_COMPRESSION_IMAGE_BPP = 0.35


def clip_warnings(clip: Clip, bundle_warnings: Sequence[tuple[str, str]] = ()) -> list[ReportWarning]:
    """The bundle's own warnings first, then everything about this file that limits the verdict."""
    info, faces = clip.info, clip.faces
    out = [ReportWarning(code, msg) for code, msg in bundle_warnings]
    if not faces.present.any() and faces.small_faces:
        n, px = faces.small_faces, faces.small_face_px
        out.append(
            ReportWarning(
                "faces_too_small",
                f"{n} face{'s' if n > 1 else ''} of about {px:.0f} px: too small to check, so the face evidence could "
                "not be examined. A closer or higher-resolution copy may work.",
            )
        )
    elif not faces.present.any():
        out.append(
            ReportWarning(
                "no_face",
                "No face was found, so the face evidence could not be examined. Faces smaller than about 40 pixels,"
                " turned far away or heavily compressed are often missed: a closer, sharper copy may work.",
            )
        )
    elif faces.coverage < PARTIAL_FACE_COVERAGE and not clip.is_image:
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
            out.append(ReportWarning("no_speech", "This clip has no sound track: lip-sync and voice were not checked."))
        elif not clip.speech.has_speech:
            out.append(ReportWarning("no_speech", "No speech was detected: lip-sync and voice were not checked."))
        if info.analysed_duration_s < SHORT_CLIP_S:
            out.append(
                ReportWarning(
                    "short_clip", f"The clip is very short ({info.analysed_duration_s:.1f} s); evidence is thin."
                )
            )
        if info.incomplete and info.promised_duration_s is not None:
            out.append(
                ReportWarning(
                    "incomplete",
                    f"The file ends after {info.duration_s:.1f} s of {info.promised_duration_s:.1f} s: it may be an "
                    "incomplete download. Only the readable part was analysed; a complete copy may say more.",
                )
            )
        if info.cut_to_limit:
            out.append(
                ReportWarning(
                    "cut_to_limit",
                    f"Only the first {info.analysed_duration_s:.0f} s of {info.duration_s:.0f} s were analysed.",
                )
            )
    if faces.present.any():
        px = float(np.nanmedian(faces.face_size_px))
        if px < LOW_RES_FACE_PX:
            out.append(
                ReportWarning(
                    "low_resolution", f"The face is small ({px:.0f} px); fine detail the models rely on is missing."
                )
            )
    if heavily_compressed(clip):
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


def heavily_compressed(clip: Clip) -> bool:
    """The quantiser when the decoder reports it, else the JPEG quality, else bits per pixel."""
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


def unavailable(
    clip: Clip, z: dict[str, float | None], calibrated: set[str], offered: tuple[str, ...] = EVIDENCE
) -> dict[str, str]:
    """Why each offered evidence is missing: the input's reason first, the bundle's only when the input had it."""
    why: dict[str, str] = {}
    no_face = not clip.faces.present.any()
    for k in offered:
        if z[k] is not None:
            continue
        if k in ("face", "latent", "blend", "temporal") and no_face and clip.faces.small_faces:
            why[k] = "faces too small to check"
        elif k in ("face", "latent", "blend", "temporal") and no_face:
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
