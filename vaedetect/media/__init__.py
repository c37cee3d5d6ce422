"""Open, validate and decode the user's clip (video, audio) or photo.

Everything downstream (faces, audio, models) sees the same normalised media: RGB frames at a fixed
:data:`ANALYSIS_FPS`, rotated upright and downscaled to at most ``max_side_px``, plus mono float32 audio at
:data:`SAMPLE_RATE_HZ` aligned to the first video frame. This module is the only place that touches PyAV/PIL, so
every way an upload can be unusable ends here as an :class:`~vaedetect.errors.InputError` with a sentence a
journalist understands; library exceptions never escape the public functions.

Design choices worth knowing:

* Decoding is lazy and streaming (:func:`iter_frames` is a generator) and every decode loop has a wall-clock budget.
* :func:`probe` is cheap: it demuxes packets of the analysed window (no decoding beyond the first video frame and
  first audio frame), and demuxes the whole file only when the header has no duration (browser MediaRecorder WebM).
* Times are relative to the first decoded video frame, so ``start_time != 0`` and audio that starts later than the
  video line up.
* ``MediaInfo.rotation_deg`` is the clockwise rotation applied to stored frames to make them upright (a phone's
  portrait clip reports 90), read from the display matrix PyAV exposes as ``VideoFrame.rotation``.
* Audio that exists but cannot be decoded is treated as absent (``has_audio = False``, :func:`load_audio` returns
  ``None``): the picture alone can still be analysed, which is more useful to the user than refusing the clip.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pillow_heif
from av.sidedata.sidedata import SideDataContainer
from PIL import Image, ImageOps, UnidentifiedImageError

from vaedetect.audio import ANALYSIS_FPS, SAMPLE_RATE_HZ
from vaedetect.errors import (
    CorruptMediaError,
    DecodeTimeoutError,
    EmptyFileError,
    InputError,
    LimitExceededError,
    NotMediaError,
    NoVideoError,
)

__all__ = [
    "ANALYSIS_FPS",
    "IMAGE_EXTENSIONS",
    "SAMPLE_RATE_HZ",
    "Frame",
    "MediaInfo",
    "MediaLimits",
    "iter_frames",
    "load_audio",
    "load_image",
    "probe",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".heic", ".heif", ".avif"})

_BYTES_PER_MB = 1024 * 1024
# Still-image formats PIL may claim. Restricting the list keeps lax plugins (TGA, ...) from "recognising" random
# bytes, and leaves GIF (often animated) to the video path.
# Phone MPO files are opened by the JPEG plugin.
_PIL_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "HEIF", "AVIF")
_VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".3gp", ".3g2", ".mpg", ".mpeg", ".ts", ".mts",
     ".m2ts", ".flv", ".wmv", ".asf", ".ogv", ".ogg", ".gif"}
)  # fmt: skip
_AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".aac", ".flac", ".opus", ".oga", ".wma", ".amr"})
_SNIFF_BYTES = 4096
_WINDOW_MARGIN_S = 1.0  # demux this far past the analysed window so the last analysis frame has its successor
_MAX_UNDECODABLE_PACKETS = 200  # consecutive failures before we call a stream broken rather than glitchy
_MAX_REORDER = 16  # H.264/HEVC reorder at most 16 frames (B-frame pyramids)
_AUDIO_GRACE_S = 5.0  # how far past the window probe keeps looking for a first decodable audio frame
_MAX_AUDIO_GAP_S = 0.1  # audio timestamp jumps larger than this are filled with silence
# FFmpeg demuxers an upload may be opened with (``container.format.name`` must be one of these). All read the one
# file they are given: playlists (hls), concat lists, image sequences (image2) and other formats that open further
# files or URLs named inside the upload are refused, or an upload could make the decoder read the server's files.
_ALLOWED_DEMUXERS = frozenset(
    {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpegts", "mpeg", "flv", "asf", "ogg", "gif",
     "wav", "mp3", "aac", "flac", "amr"}  # audio-only files still get their own "no picture" message
)  # fmt: skip
# Passed to avformat_open_input: the demuxer whitelist is checked after probing and before the demuxer reads its
# header (where a playlist would open its segments); protocols are limited to plain files for the one input.
_AV_OPEN_OPTIONS = {
    "protocol_whitelist": "file",
    "format_whitelist": ",".join(sorted(_ALLOWED_DEMUXERS)),
}


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
    max_image_pixels: int = 50_000_000
    # Source pixels decoded per second of video (width x height x frame rate): 4K at 60 fps passes, 8K does not.
    max_video_pixel_rate: float = 4096 * 2160 * 60
    decode_timeout_s: float = 90.0


@dataclass
class MediaInfo:
    """What :func:`probe` learned; enough to plan the analysis and to word warnings (bitrate, truncation)."""

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
    truncated: bool
    size_bytes: int
    # Presentation time (s, container clock) of the first video frame: the zero of every Frame.time_s and of the
    # audio returned by load_audio.
    start_time_s: float = 0.0
    jpeg_quality: float | None = None  # a JPEG photo's quality (IJG 1-100 scale), estimated from its tables


@dataclass
class Frame:
    """One analysis frame; ``rgb`` is upright, downscaled, (H, W, 3) uint8 and C-contiguous.

    ``qp`` is the picture's mean H.264 quantiser (0-51; higher = coarser) when the decoder reports it, else None.
    """

    index: int
    time_s: float
    rgb: np.ndarray
    qp: float | None = None


# ---------------------------------------------------------------------------------------------------------------
# User-facing messages
# ---------------------------------------------------------------------------------------------------------------

_MSG_EMPTY = "This file is empty (0 bytes). Please upload the video again."
_MSG_TEXT = "This looks like a text file, not a video or photo."
_MSG_HTML = (
    "This looks like a web page (HTML), not a video or photo. Download the video itself and upload that file instead."
)
_MSG_PDF = "This looks like a PDF document, not a video or photo."
_MSG_ZIP = (
    "This looks like a ZIP archive or office document, not a video or photo. If it contains a video, extract it first."
)
_MSG_SVG = "This looks like an SVG drawing, not a video or photo."
_MSG_UNKNOWN = (
    "This file is not a video or photo that vaedetect can read. Supported: MP4, MOV, MKV, WebM and AVI videos; "
    "JPEG, PNG, WebP, HEIC, AVIF and BMP photos."
)
_MSG_JXL = (
    "This looks like a JPEG XL photo, which vaedetect cannot read yet. Please convert it to JPEG or PNG (most photo "
    "viewers can) and upload that."
)
_MSG_CORRUPT_VIDEO = (
    "This video file is damaged or incomplete and cannot be read. If it was downloaded or copied, try getting it again."
)
_MSG_NO_FRAMES = (
    "This video contains no pictures that can be decoded; the file may be damaged or incomplete. "
    "If it was downloaded or copied, try getting it again."
)
_MSG_CORRUPT_IMAGE = "This photo is damaged or incomplete and cannot be read. Please upload it again."
_MSG_NO_VIDEO = "This file has sound but no picture; vaedetect needs a video of a face or a photo."


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


# ---------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------


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


def _require_regular_file(path: Path) -> os.stat_result:
    """Refuse anything but a regular file before it is opened: opening a FIFO, a device or ``/proc/self/fd/N`` (a
    pipe) would block the worker or read something that is not an upload."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise InputError("The file could not be found. Please upload it again.", code="not_found") from exc
    except OSError as exc:
        raise InputError("The file could not be opened. Please upload it again.", code="unreadable") from exc
    if stat.S_ISDIR(st.st_mode):
        raise InputError("This is a folder, not a file. Please upload a video or photo.", code="not_found")
    if not stat.S_ISREG(st.st_mode):
        raise InputError("This is not a regular file. Please upload a video or photo.", code="unreadable")
    return st


