"""PyAV plumbing shared by the video and audio readers: a safe open, stream choice, a tolerant decode loop, clocks.

Every container is opened through :func:`_open_av`, which allows plain files only and the allowlisted demuxers, so an
upload cannot make FFmpeg open other files or URLs named inside it (playlists, concat lists, image sequences). The
decode loop skips damaged packets and stops cleanly at a truncated tail, under the call's wall-clock budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from fractions import Fraction
from pathlib import Path

import av

from vaedetect.audio import ANALYSIS_FPS
from vaedetect.media.checks import _require_regular_file, _unreadable
from vaedetect.media.limits import MediaLimits, _Budget, _timeout_error

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


def _decode_packet(packet: av.packet.Packet) -> list:
    """Decode one packet; a damaged packet yields nothing instead of aborting the whole file."""
    try:
        return list(packet.decode())
    except av.error.FFmpegError:
        return []


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
