"""How much an upload may cost: size, duration, pixel and time limits, and the wall-clock budget of every decode.

The Space is shared, so every way an upload could exhaust it (hours of video, 8K frames, a decoder that never
finishes) is refused here with a sentence that says which limit was met and what to upload instead. The clock is a
module-level function (:func:`_now`) so tests can fake a pathologically slow decode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vaedetect.errors import DecodeTimeoutError, InputError, LimitExceededError


@dataclass(frozen=True)
class MediaLimits:
    """Guards against uploads that would exhaust the Space (time, memory) or cannot be a real recording."""

    max_file_mb: float = 500.0
    max_analysis_s: float = 60.0
    max_source_duration_s: float = 3 * 3600.0
    max_side_px: int = 1280
    min_side_px: int = 16
    max_source_side_px: int = 8192  # photos (a 50 MP phone photo is 8160 px wide); videos: max_video_side_px
    max_video_side_px: int = 4096
    max_image_pixels: int = 50_000_000  # the photo pixel budget: bounds a decode's memory (decode_bytes)
    # Source pixels decoded per second of video (width x height x frame rate): 4K at 60 fps passes, 8K does not.
    max_video_pixel_rate: float = 4096 * 2160 * 60
    decode_timeout_s: float = 90.0


# A photo's decode holds at most two full-size arrays at once: the decoded image (PIL: at most 4 bytes per pixel, RGBA,
# CMYK, 32-bit integer or float) and its RGB copy (3), then the RGB copy and its upright copy (3 + 3). Everything
# else (alpha compositing, 16-bit scaling, the downscale's output, the decoders' own buffers) works on bands of rows
# or at most max_side_px, within a fixed allowance.
DECODE_BYTES_PER_PX = 7
DECODE_WORKING_BYTES = 96 * 2**20


def decode_bytes(limits: MediaLimits) -> int:
    """Memory one photo's decode may take above the process, for the largest photo ``limits`` accept: 430 MB with
    the defaults (50 MP). tests/test_media.py holds the 8192x6100 RGBA PNG to it (peak RSS of a child process)."""
    return limits.max_image_pixels * DECODE_BYTES_PER_PX + DECODE_WORKING_BYTES


def _fmt_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h} h {m} min" if m else f"{h} h"
    if m:
        return f"{m} min {s} s" if s else f"{m} min"
    return f"{s} s"


def _timeout_error(limits: MediaLimits) -> DecodeTimeoutError:
    return DecodeTimeoutError(
        f"Reading this file took longer than {limits.decode_timeout_s:g} seconds, so it was stopped. "
        "Please upload a shorter or lower-resolution clip."
    )


def _too_long(duration: float, limits: MediaLimits) -> LimitExceededError:
    return LimitExceededError(
        f"This video is {_fmt_duration(duration)} long; vaedetect accepts videos up to "
        f"{_fmt_duration(limits.max_source_duration_s)}. Please trim it to the part you want checked."
    )


def _now() -> float:
    """Wall clock for decode budgets (module-level so tests can fake a slow decode)."""
    return time.monotonic()


class _Budget:
    """Wall-clock budget shared by all decode loops of one public call."""

    def __init__(self, limits: MediaLimits) -> None:
        self._limits = limits
        self._deadline = _now() + limits.decode_timeout_s

    def check(self) -> None:
        if _now() >= self._deadline:
            raise _timeout_error(self._limits)


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size after downscaling so the longer side is at most ``max_side`` (aspect kept; never upscales)."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_dimensions(width: int, height: int, limits: MediaLimits, what: str) -> None:
    max_side = limits.max_source_side_px
    if what == "video":  # every frame of a video is decoded at full size: a lower cap than a photo's
        max_side = min(max_side, limits.max_video_side_px)
    if max(width, height) > max_side:
        raise LimitExceededError(
            f"This {what} is {width}×{height} pixels, larger than the limit of {max_side} pixels "
            "per side. Please upload a smaller version."
        )
    if min(width, height) < limits.min_side_px:
        raise InputError(
            f"This {what} is only {width}×{height} pixels, too small to examine "
            f"(at least {limits.min_side_px} pixels per side are needed).",
            code="too_small",
        )


def _check_pixel_rate(width: int, height: int, fps: float | None, limits: MediaLimits) -> None:
    """Refuse videos whose decoding alone would take minutes: the decoder handles every source pixel, even those of
    frames the analysis skips, so width x height x frame rate is the cost per second of the analysed window."""
    if fps and width * height * fps > limits.max_video_pixel_rate:
        raise LimitExceededError(
            f"This video has {width}×{height} pixels at {fps:.3g} frames per second, more than vaedetect can decode "
            "in reasonable time. Please upload a smaller version or one with fewer frames per second."
        )