def _check_pixel_rate(width: int, height: int, fps: float | None, limits: MediaLimits) -> None:
    """Refuse videos whose decoding alone would take minutes: the decoder handles every source pixel, even those of
    frames the analysis skips, so width x height x frame rate is the cost per second of the analysed window."""
    if fps and width * height * fps > limits.max_video_pixel_rate:
        raise LimitExceededError(
            f"This video has {width}×{height} pixels at {fps:.3g} frames per second, more than vaedetect can decode "
            "in reasonable time. Please upload a smaller version or one with fewer frames per second."
        )


def _check_file(path: Path, limits: MediaLimits) -> tuple[int, bytes]:
    """Type, existence, size and the first bytes, all before any decoder sees the file."""
    try:
        size = _require_regular_file(path).st_size
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except InputError:
        raise
    except FileNotFoundError as exc:
        raise InputError("The file could not be found. Please upload it again.", code="not_found") from exc
    except OSError as exc:
        raise InputError("The file could not be opened. Please upload it again.", code="unreadable") from exc
    if size == 0:
        raise EmptyFileError(_MSG_EMPTY)
    if size > limits.max_file_mb * _BYTES_PER_MB:
        raise LimitExceededError(
            f"This file is {size / _BYTES_PER_MB:,.0f} MB; the limit is {limits.max_file_mb:g} MB. "
            "Please upload a shorter or lower-resolution clip."
        )
    return size, head


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for cut in range(4):  # the sniff window may end inside a multi-byte UTF-8 character
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\b\x1b")
    return controls <= 0.01 * max(1, len(text))


