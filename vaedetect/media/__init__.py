"""Open, validate and decode the user's clip (video, audio) or photo.

Everything downstream (faces, audio, models) sees the same normalised media: RGB frames at a fixed
:data:`ANALYSIS_FPS`, rotated upright and downscaled to at most ``max_side_px``, plus mono float32 audio at
:data:`SAMPLE_RATE_HZ` aligned to the first video frame. This package is the only place that touches PyAV/PIL, so
every way an upload can be unusable ends here as an :class:`~vaedetect.errors.InputError` with a sentence a
journalist understands; library exceptions never escape the public functions.

Where things are (import the public names from here, not from the modules):

* :mod:`~vaedetect.media.info` - :class:`MediaInfo` and :class:`Frame`, what the rest of the library receives.
* :mod:`~vaedetect.media.limits` - :class:`MediaLimits`, the checks against them, the decode-time budget and the
  memory a photo's decode may take (:func:`decode_bytes`).
* :mod:`~vaedetect.media.checks` - file type, size and first-bytes sniffing of non-media uploads; refusal messages.
* :mod:`~vaedetect.media.dispatch` - :func:`probe` and :func:`iter_frames`: photo reader or video reader.
* :mod:`~vaedetect.media.images` - photos (EXIF rotation, HEIC/AVIF, JPEG quality): :func:`load_image`.
* :mod:`~vaedetect.media.container` - PyAV plumbing: the demuxer allowlist, stream choice, decode loop, clocks.
* :mod:`~vaedetect.media.video` - probing a clip (rotation, browser WebM without duration) and decoding its frames.
* :mod:`~vaedetect.media.audio` - :func:`load_audio`.

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
* Importing this package registers the HEIC/HEIF opener with PIL (see :mod:`~vaedetect.media.images`), so anything
  else in the process that opens an upload with PIL (the app's photo widget) reads HEIC as well.
"""

from __future__ import annotations

from vaedetect.audio import ANALYSIS_FPS, SAMPLE_RATE_HZ
from vaedetect.media.audio import load_audio
from vaedetect.media.checks import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from vaedetect.media.dispatch import iter_frames, probe
from vaedetect.media.images import load_image
from vaedetect.media.info import Frame, MediaInfo
from vaedetect.media.limits import MediaLimits, decode_bytes

__all__ = [
    "ANALYSIS_FPS",
    "IMAGE_EXTENSIONS",
    "SAMPLE_RATE_HZ",
    "VIDEO_EXTENSIONS",
    "Frame",
    "MediaInfo",
    "MediaLimits",
    "decode_bytes",
    "iter_frames",
    "load_audio",
    "load_image",
    "probe",
]
