"""Photos: open only still-image formats, decode upright (EXIF orientation) and downscaled, estimate JPEG quality.

Photos are read with PIL (HEIC/HEIF through libheif, AVIF), never PyAV: FFmpeg would read a HEIC as a one-second
video of one repeated frame. The format list is short on purpose: lax PIL plugins would "recognise" random bytes.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from vaedetect.errors import CorruptMediaError, InputError, LimitExceededError, NotMediaError
from vaedetect.media.checks import (
    _MSG_CORRUPT_IMAGE,
    IMAGE_EXTENSIONS,
    _check_file,
    _sniff_non_media,
    _unreadable,
    _wrap_errors,
)
from vaedetect.media.info import MediaInfo
from vaedetect.media.limits import MediaLimits, _check_dimensions, _fit

# Still-image formats PIL may claim. Restricting the list keeps lax plugins (TGA, ...) from "recognising" random
# bytes, and leaves GIF (often animated) to the video path.
# Phone MPO files are opened by the JPEG plugin.
_PIL_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "HEIF", "AVIF")
_EXIF_ROTATION_CW = {3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}
_BAND_PIXELS = 1 << 18  # pixels converted to RGB at a time (a band of rows: a few MB of working arrays)


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
    """RGB uint8 from any PIL mode: transparency goes onto white (as viewers show it); 16-bit is scaled, not clipped.

    Converted a band of rows at a time into one uint8 array, so the only full-size copies are the decoded image and
    this result (``limits.decode_bytes``): a whole-image float copy of a 50 MP photo was gigabytes. Each band
    gets exactly the arithmetic the whole image used to get (alpha composited in integers rounds as the float did).
    """
    width, height = im.size
    mode = im.mode
    rows = max(1, _BAND_PIXELS // max(width, 1))
    out = np.empty((height, width, 3), np.uint8)
    wide = mode.startswith("I;16") or (mode in ("I", "F") and float(im.getextrema()[1]) > 255.0)  # type: ignore[index]
    transparent = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info)
    for top in range(0, height, rows):
        band = im.crop((0, top, width, min(top + rows, height)))
        if mode.startswith("I;16") or mode in ("I", "F"):
            arr = np.asarray(band).astype(np.float32)
            if wide:
                arr = arr / 257.0
            out[top : top + rows] = np.clip(arr + 0.5, 0, 255).astype(np.uint8)[:, :, None]
        elif transparent:
            rgba = np.asarray(band.convert("RGBA")).astype(np.uint32)
            alpha = rgba[:, :, 3:4]
            # round(rgb * a/255 + 255 * (1 - a/255)) in integers: (2n + 255) // 510 with n = rgb*a + 255*(255 - a)
            n = rgba[:, :, :3] * alpha + 255 * (255 - alpha)
            out[top : top + rows] = ((2 * n + 255) // 510).astype(np.uint8)
        else:
            out[top : top + rows] = np.asarray(band if mode == "RGB" else band.convert("RGB"), dtype=np.uint8)
    return out


# EXIF orientation -> the numpy view that shows the picture upright (PIL's ImageOps.exif_transpose, without its
# full-size copy of the decoded image).
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _decode_image(im: Image.Image, limits: MediaLimits) -> tuple[np.ndarray, int, int, int]:
    """(rgb, displayed width, displayed height, rotation_deg) for an opened PIL image.

    Memory: the decoded image (at most 4 bytes per pixel) and its RGB copy (3) are the only full-size arrays, and
    the decoded image is freed (``im`` closed) before the picture is turned upright and downscaled; within
    ``limits.max_image_pixels`` that bounds a photo's decode (:func:`vaedetect.media.limits.decode_bytes`).
    """
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
        upright = _UPRIGHT.get(int(im.getexif().get(0x0112, 1) or 1))  # what exif_transpose would read, after load
        rgb = _to_rgb_array(im)
    except InputError:
        raise
    except Exception as exc:
        raise CorruptMediaError(_MSG_CORRUPT_IMAGE) from exc
    im.close()  # frees the decoded pixels before the upright copy below
    if upright is not None:
        rgb = np.ascontiguousarray(upright(rgb))
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
        cut_to_limit=False,
        size_bytes=size,
        jpeg_quality=quality,
    )
