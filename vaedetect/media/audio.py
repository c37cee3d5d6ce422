"""Audio: the clip's sound as mono float32 at :data:`SAMPLE_RATE_HZ`, on the clock of the first video frame.

Silence fills where the audio starts late, ends early or jumps, so sample ``i`` is always at ``i / SAMPLE_RATE_HZ``
seconds of the video's picture. Audio that exists but cannot be decoded counts as absent (``None``): the picture
alone can still be analysed, which is more useful to the user than refusing the clip.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from vaedetect.audio import SAMPLE_RATE_HZ
from vaedetect.media.checks import _MSG_CORRUPT_VIDEO, _wrap_errors
from vaedetect.media.container import _decoded_frames, _frame_time, _open_av, _pick_audio_stream
from vaedetect.media.dispatch import probe
from vaedetect.media.info import MediaInfo
from vaedetect.media.limits import MediaLimits, _Budget

_MAX_AUDIO_GAP_S = 0.1  # audio timestamp jumps larger than this are filled with silence


def load_audio(
    path: str | Path,
    info: MediaInfo | None = None,
    limits: MediaLimits = MediaLimits(),
) -> np.ndarray | None:
    """Mono float32 audio at SAMPLE_RATE_HZ covering [0, analysed_duration_s] of the video's clock.

    Silence is padded where the audio starts late, ends early or has gaps; the rest is cut. Returns None for
    photos, clips without an audio stream, and audio that cannot be decoded (see the module docstring).
    """
    path = Path(os.fspath(path))
    if info is None:
        info = probe(path, limits)
    if info.kind != "video" or not info.has_audio:
        return None
    budget = _Budget(limits)
    n_out = max(1, round(info.analysed_duration_s * SAMPLE_RATE_HZ))
    out = np.zeros(n_out, dtype=np.float32)

    def place(samples: np.ndarray, position: int) -> None:
        start, stop = max(position, 0), min(position + samples.size, n_out)
        if stop > start:
            out[start:stop] = samples[start - position : stop - position]

    with _open_av(path, b"", limits) as container, _wrap_errors(_MSG_CORRUPT_VIDEO):
        stream = _pick_audio_stream(container)
        if stream is None:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
        position: int | None = None  # next output sample index
        expected_t: float | None = None  # where the next input frame should start if the audio is continuous
        for frame in _decoded_frames(container, stream, budget, limits):
            t_abs = _frame_time(frame, stream.time_base)
            t = None if t_abs is None else t_abs - info.start_time_s
            if position is None:
                position = round((t or 0.0) * SAMPLE_RATE_HZ)
                expected_t = t
            elif t is not None and expected_t is not None and t - expected_t > _MAX_AUDIO_GAP_S:
                position += round((t - expected_t) * SAMPLE_RATE_HZ)  # gap in the stream: leave silence
                expected_t = t
            if expected_t is not None and frame.sample_rate:
                expected_t += frame.samples / frame.sample_rate
            for chunk in resampler.resample(frame):  # PyAV 18 re-initialises it if the layout/rate changes
                samples = chunk.to_ndarray().reshape(-1)
                place(samples, position)
                position += samples.size
            if position >= n_out:
                break
        if position is None:
            return None
        if position < n_out:
            for chunk in resampler.resample(None):
                samples = chunk.to_ndarray().reshape(-1)
                place(samples, position)
                position += samples.size
    np.clip(out, -1.0, 1.0, out=out)
    return out
