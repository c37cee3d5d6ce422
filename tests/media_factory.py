"""Write small synthetic media files for tests (no downloads, no fixtures on disk).

Everything is encoded in-process with PyAV (the same FFmpeg libraries vaedetect decodes with), which is fast
and needs no ffmpeg binary on PATH. :func:`ffmpeg_exe` gives the bundled ffmpeg binary from imageio-ffmpeg for
tests that want an independent reference decoder.

Conventions: frames are RGB uint8 arrays (T, H, W, 3) with even H and W (H.264/VP8 4:2:0 need even sizes); audio is
float32 mono in [-1, 1].
"""

from __future__ import annotations

import itertools
import struct
import wave
import zlib
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = [
    "ffmpeg_exe",
    "moving_pattern_frames",
    "tone",
    "write_audio_only",
    "write_big_rgba_png",
    "write_browser_webm",
    "write_vfr_video",
    "write_video",
    "write_zero_frame_video",
]

_FORMAT_BY_SUFFIX = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm"}
_X264_OPTIONS = {"preset": "veryfast", "crf": "16"}
_VPX_OPTIONS = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg (never a system ffmpeg)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _as_frames(frames: Iterable[np.ndarray] | np.ndarray) -> Iterable[np.ndarray]:
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {i}: expected (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
        if frame.shape[0] % 2 or frame.shape[1] % 2:
            raise ValueError(f"frame {i}: height and width must be even for 4:2:0 video, got {frame.shape[:2]}")
        yield np.ascontiguousarray(frame)


def _add_video_stream(
    container: av.container.OutputContainer, codec: str, fps: float, shape: tuple[int, ...], crf: int | None = None
):
    rate = Fraction(fps).limit_denominator(1001)
    stream = container.add_stream(codec, rate=rate)
    stream.height, stream.width = int(shape[0]), int(shape[1])
    stream.pix_fmt = "yuv420p"
    if codec in ("libx264", "h264"):
        stream.codec_context.options = {**_X264_OPTIONS, **({"crf": str(crf)} if crf is not None else {})}
    elif codec.startswith("libvpx"):
        stream.bit_rate = 2_000_000
        stream.codec_context.options = dict(_VPX_OPTIONS)
    elif codec in ("mpeg4", "mjpeg"):
        stream.bit_rate = 4_000_000
        if codec == "mjpeg":
            stream.pix_fmt = "yuvj420p"
    return stream


def _add_audio_stream(container: av.container.OutputContainer, codec: str, sample_rate: int):
    stream = container.add_stream(codec, rate=sample_rate)
    stream.layout = "mono"
    return stream


def _codec_rate(codec: str, sample_rate: int) -> int:
    """Opus only encodes at a few rates; PyAV resamples the input frames to the stream's rate."""
    if codec == "libopus" and sample_rate not in (8000, 12000, 16000, 24000, 48000):
        return 48000
    return sample_rate


def _encode_audio(container, stream, audio: np.ndarray, sample_rate: int, offset_s: float = 0.0) -> None:
    audio = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    chunk = 1024
    first = round(offset_s * sample_rate)
    for start in range(0, audio.size, chunk):
        block = np.ascontiguousarray(audio[None, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(block, format="flt", layout="mono")
        frame.sample_rate = sample_rate
        frame.time_base = Fraction(1, sample_rate)
        frame.pts = first + start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray] | np.ndarray,
    fps: float = 25,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    codec: str = "libx264",
    rotation: int = 0,
    container_format: str | None = None,
    *,
    audio_offset_s: float = 0.0,
    faststart: bool = False,
    crf: int | None = None,
) -> Path:
    """Encode RGB frames (and optional mono audio) into mp4/mov/mkv/avi/webm, chosen by suffix.

    ``rotation`` (0/90/180/270) is the clockwise rotation a player applies for display, as phones record portrait
    video (legacy ``rotate`` tag semantics); it is written as a display matrix. ``audio_offset_s`` starts the audio
    track later than the video; ``faststart`` puts the mp4 index first (as web uploads usually are); ``crf`` sets
    x264's quality (default 16, near-lossless; 40+ is heavily compressed).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = container_format or _FORMAT_BY_SUFFIX.get(suffix)
    if fmt is None:
        raise ValueError(f"unknown container for suffix {suffix!r}; pass container_format")
    if rotation % 90 or rotation % 360 not in (0, 90, 180, 270):
        raise ValueError("rotation must be a multiple of 90 degrees")
    if fmt == "webm" and codec == "libx264":
        codec = "libvpx"
    audio_codec = {"avi": "pcm_s16le", "webm": "libopus"}.get(fmt, "aac")
    options = {"movflags": "+faststart"} if faststart and fmt in ("mp4", "mov") else {}

    frame_iter = iter(_as_frames(frames))
    first = next(frame_iter, None)
    if first is None:
        raise ValueError("write_video needs at least one frame (see write_zero_frame_video)")
    with av.open(str(path), mode="w", format=fmt, options=options) as container:
        vstream = _add_video_stream(container, codec, fps, first.shape, crf)
        if rotation % 360:
            vstream.set_display_rotation(-(rotation % 360))  # PyAV takes counter-clockwise degrees
        astream = None
        if audio is not None:
            astream = _add_audio_stream(container, audio_codec, _codec_rate(audio_codec, sample_rate))
        _encode_video_frame(container, vstream, first, 0)
        for index, rgb in enumerate(frame_iter, start=1):
            _encode_video_frame(container, vstream, rgb, index)
        for packet in vstream.encode(None):
            container.mux(packet)
        if astream is not None:
            _encode_audio(container, astream, audio, sample_rate, audio_offset_s)
    return path


def _encode_video_frame(container, stream, rgb: np.ndarray, pts: int) -> None:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    frame.pts = pts
    frame.time_base = 1 / stream.codec_context.framerate
    for packet in stream.encode(frame):
        container.mux(packet)


def write_zero_frame_video(path: str | Path, width: int = 64, height: int = 64, n: int = 5) -> Path:
    """An mp4 whose index declares ``n`` H.264 frames but whose picture data is blanked: it opens, yet zero frames
    decode (muxers drop tracks that have no samples at all, so this is the closest real "zero-frame" file)."""
    path = Path(path)
    write_video(path, moving_pattern_frames(n, height, width), faststart=True)
    data = bytearray(path.read_bytes())
    payload = data.index(b"mdat") + 4  # faststart: mdat is the last box
    data[payload:] = bytes(len(data) - payload)
    path.write_bytes(bytes(data))
    return path


def write_vfr_video(path: str | Path, frames: Iterable[np.ndarray] | np.ndarray, times_s: Iterable[float]) -> Path:
    """Variable-frame-rate H.264 mp4: frame i is presented at ``times_s[i]`` (ms precision, increasing)."""
    path = Path(path)
    times = [float(t) for t in times_s]
    frame_list = list(_as_frames(frames))
    if len(times) != len(frame_list):
        raise ValueError("times_s must have one entry per frame")
    ticks = [round(t * 1000) for t in times]
    if any(b <= a for a, b in itertools.pairwise(ticks)):
        raise ValueError("times_s must be strictly increasing (at 1 ms resolution)")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.height, stream.width = frame_list[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = dict(_X264_OPTIONS)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.time_base = Fraction(1, 1000)
        for rgb, tick in zip(frame_list, ticks, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = tick
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


class _PipeWriter:
    """Write-only file wrapper without seek/tell: FFmpeg then muxes as if writing to a pipe (no back-patching)."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def write(self, data) -> int:
        return self._fh.write(data)


def write_browser_webm(
    path: str | Path,
    frames: Iterable[np.ndarray] | np.ndarray,
    fps: float = 30,
    audio: np.ndarray | None = None,
    sample_rate: int = 48000,
    codec: str = "libvpx",
) -> Path:
    """WebM like Chrome's MediaRecorder: VP8 (or ``codec="libvpx-vp9"``) + Opus streamed to a non-seekable sink,
    so the header carries no duration and no cues; asserts that PyAV indeed reports ``container.duration is None``.
    """
    path = Path(path)
    frame_iter = iter(_as_frames(frames))
    first = next(frame_iter, None)
    if first is None:
        raise ValueError("write_browser_webm needs at least one frame")
    with path.open("wb") as fh:
        container = av.open(_PipeWriter(fh), mode="w", format="webm")
        try:
            vstream = _add_video_stream(container, codec, fps, first.shape)
            astream = None
            if audio is not None:
                astream = _add_audio_stream(container, "libopus", _codec_rate("libopus", sample_rate))
            _encode_video_frame(container, vstream, first, 0)
            for index, rgb in enumerate(frame_iter, start=1):
                _encode_video_frame(container, vstream, rgb, index)
            for packet in vstream.encode(None):
                container.mux(packet)
            if astream is not None:
                _encode_audio(container, astream, audio, sample_rate)
        finally:
            container.close()
    with av.open(str(path)) as check:
        assert check.duration is None, f"expected a WebM without duration, got {check.duration}"
    return path


def write_audio_only(path: str | Path, audio: np.ndarray, sample_rate: int = 16000) -> Path:
    """Audio-only file: 16-bit PCM .wav (stdlib), or .m4a (AAC) / .mp3 via PyAV."""
    path = Path(path)
    audio = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    suffix = path.suffix.lower()
    if suffix == ".wav":
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes((audio * 32767.0).round().astype("<i2").tobytes())
        return path
    fmt, codec = {".m4a": ("ipod", "aac"), ".mp3": ("mp3", "libmp3lame")}.get(suffix, (None, None))
    if fmt is None:
        raise ValueError(f"unsupported audio suffix {suffix!r} (use .wav, .m4a or .mp3)")
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = _add_audio_stream(container, codec, sample_rate)
        _encode_audio(container, stream, audio, sample_rate)
    return path


def tone(
    duration_s: float,
    freq_hz: float = 220.0,
    sample_rate: int = 16000,
    amplitude: float = 0.3,
    envelope: np.ndarray | None = None,
) -> np.ndarray:
    """Sine tone, float32 mono. ``envelope`` (any length >= 1, values ~0..1) is stretched linearly over the tone."""
    n = round(duration_s * sample_rate)
    t = np.arange(n, dtype=np.float64) / sample_rate
    signal = amplitude * np.sin(2.0 * np.pi * freq_hz * t)
    if envelope is not None:
        env = np.asarray(envelope, dtype=np.float64).reshape(-1)
        if env.size == 1:
            env = np.full(n, env[0])
        elif env.size != n:
            env = np.interp(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, env.size), env)
        signal = signal * env
    return signal.astype(np.float32)


