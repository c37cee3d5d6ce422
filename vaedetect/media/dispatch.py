"""The public front door: check the file, then hand it to the photo reader or the video reader.

Photos are tried first (PIL reads only the header) so that a HEIC or a JPEG never reaches FFmpeg; everything else is
opened as a container.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from vaedetect.errors import NotMediaError
from vaedetect.media.checks import _check_file, _sniff_non_media
from vaedetect.media.images import _probe_image, _try_open_image, load_image
from vaedetect.media.info import Frame, MediaInfo
from vaedetect.media.limits import MediaLimits
from vaedetect.media.video import _iter_video, _probe_video


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
