"""What the rest of the library receives from media: a description of the upload and its analysis frames.

Kept apart from the readers so that ingest, evidence and the report can name these types without importing the
decoders' machinery, and so the photo and video readers build the same record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MediaInfo:
    """What :func:`probe` learned; enough to plan the analysis and to word warnings (bitrate, cut, incomplete).

    ``cut_to_limit``: longer than the analysis limit, so only its start is analysed. ``incomplete``: the readable
    video ends clearly before what the container's index promises (``promised_duration_s``), as a cut-off download
    does; what is there is still analysed.
    """

    path: str
    kind: str
    container: str
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    frame_width: int
    frame_height: int
    rotation_deg: int
    source_fps: float | None
    variable_frame_rate: bool
    duration_s: float
    analysed_duration_s: float
    n_frames: int
    has_audio: bool
    video_bitrate_kbps: float | None
    cut_to_limit: bool
    size_bytes: int
    # Presentation time (s, container clock) of the first video frame: the zero of every Frame.time_s and of the
    # audio returned by load_audio.
    start_time_s: float = 0.0
    jpeg_quality: float | None = None  # a JPEG photo's quality (IJG 1-100 scale), estimated from its tables
    incomplete: bool = False
    promised_duration_s: float | None = None  # set only when incomplete


@dataclass
class Frame:
    """One analysis frame; ``rgb`` is upright, downscaled, (H, W, 3) uint8 and C-contiguous.

    ``qp`` is the picture's mean H.264 quantiser (0-51; higher = coarser) when the decoder reports it, else None.
    """

    index: int
    time_s: float
    rgb: np.ndarray
    qp: float | None = None