def moving_pattern_frames(n: int, height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """Non-face frames that move everywhere (drifting gradient, moving disc and square), so no frame repeats."""
    rng = np.random.default_rng(seed)
    colors = rng.integers(40, 256, size=(2, 3))
    phase = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((n, height, width, 3), dtype=np.uint8)
    radius = max(2, min(height, width) // 8)
    side = max(2, min(height, width) // 6)
    for i in range(n):
        s = i / max(1, n)
        out[i, :, :, 0] = (127 + 100 * np.sin(2 * np.pi * (xx / width + s) + phase)).astype(np.uint8)
        out[i, :, :, 1] = (127 + 100 * np.cos(2 * np.pi * (yy / height - s))).astype(np.uint8)
        out[i, :, :, 2] = ((xx + yy + 4 * i) % 256).astype(np.uint8)
        cx = int((0.2 + 0.6 * s) * width)
        cy = int((0.5 + 0.3 * np.sin(2 * np.pi * s + phase)) * height)
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
        out[i][disc] = colors[0]
        sx = int((0.8 - 0.6 * s) * (width - side))
        sy = int(0.2 * (height - side))
        out[i, sy : sy + side, sx : sx + side] = colors[1]
    return out


def write_big_rgba_png(path: str | Path, width: int = 8192, height: int = 6100, band_px: int = 64) -> Path:
    """An RGBA PNG of many megapixels in a few hundred kB (issue 34: 8192x6100, 194 kB), written row by row so making
    it costs no more memory than one row: bands of one colour gradient, alpha from clear to opaque across each row."""
    x = np.arange(width)
    ramp = (x * 255 // max(width - 1, 1)).astype(np.uint8)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    body = []
    same_as_above = b"\x02" + bytes(width * 4)  # filter "Up" with zero deltas: the row above again
    for y in range(height):
        if y % band_px:
            body.append(packer.compress(same_as_above))
            continue
        band = y // band_px
        rgba = np.stack([ramp, np.full(width, (band * 37) % 256, np.uint8), 255 - ramp, ramp], axis=1)
        sub = np.diff(rgba.astype(np.int16), axis=0, prepend=0).astype(np.uint8)  # filter "Sub": left deltas
        body.append(packer.compress(b"\x01" + sub.tobytes()))
    body.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b"")
    path = Path(path)
    path.write_bytes(data)
    return path