def _sniff_non_media(head: bytes) -> str | None:
    """Message for well-known non-media uploads, decided from the first bytes (cheap and precise)."""
    if head.startswith(b"%PDF"):
        return _MSG_PDF
    if head.startswith(b"PK\x03\x04"):
        return _MSG_ZIP
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return _MSG_JXL
    if _looks_like_text(head):
        lowered = head[:2048].lower()
        if b"<html" in lowered or b"<!doctype html" in lowered:
            return _MSG_HTML
        if b"<svg" in lowered:
            return _MSG_SVG
        return _MSG_TEXT
    return None


def _looks_like_container(head: bytes) -> bool:
    """Magic numbers of audio/video containers: such a file that fails to open is damaged, not 'not media'."""
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
        or head.startswith((b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS", b"ID3", b"FLV", b"\x00\x00\x01\xba", b"fLaC"))
        or head.startswith((b"\x30\x26\xb2\x75", b"#!AMR"))
        or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)
    )


def _unreadable(path: Path, head: bytes) -> InputError:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS or head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"BM")):
        return CorruptMediaError(_MSG_CORRUPT_IMAGE)
    if suffix in _VIDEO_SUFFIXES or suffix in _AUDIO_SUFFIXES or _looks_like_container(head):
        return CorruptMediaError(_MSG_CORRUPT_VIDEO)
    return NotMediaError(_MSG_UNKNOWN)


@contextmanager
def _open_av(path: Path, head: bytes, limits: MediaLimits) -> Iterator[av.container.InputContainer]:
    """av.open with an I/O timeout, only plain files and allowlisted demuxers; open failures become user errors and
    the container is always closed."""
    _require_regular_file(path)
    io_timeout = max(0.5, min(30.0, limits.decode_timeout_s))
    try:
        container = av.open(
            str(path),
            mode="r",
            options=dict(_AV_OPEN_OPTIONS),
            timeout=(io_timeout, io_timeout),
            metadata_errors="replace",
        )
    except av.error.ExitError as exc:  # the interrupt callback fired: the open itself ran out of time
        raise _timeout_error(limits) from exc
    except Exception as exc:
        raise _unreadable(path, head) from exc
    if container.format.name not in _ALLOWED_DEMUXERS:  # the whitelist above already refuses these; kept as a check
        container.close()
        raise _unreadable(path, head)
    try:
        yield container
    finally:
        container.close()


@contextmanager
def _wrap_errors(message: str) -> Iterator[None]:
    """Turn any library exception into CorruptMediaError(message) so PyAV/PIL/numpy errors never reach callers."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:
        raise CorruptMediaError(message) from exc


def _pick_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """First real video stream; cover art in music files (attached pictures) does not count as video."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _pick_audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    streams = list(container.streams.audio)
    defaults = [s for s in streams if s.disposition & av.stream.Disposition.default]
    return (defaults or streams or [None])[0]


def _codec_name(stream: av.stream.Stream | None) -> str | None:
    if stream is None:
        return None
    try:
        return stream.codec_context.name
    except Exception:
        return None


