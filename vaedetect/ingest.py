"""Ingest: one streaming pass from a file to everything the models need (face/mouth crops, landmarks, mel, speech).

Decoding and the face pass are fused in one generator chain, so a 60 s clip never exists as a list of full frames:
only the small aligned crops are kept.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vaedetect import audio as audio_mod
from vaedetect import media, workers
from vaedetect.audio import lip_loudness_corr
from vaedetect.faces import FaceConfig, FacePool, FaceTrack, landmark_input, track_faces
from vaedetect.pretrained import CLIP_PX, clip_input

STILLS = 4  # whole frames kept per clip for the evidence that reads the scene, not only the face


@dataclass
class Clip:
    """What the pipeline saw in one file."""

    info: media.MediaInfo
    faces: FaceTrack
    audio: np.ndarray | None
    speech: audio_mod.AudioAnalysis
    mel: np.ndarray | None  # (4 * n_frames, N_MELS) aligned to the analysed frames; None without audio
    timings: dict[str, float] = field(default_factory=dict)
    quantizer: float | None = None  # median H.264 picture quantiser (0-51) when the decoder reports it
    # A few whole frames, evenly spread, as CLIP reads them (:func:`vaedetect.pretrained.clip_input`)
    stills: np.ndarray = field(default_factory=lambda: np.zeros((0, CLIP_PX, CLIP_PX, 3), np.uint8))

    @property
    def n_frames(self) -> int:
        return self.faces.n_frames

    @property
    def is_image(self) -> bool:
        return self.info.kind == "image"

    def summary(self) -> dict[str, Any]:
        """The ``inspect`` facts (stable keys; see README)."""
        info, faces = self.info, self.faces
        corr = lip_loudness_corr(faces.lip_opening, self.speech.loudness_db) if self.audio is not None else None
        counts = np.bincount(faces.faces_per_frame, minlength=2) if faces.n_frames else np.zeros(2, int)
        return {
            "path": info.path,
            "kind": info.kind,
            "duration_s": round(info.duration_s, 3),
            "analysed_duration_s": round(info.analysed_duration_s, 3),
            "cut_to_limit": info.cut_to_limit,
            "incomplete": info.incomplete,
            "promised_duration_s": None if info.promised_duration_s is None else round(info.promised_duration_s, 3),
            "fps": float(media.ANALYSIS_FPS) if info.kind == "video" else 0.0,
            "source_fps": info.source_fps,
            "width": info.width,
            "height": info.height,
            "rotation_deg": info.rotation_deg,
            "video_codec": info.video_codec,
            "audio_codec": info.audio_codec,
            "has_audio": info.has_audio,
            "speech_fraction": round(self.speech.speech_fraction, 4) if self.audio is not None else 0.0,
            "speech_start_s": (
                None
                if self.speech.speech_start_frame is None
                else round(self.speech.speech_start_frame / media.ANALYSIS_FPS, 3)
            ),
            "n_frames": faces.n_frames,
            "face_coverage": round(faces.coverage, 4),
            "max_faces": faces.max_faces,
            "faces_per_frame_histogram": {str(k): int(v) for k, v in enumerate(counts) if v},
            "main_track_frames": faces.main_track_len,
            "main_track_s": round(faces.main_track_len / media.ANALYSIS_FPS, 3),
            "median_face_px": (round(float(np.nanmedian(faces.face_size_px)), 1) if faces.present.any() else None),
            "quantizer": None if self.quantizer is None else round(self.quantizer, 2),
            "jpeg_quality": None if info.jpeg_quality is None else round(info.jpeg_quality, 1),
            "lip_loudness_corr": None if corr is None else round(corr, 4),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def ingest(
    path: str | Path,
    limits: media.MediaLimits | None = None,
    face_config: FaceConfig | None = None,
    *,
    progress: bool = False,
    pool: FacePool | None = None,
) -> Clip:
    """Decode ``path`` once and run the face and audio stages. Raises :class:`~vaedetect.errors.InputError`.

    ``pool`` lends MediaPipe graphs kept from earlier calls (its own config then applies); without it, fresh ones are
    built and closed.
    """
    limits = limits or media.MediaLimits()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    info = media.probe(path, limits)
    timings["probe"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    qps: list[float] = []
    stills: list[np.ndarray] = []
    if info.kind == "image":
        image = media.load_image(path, limits)
        stills.append(clip_input(image))
        single = [(0.0, image)]
        faces = pool.track(single, static_images=True) if pool else track_faces(single, face_config, static_images=True)
    else:
        keep = set(np.round(np.linspace(0, max(info.n_frames - 1, 0), STILLS)).astype(int).tolist())

        cfg = pool.config if pool else (face_config or FaceConfig())

        def frames_of(decoded: Iterator[media.Frame]) -> Iterator[tuple[float, np.ndarray, np.ndarray | None]]:
            for i, fr in enumerate(decoded):
                if fr.qp is not None:
                    qps.append(fr.qp)
                if i in keep:
                    stills.append(clip_input(fr.rgb))
                small = landmark_input(fr.rgb, cfg.landmark_max_side_px) if cfg.meshes(i) else None
                yield fr.time_s, fr.rgb, small

        # Decoding (and the copies FaceMesh reads) runs a few frames ahead of the face pass, in a thread of its own.
        # Closed here, not when garbage-collected: a face pass that fails must stop the decode thread and its file.
        with contextlib.closing(workers.prefetch(frames_of(media.iter_frames(path, info, limits)))) as ahead:
            frames = tqdm(ahead, total=info.n_frames, desc="faces", unit="frame", leave=False) if progress else ahead
            faces = pool.track(frames, n_frames=info.n_frames) if pool else track_faces(frames, face_config)
    timings["decode_faces"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    wav = media.load_audio(path, info, limits) if info.has_audio else None
    speech = audio_mod.analyze_audio(wav, faces.n_frames)
    mel = audio_mod.log_mel(wav, faces.n_frames) if wav is not None else None
    timings["audio"] = time.perf_counter() - t0
    quantizer = float(np.median(qps)) if qps else None
    return Clip(
        info=info,
        faces=faces,
        audio=wav,
        speech=speech,
        mel=mel,
        timings=timings,
        quantizer=quantizer,
        stills=np.stack(stills) if stills else np.zeros((0, CLIP_PX, CLIP_PX, 3), np.uint8),
    )
