"""Video: probe a clip cheaply, then decode it to upright, downscaled RGB frames at :data:`ANALYSIS_FPS`.

:func:`_probe_video` demuxes packets of the analysed window only (decoding just the first video frame and the first
audio frame), and the whole file only when the header has no duration (browser MediaRecorder WebM): packet timestamps
are then the only source of duration and frame rate. Times are relative to the first decoded video frame, so
``start_time != 0`` and audio that starts later than the video line up. ``MediaInfo.rotation_deg`` is the clockwise
rotation that makes stored frames upright (a phone's portrait clip reports 90), read from the display matrix.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.sidedata.sidedata import SideDataContainer

from vaedetect.audio import ANALYSIS_FPS
from vaedetect.errors import CorruptMediaError, NotMediaError, NoVideoError
from vaedetect.media.checks import (
    _MSG_CORRUPT_VIDEO,
    _MSG_NO_FRAMES,
    _MSG_NO_VIDEO,
    _MSG_UNKNOWN,
    _unreadable,
    _wrap_errors,
)
from vaedetect.media.container import (
    _COUNTED_FORMATS,
    _codec_name,
    _decode_packet,
    _decoded_frames,
    _FrameClock,
    _open_av,
    _pick_audio_stream,
    _pick_video_stream,
    _positive_float,
)
from vaedetect.media.info import Frame, MediaInfo
from vaedetect.media.limits import (
    MediaLimits,
    _Budget,
    _check_dimensions,
    _check_pixel_rate,
    _fit,
    _timeout_error,
    _too_long,
)

_WINDOW_MARGIN_S = 1.0  # demux this far past the analysed window so the last analysis frame has its successor
_MAX_UNDECODABLE_PACKETS = 200  # consecutive failures before we call a stream broken rather than glitchy
_MAX_REORDER = 16  # H.264/HEVC reorder at most 16 frames (B-frame pyramids)
_AUDIO_GRACE_S = 5.0  # how far past the window probe keeps looking for a first decodable audio frame
# A file whose readable video ends this much (and this share) before what its index promises is called incomplete.
INCOMPLETE_MIN_MISSING_S = 0.5
INCOMPLETE_MIN_MISSING_FRACTION = 0.1
_ENC_PARAMS_H264 = 1  # AVVideoEncParamsType: quantisers on H.264's 0-51 scale (VP9 and MPEG-2 use other scales)


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
    cut_short: bool = False  # the demuxer failed before the end: the file's tail is missing or damaged
    audio_ok: bool = False


def _header_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        duration = _positive_float(stream.duration * stream.time_base)
        if duration is not None:
            return duration
    if container.duration is not None:
        return _positive_float(container.duration / av.time_base)
    return None


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
            scan.reached_eof = scan.cut_short = True  # truncated or damaged tail: keep what was readable
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
        promised = _promised_duration(header_duration, vstream.frames, header_fps)
        incomplete = scan.reached_eof and _clearly_shorter(duration, promised)

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
            cut_to_limit=duration > limits.max_analysis_s + 1e-6,
            size_bytes=size,
            start_time_s=scan.first_time_s,
            incomplete=incomplete,
            promised_duration_s=promised if incomplete else None,
        )


def _promised_duration(header_duration: float | None, header_frames: int, header_fps: float | None) -> float | None:
    """What the container's header says the video lasts: its duration, else its frame count at its frame rate (the
    header's rate: the rate measured on a cut file's few packets says nothing about the promise)."""
    if header_duration is not None:
        return header_duration
    return header_frames / header_fps if header_frames and header_fps else None


def _clearly_shorter(readable_s: float, promised_s: float | None) -> bool:
    """The readable video ends well before the promised end: a cut-off download, not a muxer's rounding (audio a
    few frames longer than the video, an edit list that trims a GOP)."""
    if promised_s is None:
        return False
    missing = promised_s - readable_s
    return missing >= INCOMPLETE_MIN_MISSING_S and missing >= INCOMPLETE_MIN_MISSING_FRACTION * promised_s


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