def _positive_float(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if math.isfinite(out) and out > 0 else None


def _frame_time(frame: av.frame.Frame, time_base: Fraction | None) -> float | None:
    ts = frame.pts if frame.pts is not None else frame.dts
    if ts is None or time_base is None:
        return None
    return float(ts * time_base)


# Containers whose video timestamps are frame counters guessed by the demuxer: with B-frames the guessed pts come
# out of the decoder shuffled, so the frame count is the only reliable clock (they are constant-rate by design).
_COUNTED_FORMATS = frozenset({"avi"})


class _FrameClock:
    """Presentation time (s, container clock) of successive decoded video frames.

    Uses pts unless they are less monotonic than dts (FFmpeg's best-effort timestamp rule), counts frames for
    AVI and when a frame has no timestamp at all.
    """

    def __init__(self, stream: av.video.stream.VideoStream, fps: float | None, counted: bool) -> None:
        self._tb = stream.time_base
        self._step = 1.0 / (fps or ANALYSIS_FPS)
        self._counted = counted or self._tb is None
        self._start = float(stream.start_time * self._tb) if stream.start_time is not None and self._tb else 0.0
        self._n = 0
        self._last: float | None = None
        self._last_pts: int | None = None
        self._last_dts: int | None = None
        self._faulty_pts = 0
        self._faulty_dts = 0

    def __call__(self, frame: av.video.frame.VideoFrame) -> float:
        pts, dts = frame.pts, frame.dts
        if self._counted:
            t = self._start + self._n * self._step
        else:
            if pts is not None:
                self._faulty_pts += self._last_pts is not None and pts <= self._last_pts
                self._last_pts = pts
            if dts is not None:
                self._faulty_dts += self._last_dts is not None and dts <= self._last_dts
                self._last_dts = dts
            ts = pts if pts is not None and (dts is None or self._faulty_pts <= self._faulty_dts) else dts
            if ts is not None:
                t = float(ts * self._tb)
            else:
                t = self._start if self._last is None else self._last + self._step
        self._n += 1
        self._last = t
        return t


def _rotation_cw(frame: av.video.frame.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Clockwise rotation (0/90/180/270) that makes a stored frame upright.

    PyAV >= 13 exposes the display matrix as ``VideoFrame.rotation`` (counter-clockwise degrees, FFmpeg attaches
    the container's matrix to every decoded frame); the legacy ``rotate`` tag (clockwise) is a fallback for old
    muxers/demuxers that only export metadata.
    """
    ccw = 0.0
    try:
        ccw = float(frame.rotation or 0.0)
    except Exception:
        ccw = 0.0
    if ccw == 0.0:
        try:
            ccw = -float(stream.metadata.get("rotate", 0) or 0)
        except (TypeError, ValueError):
            ccw = 0.0
    return round(-ccw / 90.0) % 4 * 90


def _sample_aspect_ratio(stream: av.video.stream.VideoStream) -> float:
    for owner in (stream, stream.codec_context):
        try:
            sar = _positive_float(owner.sample_aspect_ratio)
        except Exception:
            sar = None
        if sar is not None and 0.2 <= sar <= 5.0:
            return sar
    return 1.0


_CV2_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


# ---------------------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------------------

_EXIF_ROTATION_CW = {3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}


# HEIC/HEIF through libheif. Without it PyAV reads such a photo as a one-second *video* of one repeated frame (ffmpeg
# demuxes the HEVC item), which would be scored as a silent clip. Registered on import, so anything else in the process
# that opens an upload with PIL (the app's photo widget) reads HEIC as well.
pillow_heif.register_heif_opener()


def _try_open_image(path: Path) -> Image.Image | None:
    """PIL image (lazy, header only) or None when the bytes are not a supported still-image format."""
    Image.init()  # register every plugin: Image.open(formats=...) only sees those already loaded
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path, formats=[f for f in _PIL_FORMATS if f in Image.OPEN])
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:
        raise LimitExceededError(
            "This photo has far too many pixels to examine. Please upload a smaller version."
        ) from exc
    except Exception as exc:
        raise CorruptMediaError(_MSG_CORRUPT_IMAGE) from exc


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    """RGB uint8 from any PIL mode: transparency goes onto white (as viewers show it); 16-bit is scaled, not clipped."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im).astype(np.float32)
        if mode.startswith("I;16") or float(arr.max(initial=0.0)) > 255.0:
            arr = arr / 257.0
        gray = np.clip(arr + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA")).astype(np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        rgb = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        return np.ascontiguousarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))
    if mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def _decode_image(im: Image.Image, limits: MediaLimits) -> tuple[np.ndarray, int, int, int]:
    """(rgb, displayed width, displayed height, rotation_deg) for an opened PIL image."""
    stored_w, stored_h = im.size
    orientation = 1
    try:
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Exception:
        orientation = 1
    rotation = _EXIF_ROTATION_CW.get(orientation, 0)
    width, height = (stored_h, stored_w) if rotation in (90, 270) else (stored_w, stored_h)
    if im.format == "HEIF":  # libheif hands the picture over upright and its EXIF orientation reset to 1
        rotation = _EXIF_ROTATION_CW.get(int(im.info.get("original_orientation") or 1), 0)
    _check_dimensions(width, height, limits, "photo")
    if stored_w * stored_h > limits.max_image_pixels:
        raise LimitExceededError(
            f"This photo has {stored_w * stored_h / 1e6:.0f} megapixels, more than the limit of "
            f"{limits.max_image_pixels / 1e6:g} megapixels. Please upload a smaller version."
        )
    out_w, out_h = _fit(width, height, limits.max_side_px)
    try:
        if im.format in ("JPEG", "MPO") and (out_w, out_h) != (width, height):
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that is still at least the target: much faster.
            draft = (out_h, out_w) if rotation in (90, 270) else (out_w, out_h)
            im.draft("RGB", draft)
        im.load()
        im = ImageOps.exif_transpose(im) or im
        rgb = _to_rgb_array(im)
    except InputError:
        raise
    except Exception as exc:
        raise CorruptMediaError(_MSG_CORRUPT_IMAGE) from exc
    if (rgb.shape[1], rgb.shape[0]) != (out_w, out_h):
        rgb = cv2.resize(rgb, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb), width, height, rotation


def load_image(path: str | Path, limits: MediaLimits = MediaLimits()) -> np.ndarray:
    """Decode a photo to upright (EXIF orientation applied), downscaled RGB uint8."""
    path = Path(os.fspath(path))
    _, head = _check_file(path, limits)
    message = _sniff_non_media(head)
    if message is not None:
        raise NotMediaError(message)
    im = _try_open_image(path)
    if im is None:
        raise (
            _unreadable(path, head)
            if path.suffix.lower() in IMAGE_EXTENSIONS
            else NotMediaError("This file is not a photo that vaedetect can read (JPEG, PNG, WebP, HEIC, AVIF or BMP).")
        )
    with im, _wrap_errors(_MSG_CORRUPT_IMAGE):
        return _decode_image(im, limits)[0]


# The IJG (libjpeg) luminance table at quality 50; encoders scale it by quality, so the ratio of a file's table to
# this one gives the quality it was saved at (sums: the same in zigzag or natural order).
_IJG_LUMA_SUM = 3_688


def _jpeg_quality(im: Image.Image) -> float | None:
    """Quality a JPEG was saved at, on the IJG 1-100 scale (what 'quality=' means in most tools); None otherwise."""
    tables = getattr(im, "quantization", None)
    if im.format != "JPEG" or not tables or 0 not in tables:
        return None
    scale = 100.0 * float(np.sum(tables[0])) / _IJG_LUMA_SUM
    if scale <= 0:
        return None
    return float(np.clip((200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale, 1.0, 100.0))


def _probe_image(path: Path, im: Image.Image, size: int, limits: MediaLimits) -> MediaInfo:
    with im, _wrap_errors(_MSG_CORRUPT_IMAGE):
        fmt = (im.format or "image").lower()
        quality = _jpeg_quality(im)
        rgb, width, height, rotation = _decode_image(im, limits)  # full decode: catches truncated photos early
    return MediaInfo(
        path=str(path),
        kind="image",
        container=fmt,
        video_codec=None,
        audio_codec=None,
        width=width,
        height=height,
        frame_width=int(rgb.shape[1]),
        frame_height=int(rgb.shape[0]),
        rotation_deg=rotation,
        source_fps=None,
        variable_frame_rate=False,
        duration_s=0.0,
        analysed_duration_s=0.0,
        n_frames=1,
        has_audio=False,
        video_bitrate_kbps=None,
        truncated=False,
        size_bytes=size,
        jpeg_quality=quality,
    )


# ---------------------------------------------------------------------------------------------------------------
# Video probing
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What one demux pass over the analysed window learned."""

    first_time_s: float | None = None
    first_width: int = 0
    first_height: int = 0
    rotation_deg: int = 0
    packet_pts: list[int] | None = None
    packet_end: int | None = None  # max(pts + duration) in stream ticks
    packet_bytes: int = 0
    reached_eof: bool = False
    audio_ok: bool = False


def _header_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        duration = _positive_float(stream.duration * stream.time_base)
        if duration is not None:
            return duration
    if container.duration is not None:
        return _positive_float(container.duration / av.time_base)
    return None


def _decode_packet(packet: av.packet.Packet) -> list:
    """Decode one packet; a damaged packet yields nothing instead of aborting the whole file."""
    try:
        return list(packet.decode())
    except av.error.FFmpegError:
        return []


def _scan(
    container: av.container.InputContainer,
    vstream: av.video.stream.VideoStream,
    astream: av.audio.stream.AudioStream | None,
    header_duration: float | None,
    limits: MediaLimits,
    budget: _Budget,
) -> _Scan:
    """Demux (not decode) the analysed window; decode only the first video frame and the first audio frame.

    Without a header duration (browser WebM) the whole file is demuxed: packet timestamps are the only source.
    """
    scan = _Scan(packet_pts=[])
    tb = vstream.time_base or Fraction(1, 90_000)
    clock = _FrameClock(vstream, _positive_float(vstream.average_rate), container.format.name in _COUNTED_FORMATS)
    window_ticks = (limits.max_analysis_s + _WINDOW_MARGIN_S) / tb
    first_pts: int | None = None
    failures = 0
    audio_failures = 0
    streams = [vstream] if astream is None else [vstream, astream]
    demuxer = container.demux(streams)
    while True:
        budget.check()
        try:
            packet = next(demuxer)
        except StopIteration:
            scan.reached_eof = True
            break
        except av.error.ExitError as exc:
            raise _timeout_error(limits) from exc
        except av.error.FFmpegError:
            scan.reached_eof = True  # truncated or damaged tail: keep what was readable
            break
        if packet.stream.index == vstream.index:
            if packet.size and packet.pts is not None:
                scan.packet_pts.append(packet.pts)
                scan.packet_bytes += packet.size
                end = packet.pts + (packet.duration or 0)
                scan.packet_end = end if scan.packet_end is None else max(scan.packet_end, end)
                first_pts = packet.pts if first_pts is None else min(first_pts, packet.pts)
            if scan.first_time_s is None:
                frames = _decode_packet(packet)
                if frames:
                    frame = frames[0]
                    scan.first_time_s = clock(frame)
                    scan.first_width, scan.first_height = frame.width, frame.height
                    scan.rotation_deg = _rotation_cw(frame, vstream)
                elif packet.size:
                    failures += 1
                    if failures > _MAX_UNDECODABLE_PACKETS:
                        break
        elif astream is not None and not scan.audio_ok and audio_failures <= _MAX_UNDECODABLE_PACKETS:
            if _decode_packet(packet):
                scan.audio_ok = True
            elif packet.size:
                audio_failures += 1
        if header_duration is None or scan.first_time_s is None or first_pts is None or not scan.packet_pts:
            continue
        past = scan.packet_pts[-1] - first_pts
        audio_settled = scan.audio_ok or astream is None or audio_failures > _MAX_UNDECODABLE_PACKETS
        # Demuxers interleave by time, so audio that has not shown up a few seconds past the window is not in it.
        if past > window_ticks and (audio_settled or past > window_ticks + _AUDIO_GRACE_S / tb):
            break
    return scan


def _probe_video(path: Path, head: bytes, size: int, limits: MediaLimits) -> MediaInfo:
    budget = _Budget(limits)
    with _open_av(path, head, limits) as container, _wrap_errors(_MSG_CORRUPT_VIDEO):
        vstream = _pick_video_stream(container)
        astream = _pick_audio_stream(container)
        if vstream is None:
            if astream is not None:
                raise NoVideoError(_MSG_NO_VIDEO)
            # Subtitles or data only: a real container, just nothing to look at.
            raise NotMediaError(_MSG_UNKNOWN) if len(container.streams) else _unreadable(path, head)
        cc = vstream.codec_context
        if cc.width and cc.height:  # refuse absurd sizes before decoding a single frame
            _check_dimensions(cc.width, cc.height, limits, "video")
        header_duration = _header_duration(container, vstream)
        if header_duration is not None and header_duration > limits.max_source_duration_s:
            raise _too_long(header_duration, limits)
        vstream.thread_type = "AUTO"
        scan = _scan(container, vstream, astream, header_duration, limits, budget)
        if scan.first_time_s is None:
            raise CorruptMediaError(_MSG_NO_FRAMES)

        tb = vstream.time_base or Fraction(1, 90_000)
        origin_ticks = scan.first_time_s / tb
        pts = sorted(p for p in scan.packet_pts or [] if p >= origin_ticks - 1)
        if not scan.reached_eof and len(pts) > 2 * _MAX_REORDER:
            # Packets come in decode order: B-frames presented just before the cut-off are still unread, which
            # would leave holes at the end of the sorted list and look like a variable frame rate.
            pts = pts[:-_MAX_REORDER]
        deltas = np.diff(np.asarray(pts, dtype=np.float64)) if len(pts) >= 2 else np.zeros(0)
        deltas = deltas[deltas > 0]
        median_delta = float(np.median(deltas)) if deltas.size else None

        header_fps = _positive_float(vstream.average_rate)
        packet_fps = float(1.0 / (median_delta * tb)) if median_delta else None
        if scan.reached_eof and len(pts) >= 2 and pts[-1] > pts[0]:
            packet_fps = float((len(pts) - 1) / ((pts[-1] - pts[0]) * tb))
            source_fps = packet_fps
        else:
            source_fps = header_fps or packet_fps or _positive_float(vstream.guessed_rate)
        if source_fps is not None and not 0.1 <= source_fps <= 1000:
            source_fps = header_fps if header_fps and 0.1 <= header_fps <= 1000 else None
        _check_pixel_rate(scan.first_width, scan.first_height, source_fps, limits)

        variable = False
        if median_delta and deltas.size >= 2:
            tolerance = max(0.2 * median_delta, 1.5)
            variable = bool(np.max(np.abs(deltas - median_delta)) > tolerance)

        # Duration of the video track: exact from packets when we saw them all, else the header.
        duration = header_duration
        if (scan.reached_eof or duration is None) and pts:
            # The last frame lasts its packet duration; muxers that leave it 0 (WebM) get the typical interval.
            last_duration = median_delta or float(1.0 / (source_fps or ANALYSIS_FPS) / tb)
            end = scan.packet_end if scan.packet_end is not None and scan.packet_end > pts[-1] else None
            end = end if end is not None else pts[-1] + last_duration
            duration = float((end - pts[0]) * tb)  # pts[0], not the frame origin: AVI guesses pts = dts + delay
        if duration is None or duration <= 0:
            duration = 1.0 / (source_fps or ANALYSIS_FPS)
        if duration > limits.max_source_duration_s:
            raise _too_long(duration, limits)

        bitrate = _positive_float(vstream.bit_rate) or _positive_float(cc.bit_rate)
        if bitrate is None and pts and scan.packet_bytes:
            span = float(((scan.packet_end or pts[-1]) - pts[0]) * tb)
            bitrate = scan.packet_bytes * 8.0 / span if span > 0 else None

        sar = _sample_aspect_ratio(vstream)
        stored_w = max(1, round(scan.first_width * sar))
        stored_h = scan.first_height
        width, height = (stored_h, stored_w) if scan.rotation_deg in (90, 270) else (stored_w, stored_h)
        _check_dimensions(width, height, limits, "video")
        frame_w, frame_h = _fit(width, height, limits.max_side_px)

        analysed = min(duration, limits.max_analysis_s)
        n_frames = max(1, math.ceil(analysed * ANALYSIS_FPS - 1e-6))
        return MediaInfo(
            path=str(path),
            kind="video",
            container=container.format.name,
            video_codec=_codec_name(vstream),
            audio_codec=_codec_name(astream),
            width=width,
            height=height,
            frame_width=frame_w,
            frame_height=frame_h,
            rotation_deg=scan.rotation_deg,
            source_fps=source_fps,
            variable_frame_rate=variable,
            duration_s=duration,
            analysed_duration_s=analysed,
            n_frames=n_frames,
            has_audio=scan.audio_ok,
            video_bitrate_kbps=None if bitrate is None else bitrate / 1000.0,
            truncated=duration > limits.max_analysis_s + 1e-6,
            size_bytes=size,
            start_time_s=scan.first_time_s,
        )


def _too_long(duration: float, limits: MediaLimits) -> LimitExceededError:
    return LimitExceededError(
        f"This video is {_fmt_duration(duration)} long; vaedetect accepts videos up to "
        f"{_fmt_duration(limits.max_source_duration_s)}. Please trim it to the part you want checked."
    )


def probe(path: str | Path, limits: MediaLimits = MediaLimits()) -> MediaInfo:
    """Validate an upload and describe it without decoding it (first frame only); raises InputError subclasses."""
    path = Path(os.fspath(path))
    size, head = _check_file(path, limits)
    message = _sniff_non_media(head)
    if message is not None:
        raise NotMediaError(message)
    im = _try_open_image(path)
    if im is not None:
        return _probe_image(path, im, size, limits)
    return _probe_video(path, head, size, limits)


# ---------------------------------------------------------------------------------------------------------------
# Video decoding
# ---------------------------------------------------------------------------------------------------------------


def _decoded_frames(
    container: av.container.InputContainer,
    stream: av.stream.Stream,
    budget: _Budget,
    limits: MediaLimits,
) -> Iterator[av.frame.Frame]:
    """Decoded frames of one stream, skipping damaged packets and stopping cleanly at a truncated tail."""
    demuxer = container.demux(stream)
    while True:
        budget.check()
        try:
            packet = next(demuxer)
        except StopIteration:
            return
        except av.error.ExitError as exc:
            raise _timeout_error(limits) from exc
        except av.error.FFmpegError:
            with suppress(av.error.FFmpegError):  # truncated/damaged tail: drain what the decoder still holds
                yield from stream.codec_context.decode(None)
            return
        for frame in _decode_packet(packet):
            budget.check()
            yield frame


_ENC_PARAMS_H264 = 1  # AVVideoEncParamsType: quantisers on H.264's 0-51 scale (VP9 and MPEG-2 use other scales)


def _frame_qp(frame: av.video.frame.VideoFrame) -> float | None:
    """Mean quantiser of an H.264 picture, from the AVVideoEncParams side data FFmpeg exports on request.

    The quantiser says how coarsely the encoder threw detail away; bits per pixel, the usual proxy, mostly says how
    much the picture moves (a clean render of a still background has few bits per pixel). None when the decoder does
    not report it (other codecs, or a layout this reader does not know).
    """
    # A container of our own: ``frame.side_data`` caches one on the frame that points back at it, a reference cycle
    # that keeps every decoded picture alive until a full garbage collection (~300 MB over a 60 s 720p clip).
    try:
        found = [sd for sd in SideDataContainer(frame) if sd.type.name == "VIDEO_ENC_PARAMS"]
    except (av.error.FFmpegError, AttributeError, TypeError, ValueError):  # a fact, never a reason to fail the clip
        return None
    for sd in found:
        if struct.calcsize("P") != 8:  # the struct layout below is the 64-bit one
            return None
        try:
            buf = bytes(memoryview(sd))
            (n_blocks,) = struct.unpack_from("=I", buf, 0)
            blocks_offset, block_size = struct.unpack_from("=QQ", buf, 8)
            kind, qp = struct.unpack_from("=ii", buf, 24)
        except (struct.error, TypeError, ValueError):
            return None
        if kind != _ENC_PARAMS_H264 or not 0 <= qp <= 51:
            return None
        if n_blocks and block_size >= 20 and blocks_offset + n_blocks * block_size <= len(buf):
            # AVVideoBlockParams: src_x, src_y, w, h, delta_qp (int32 each); area-weighted mean of the block QPs.
            rows = np.frombuffer(buf, np.uint8, n_blocks * block_size, blocks_offset).reshape(n_blocks, block_size)
            blocks = rows[:, :20].copy().view(np.int32)
            area = blocks[:, 2].astype(np.float64) * blocks[:, 3]
            if area.sum() > 0:
                return float(np.clip(qp + np.average(blocks[:, 4], weights=area), 0, 51))
        return float(qp)
    return None


def _iter_video(path: Path, info: MediaInfo, limits: MediaLimits) -> Iterator[Frame]:
    budget = _Budget(limits)
    rotation = info.rotation_deg
    # Size in the stored orientation: swscale scales, then we rotate the small RGB frame.
    out_w, out_h = info.frame_width, info.frame_height
    if rotation in (90, 270):
        out_w, out_h = out_h, out_w
    downscale = out_w * out_h < info.width * info.height
    interpolation = "AREA" if downscale else None
    # Output frame k shows the latest source frame at or before k/25 s, with half a source frame of tolerance
    # (i.e. the nearest frame), capped at half an analysis frame so we never look further ahead than that.
    fps = info.source_fps or ANALYSIS_FPS
    tolerance = min(0.5 / fps, 0.5 / ANALYSIS_FPS) + 1e-6
    n = info.n_frames

    with _open_av(path, b"", limits) as container, _wrap_errors(_MSG_CORRUPT_VIDEO):
        stream = _pick_video_stream(container)
        if stream is None:
            raise NoVideoError(_MSG_NO_VIDEO)
        stream.thread_type = "AUTO"
        stream.codec_context.options = {"export_side_data": "venc_params"}  # quantisers, for Frame.qp

        def to_rgb(frame: av.video.frame.VideoFrame) -> np.ndarray:
            # Only frames that are emitted get converted (a 60 fps source converts 25 of its 60 frames); swscale
            # scales and converts in one pass. A held frame is converted again so every Frame owns its array.
            arr = frame.to_ndarray(width=out_w, height=out_h, format="rgb24", interpolation=interpolation)
            if rotation:
                arr = cv2.rotate(arr, _CV2_ROTATE[rotation])
            return np.ascontiguousarray(arr)

        clock = _FrameClock(stream, info.source_fps, container.format.name in _COUNTED_FORMATS)
        k = 0
        pending: av.video.frame.VideoFrame | None = None
        origin: float | None = None
        for frame in _decoded_frames(container, stream, budget, limits):
            t_abs = clock(frame)
            if origin is None:
                origin = t_abs
            t = t_abs - origin
            while k < n and t > k / ANALYSIS_FPS + tolerance:
                shown = pending if pending is not None else frame
                yield Frame(index=k, time_s=k / ANALYSIS_FPS, rgb=to_rgb(shown), qp=_frame_qp(shown))
                k += 1
            if k >= n:
                return
            pending = frame
        if pending is None:
            raise CorruptMediaError(_MSG_NO_FRAMES)
        while k < n:  # source ended before the probed duration: hold the last picture
            yield Frame(index=k, time_s=k / ANALYSIS_FPS, rgb=to_rgb(pending), qp=_frame_qp(pending))
            k += 1


def iter_frames(
    path: str | Path,
    info: MediaInfo | None = None,
    limits: MediaLimits = MediaLimits(),
) -> Iterator[Frame]:
    """Lazily yield exactly ``info.n_frames`` upright, downscaled frames at ANALYSIS_FPS (one frame for a photo)."""
    path = Path(os.fspath(path))
    if info is None:
        info = probe(path, limits)
    if info.kind == "image":
        yield Frame(index=0, time_s=0.0, rgb=load_image(path, limits))
        return
    yield from _iter_video(path, info, limits)


# ---------------------------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------------------------


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
