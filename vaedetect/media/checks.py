"""What an upload is, decided before any decoder sees it, and the sentences that refuse it.

Opening a FIFO or a device would block the worker, and a decoder handed a PDF or a web page fails with an error no
journalist can act on; so the file's type, size and first bytes are checked here first, and well-known non-media
files (text, HTML, PDF, ZIP, SVG, JPEG XL) get a message that names them. :func:`_unreadable` words what is left:
a file that looks like a photo or a video but cannot be opened is damaged, anything else is not media.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vaedetect.errors import CorruptMediaError, EmptyFileError, InputError, LimitExceededError, NotMediaError
from vaedetect.media.limits import MediaLimits

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".heic", ".heif", ".avif"})
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".3gp", ".3g2", ".mpg", ".mpeg", ".ts", ".mts",
     ".m2ts", ".flv", ".wmv", ".asf", ".ogv", ".ogg", ".gif"}
)  # fmt: skip
_AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".aac", ".flac", ".opus", ".oga", ".wma", ".amr"})
_SNIFF_BYTES = 4096
_BYTES_PER_MB = 1024 * 1024


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
    if suffix in VIDEO_EXTENSIONS or suffix in _AUDIO_SUFFIXES or _looks_like_container(head):
        return CorruptMediaError(_MSG_CORRUPT_VIDEO)
    return NotMediaError(_MSG_UNKNOWN)


@contextmanager
def _wrap_errors(message: str) -> Iterator[None]:
    """Turn any library exception into CorruptMediaError(message) so PyAV/PIL/numpy errors never reach callers."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:
        raise CorruptMediaError(message) from exc
