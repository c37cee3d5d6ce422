"""Tests for vaedetect.media: decoding, resampling, rotation, audio alignment and every way an upload can be bad."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vaedetect import media
from vaedetect.errors import (
    CorruptMediaError,
    DecodeTimeoutError,
    EmptyFileError,
    InputError,
    LimitExceededError,
    NotMediaError,
    NoVideoError,
)

try:  # pytest puts tests/ on sys.path (no __init__.py); fall back for runs from the repo root as a package
    import media_factory as mf
except ImportError:  # pragma: no cover
    from tests import media_factory as mf

H, W = 96, 128  # small but with room for the frame-number code
_BITS = 7
_BLOCK = 16


def coded_frames(n: int, height: int = H, width: int = W, seed: int = 0) -> np.ndarray:
    """Moving frames whose top band carries the frame number as black/white blocks (survives compression)."""
    frames = mf.moving_pattern_frames(n, height, width, seed=seed)
    for i in range(n):
        for bit in range(_BITS):
            frames[i, :_BLOCK, bit * _BLOCK : (bit + 1) * _BLOCK] = 255 if (i >> bit) & 1 else 0
    return frames


def read_code(rgb: np.ndarray, width: int = W) -> int:
    """Frame number written by coded_frames, read at block centres (scale-independent)."""
    scale = rgb.shape[1] / width
    y = int(_BLOCK / 2 * scale)
    value = 0
    for bit in range(_BITS):
        x = int((bit + 0.5) * _BLOCK * scale)
        if rgb[y, x].mean() > 127:
            value |= 1 << bit
    return value


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clips shared by several tests (encoding is the slow part of this module)."""
    root = tmp_path_factory.mktemp("clips")
    speech = mf.tone(2.0, envelope=np.r_[np.zeros(50), np.ones(50)])  # silent for 1.0 s, then a tone
    return {
        "mp4": mf.write_video(root / "clip.mp4", coded_frames(50), fps=25, audio=speech),
        "silent": mf.write_video(root / "silent.mp4", coded_frames(25), fps=25),
    }


# ---------------------------------------------------------------------------------------------------------------
# Frame timing
# ---------------------------------------------------------------------------------------------------------------


def test_mp4_frames_are_resampled_to_25_fps_with_timestamps(clips: dict[str, Path]) -> None:
    info = media.probe(clips["mp4"])
    assert info.kind == "video"
    assert info.container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.frame_width, info.frame_height) == (W, H, W, H)
    assert info.source_fps == pytest.approx(25.0)
    assert not info.variable_frame_rate
    assert info.duration_s == pytest.approx(2.0, abs=0.01)
    assert info.n_frames == 50 and not info.cut_to_limit and not info.incomplete and info.has_audio
    assert info.video_bitrate_kbps is not None and info.video_bitrate_kbps > 0
    assert info.size_bytes == clips["mp4"].stat().st_size

    frames = list(media.iter_frames(clips["mp4"], info))
    assert [f.index for f in frames] == list(range(50))
    assert [f.time_s for f in frames] == pytest.approx([k / 25 for k in range(50)])
    for f in frames:
        assert f.rgb.shape == (H, W, 3) and f.rgb.dtype == np.uint8 and f.rgb.flags.c_contiguous
    assert [read_code(f.rgb) for f in frames] == list(range(50))


@pytest.mark.parametrize("fps", [30, 50, 60])
def test_high_fps_sources_pick_the_nearest_source_frame(tmp_path: Path, fps: int) -> None:
    path = mf.write_video(tmp_path / f"fps{fps}.mp4", coded_frames(fps), fps=fps)  # 1 s
    info = media.probe(path)
    assert info.source_fps == pytest.approx(fps)
    assert info.n_frames == 25
    codes = [read_code(f.rgb) for f in media.iter_frames(path, info)]
    expected = [int(np.floor(k * fps / 25 + 0.5)) for k in range(25)]  # nearest source frame, ties to the later
    assert codes == expected


def test_60fps_and_vfr_sources_resample_to_analysis_rate(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    gaps = rng.choice([1 / 60, 1 / 30, 1 / 15, 0.1], size=40)
    times = np.round(np.r_[0.0, np.cumsum(gaps)[:-1]], 3)
    path = mf.write_vfr_video(tmp_path / "vfr.mp4", coded_frames(40), times)
    info = media.probe(path)
    assert info.variable_frame_rate
    assert info.duration_s == pytest.approx(times[-1], abs=0.15)
    frames = list(media.iter_frames(path, info))
    assert len(frames) == info.n_frames == int(np.ceil(info.duration_s * 25 - 1e-6))
    tolerance = min(0.5 / info.source_fps, 0.5 / 25)
    for f in frames:
        expected = int(np.searchsorted(times, f.time_s + tolerance + 1e-6, side="right")) - 1
        assert read_code(f.rgb) == expected, f.time_s
        assert abs(times[expected] - f.time_s) <= 0.1  # never further off than the longest gap

    sixty = mf.write_video(tmp_path / "cfr60.mp4", coded_frames(30), fps=60)
    info60 = media.probe(sixty)
    assert not info60.variable_frame_rate and info60.source_fps == pytest.approx(60)
    assert len(list(media.iter_frames(sixty, info60))) == info60.n_frames == 13


def test_nonzero_start_time_is_the_time_origin(tmp_path: Path) -> None:
    path = mf.write_video(tmp_path / "src.mp4", coded_frames(25), fps=25)
    shifted = tmp_path / "shifted.ts"
    subprocess.run(  # MPEG-TS starts its clock at 1.4 s; frame 0 must still be at 0.0
        [mf.ffmpeg_exe(), "-v", "error", "-y", "-i", str(path), "-c", "copy", str(shifted)], check=True
    )
    info = media.probe(shifted)
    assert info.start_time_s > 0.5
    assert info.n_frames == 25
    assert [read_code(f.rgb) for f in media.iter_frames(shifted, info)] == list(range(25))


# ---------------------------------------------------------------------------------------------------------------
# Containers, browser WebM, rotation, size
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "container", "audio_codec"),
    [
        ("mov", "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
        ("mkv", "matroska,webm", "aac"),
        ("avi", "avi", "pcm_s16le"),
        ("webm", "matroska,webm", "opus"),
    ],
)
def test_mov_mkv_avi_webm_containers_decode(tmp_path: Path, suffix: str, container: str, audio_codec: str) -> None:
    rate = 48000 if suffix == "webm" else 16000
    audio = mf.tone(1.0, sample_rate=rate)
    path = mf.write_video(tmp_path / f"clip.{suffix}", coded_frames(25), fps=25, audio=audio, sample_rate=rate)
    info = media.probe(path)
    assert (info.container, info.audio_codec, info.has_audio) == (container, audio_codec, True)
    assert info.duration_s == pytest.approx(1.0, abs=0.05)
    assert info.n_frames == 25
    assert [read_code(f.rgb) for f in media.iter_frames(path, info)] == list(range(25))
    wav = media.load_audio(path, info)
    assert wav is not None and wav.shape == (16000,) and wav.dtype == np.float32
    assert np.sqrt(np.mean(wav[2000:14000] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.15)


def test_browser_webm_without_duration_gets_duration_from_packets(tmp_path: Path) -> None:
    path = mf.write_browser_webm(tmp_path / "rec.webm", coded_frames(45), fps=30, audio=mf.tone(1.5, sample_rate=48000))
    info = media.probe(path)  # the factory already asserted that the header has no duration
    assert (info.video_codec, info.audio_codec) == ("vp8", "opus")
    assert info.duration_s == pytest.approx(1.5, abs=0.05)
    assert info.source_fps == pytest.approx(30, abs=0.5)
    assert info.n_frames == 38
    frames = list(media.iter_frames(path, info))
    assert len(frames) == 38
    assert [read_code(f.rgb) for f in frames] == [int(np.floor(k * 30 / 25 + 0.5)) for k in range(38)]
    wav = media.load_audio(path, info)
    assert wav is not None and wav.shape == (round(info.analysed_duration_s * 16000),)
    assert np.abs(wav[4000:20000]).max() > 0.2


def _marker_corner(rgb: np.ndarray) -> str:
    """Which corner holds the red marker."""
    h, w = rgb.shape[:2]
    corners = {
        "top-left": rgb[: h // 4, : w // 4],
        "top-right": rgb[: h // 4, -w // 4 :],
        "bottom-left": rgb[-h // 4 :, : w // 4],
        "bottom-right": rgb[-h // 4 :, -w // 4 :],
    }
    redness = {k: float(v[..., 0].mean() - v[..., 1:].mean()) for k, v in corners.items()}
    return max(redness, key=redness.get)


def _upright_with_marker(height: int = 96, width: int = 64) -> np.ndarray:
    img = np.full((height, width, 3), 90, np.uint8)
    img[: height // 5, : width // 5] = (255, 0, 0)  # red block top-left of the upright picture
    img[-height // 6 :, :] = (0, 0, 255)  # blue band at the bottom: an asymmetric "floor"
    return img


_UNDO = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_is_honoured(tmp_path: Path, rotation: int) -> None:
    upright = _upright_with_marker()
    stored = cv2.rotate(upright, _UNDO[rotation])  # what a phone sensor records
    path = mf.write_video(tmp_path / f"rot{rotation}.mp4", np.stack([stored] * 3), rotation=rotation)

    # Independent reference: ffmpeg's own autorotation shows the upright picture.
    raw = subprocess.run(
        [mf.ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    assert _marker_corner(np.frombuffer(raw, np.uint8).reshape(upright.shape)) == "top-left"

    info = media.probe(path)
    assert info.rotation_deg == rotation
    assert (info.width, info.height) == (upright.shape[1], upright.shape[0])
    frame = next(iter(media.iter_frames(path, info)))
    assert frame.rgb.shape == upright.shape and frame.rgb.flags.c_contiguous
    assert _marker_corner(frame.rgb) == "top-left"
    assert np.abs(frame.rgb.astype(int) - upright).mean() < 8


def test_large_frames_are_downscaled_early(tmp_path: Path) -> None:
    big = coded_frames(3, height=900, width=1600)
    path = mf.write_video(tmp_path / "big.mp4", big)
    info = media.probe(path)
    assert (info.width, info.height, info.frame_width, info.frame_height) == (1600, 900, 1280, 720)
    frames = list(media.iter_frames(path, info))
    assert frames[0].rgb.shape == (720, 1280, 3)
    assert [read_code(f.rgb, width=1600) for f in frames] == [0, 1, 2]

    # Downscale and rotation together, via a small limit: 128x96 stored, shown 96x128, limit 64 -> 48x64.
    rotated = mf.write_video(tmp_path / "rot.mp4", coded_frames(2), rotation=90)
    small = media.probe(rotated, media.MediaLimits(max_side_px=64))
    assert (small.width, small.height, small.frame_width, small.frame_height) == (H, W, 48, 64)
    assert next(iter(media.iter_frames(rotated, small))).rgb.shape == (64, 48, 3)


# ---------------------------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------------------------


def _onset(wav: np.ndarray, threshold: float = 0.1) -> int:
    return int(np.argmax(np.abs(wav) > threshold))


def test_audio_is_mono_16k_and_aligned(clips: dict[str, Path]) -> None:
    wav = media.load_audio(clips["mp4"])
    assert wav is not None and wav.dtype == np.float32 and wav.ndim == 1
    assert wav.shape == (32000,)
    assert float(np.abs(wav).max()) <= 1.0
    assert abs(_onset(wav) - 16000) <= 160  # 10 ms
    assert np.abs(wav[:15000]).max() < 0.02


def test_audio_starting_late_short_or_long_is_padded_or_cut(tmp_path: Path) -> None:
    late = mf.write_video(tmp_path / "late.mp4", coded_frames(50), audio=mf.tone(0.5), audio_offset_s=1.0)
    wav = media.load_audio(late)
    assert wav is not None and wav.shape == (32000,)
    assert abs(_onset(wav) - 16000) <= 160
    assert np.abs(wav[:15500]).max() < 0.02 and np.abs(wav[-7000:]).max() < 0.02  # zeros before and after

    long = mf.write_video(
        tmp_path / "long.mp4", coded_frames(25), audio=mf.tone(3.0, sample_rate=44100), sample_rate=44100
    )
    wav = media.load_audio(long)
    assert wav is not None and wav.shape == (16000,)
    assert np.abs(wav[-1000:]).max() > 0.2  # cut, not faded


def test_video_without_audio_has_audio_false(clips: dict[str, Path]) -> None:
    info = media.probe(clips["silent"])
    assert not info.has_audio and info.audio_codec is None
    assert media.load_audio(clips["silent"], info) is None


# ---------------------------------------------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------------------------------------------


def test_image_is_one_frame_media_with_exif_orientation(tmp_path: Path) -> None:
    upright = _upright_with_marker(96, 64)
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # EXIF 6: viewer rotates 90° clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "photo.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)

    info = media.probe(path)
    assert (info.kind, info.container, info.n_frames, info.rotation_deg) == ("image", "jpeg", 1, 90)
    assert (info.width, info.height, info.frame_width, info.frame_height) == (64, 96, 64, 96)
    assert (info.duration_s, info.analysed_duration_s, info.has_audio, info.source_fps) == (0.0, 0.0, False, None)
    frames = list(media.iter_frames(path, info))
    assert len(frames) == 1 and frames[0].index == 0 and frames[0].time_s == 0.0
    assert frames[0].rgb.shape == upright.shape and _marker_corner(frames[0].rgb) == "top-left"
    assert np.array_equal(media.load_image(path), frames[0].rgb)
    assert media.load_audio(path, info) is None


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_heic_and_avif_photos_are_upright_photos_not_one_second_videos(tmp_path: Path, suffix: str) -> None:
    """ffmpeg demuxes the picture in an HEIF/AVIF file as a 25-frame video; a phone photo must stay one photo, turned
    upright by the rotation stored with it (EXIF 6 here, which the HEIF writer turns into the container's own)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    upright = _upright_with_marker(96, 64)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"phone{suffix}"
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())  # bytes: the writers store the rotation

    info = media.probe(path)
    assert (info.kind, info.n_frames, info.duration_s, info.rotation_deg) == ("image", 1, 0.0, 90)
    assert (info.width, info.height) == (64, 96)
    rgb = media.load_image(path)
    assert rgb.shape == upright.shape and _marker_corner(rgb) == "top-left"
    assert np.abs(rgb.astype(int) - upright).mean() < 8  # lossy, but the same picture


def test_a_jpeg_xl_photo_gets_a_message_that_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "photo.jxl"
    path.write_bytes(b"\x00\x00\x00\x0cJXL \r\n\x87\n" + bytes(200))
    with pytest.raises(NotMediaError, match=r"JPEG XL photo.* convert it to JPEG or PNG"):
        media.probe(path)


def test_image_modes_become_rgb_and_large_photos_are_downscaled(tmp_path: Path) -> None:
    gray16 = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    rgb = media.load_image(tmp_path / "g16.png")
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8 and rgb.max() >= 250 and rgb.min() <= 5

    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:20, :, 3] = 255  # bottom half transparent -> white
    Image.fromarray(rgba).save(tmp_path / "a.png")
    out = media.load_image(tmp_path / "a.png")
    assert tuple(out[5, 5]) == (200, 0, 0) and tuple(out[35, 35]) == (255, 255, 255)

    Image.fromarray(np.full((30, 30, 3), 7, np.uint8)).convert("P").save(tmp_path / "p.bmp")
    assert media.load_image(tmp_path / "p.bmp").shape == (30, 30, 3)
    Image.fromarray(np.full((30, 30, 3), 7, np.uint8)).save(tmp_path / "w.webp")
    assert media.probe(tmp_path / "w.webp").container == "webp"

    Image.fromarray(coded_frames(1, height=1000, width=2000)[0]).save(tmp_path / "big.png")
    info = media.probe(tmp_path / "big.png")
    assert (info.width, info.frame_width, info.frame_height) == (2000, 1280, 640)
    assert media.load_image(tmp_path / "big.png").shape == (640, 1280, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_photo_with_alpha_decodes_as_the_whole_image_float_reference_did(tmp_path: Path, orientation: int) -> None:
    """Issue 34 decodes in bands of rows, composites alpha in integers and turns the picture upright with numpy views;
    the pixels must equal the old way (PIL's exif_transpose, a float composite onto white, then the downscale)."""
    from PIL import ImageOps

    rng = np.random.default_rng(orientation)
    rgba = rng.integers(0, 256, (500, 700, 4), dtype=np.uint8)  # 350 000 pixels: more than one band
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba).save(path, exif=exif.tobytes())
    limits = media.MediaLimits(max_side_px=256)

    with Image.open(path) as im:
        turned = np.asarray(ImageOps.exif_transpose(im).convert("RGBA")).astype(np.float32)
    alpha = turned[:, :, 3:4] / 255.0
    whole = np.clip(turned[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(media.load_image(path, media.MediaLimits(max_side_px=1280)), whole)
    out_w, out_h = (256, 183) if whole.shape[1] > whole.shape[0] else (183, 256)
    reference = cv2.resize(whole, (out_w, out_h), interpolation=cv2.INTER_AREA)
    assert np.array_equal(media.load_image(path, limits), reference)


def test_the_largest_accepted_rgba_png_decodes_within_the_stated_memory(tmp_path: Path) -> None:
    """Issue 34: an 8192x6100 RGBA PNG of 200 kB took 3 GB to decode (float copies at full size). Peak RSS of a
    process that probes and loads it (what the detector does with a photo), above the same process before it, is
    within ``media.decode_bytes`` (430 MB for 50 MP). Measured here: 357 MB (2994 MB before issue 34)."""
    import json
    import sys

    png = mf.write_big_rgba_png(tmp_path / "big.png", 8192, 6100)
    assert png.stat().st_size < 400_000
    code = (
        "import json, resource, sys; import numpy as np; from vaedetect import media; "
        "rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024; before = rss(); "
        "info = media.probe(sys.argv[1]); rgb = media.load_image(sys.argv[1]); "
        "print(json.dumps({'before': before, 'peak': rss(), 'shape': rgb.shape, 'size': [info.width, info.height], "
        "'left': rgb[:, 0].tolist()[0], 'right': rgb[:, -1].tolist()[0]}))"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code, str(png)], capture_output=True, text=True, cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["size"] == [8192, 6100] and got["shape"] == [953, 1280, 3]
    assert got["left"] == [255, 255, 255]  # alpha 0 at the left edge: composited onto white
    assert max(abs(a - b) for a, b in zip(got["right"], [255, 0, 0], strict=True)) <= 4  # opaque: the band's colour
    grown = got["peak"] - got["before"]
    bound = media.decode_bytes(media.MediaLimits())
    assert grown < bound, f"decoding took {grown / 2**20:.0f} MB, more than {bound / 2**20:.0f} MB"


# ---------------------------------------------------------------------------------------------------------------
# Edge cases that are valid
# ---------------------------------------------------------------------------------------------------------------


def test_one_frame_video_is_valid(tmp_path: Path) -> None:
    path = mf.write_video(tmp_path / "one.mp4", coded_frames(1))
    info = media.probe(path)
    assert info.n_frames == 1
    assert info.duration_s == pytest.approx(0.04, abs=0.005)
    frames = list(media.iter_frames(path, info))
    assert len(frames) == 1 and read_code(frames[0].rgb) == 0


def test_long_clip_is_cut_to_analysis_limit(clips: dict[str, Path]) -> None:
    limits = media.MediaLimits(max_analysis_s=1.0)
    info = media.probe(clips["mp4"], limits)
    assert info.cut_to_limit and not info.incomplete and info.duration_s == pytest.approx(2.0, abs=0.01)
    assert info.analysed_duration_s == 1.0 and info.n_frames == 25
    frames = list(media.iter_frames(clips["mp4"], info, limits))
    assert [read_code(f.rgb) for f in frames] == list(range(25))
    wav = media.load_audio(clips["mp4"], info, limits)
    assert wav is not None and wav.shape == (16000,)

    for analysis_s in (0.3, 0.5, 0.7):  # probe stops demuxing mid-file: B-frame reordering must not look like VFR
        partial = media.probe(clips["mp4"], media.MediaLimits(max_analysis_s=analysis_s))
        assert not partial.variable_frame_rate and partial.source_fps == pytest.approx(25)
        assert partial.duration_s == pytest.approx(2.0, abs=0.01)


def test_iter_frames_is_lazy_and_can_be_abandoned(clips: dict[str, Path]) -> None:
    gen = media.iter_frames(clips["mp4"])
    first = next(gen)
    assert first.index == 0
    gen.close()  # closes the container; a second full pass still works
    assert sum(1 for _ in media.iter_frames(clips["mp4"])) == 50


# ---------------------------------------------------------------------------------------------------------------
# Bad inputs: each a specific error with a sentence a journalist understands
# ---------------------------------------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(EmptyFileError, match="empty"):
        media.probe(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="could not be found"):
        media.probe(tmp_path / "nope.mp4")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("Interview notes, 12 March.\nSpeaker: the minister.\n" * 20)
    with pytest.raises(NotMediaError, match="text file"):
        media.probe(path)
    page = tmp_path / "page.mp4"
    page.write_text("<!DOCTYPE html><html><body><video src='x.mp4'></video></body></html>")
    with pytest.raises(NotMediaError, match="web page"):
        media.probe(page)


def test_random_bytes(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    (tmp_path / "noise.mp4").write_bytes(noise)
    with pytest.raises(CorruptMediaError, match="damaged or incomplete"):
        media.probe(tmp_path / "noise.mp4")
    (tmp_path / "noise.bin").write_bytes(noise)
    with pytest.raises(NotMediaError, match="not a video or photo"):
        media.probe(tmp_path / "noise.bin")


def test_truncated_mp4(clips: dict[str, Path], tmp_path: Path) -> None:
    data = clips["mp4"].read_bytes()  # index (moov) at the end: half a file has none
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match="damaged or incomplete"):
        media.probe(half)

    fast = mf.write_video(tmp_path / "fast.mp4", coded_frames(25), faststart=True)
    data = fast.read_bytes()
    header_only = tmp_path / "header_only.mp4"
    header_only.write_bytes(data[: data.index(b"mdat") + 4])  # index says 25 frames, pictures are missing
    with pytest.raises(CorruptMediaError, match="no pictures"):
        media.probe(header_only)


def test_download_cut_at_tenth_of_its_bytes_is_incomplete_and_still_analysed(tmp_path: Path) -> None:
    frames = coded_frames(135, 240, 320)  # large enough that a tenth of the bytes holds a few pictures
    full = mf.write_video(tmp_path / "full.mp4", frames, faststart=True)  # index first: 5.4 s promised
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 10])
    info = media.probe(cut)
    assert info.incomplete and not info.cut_to_limit
    assert info.promised_duration_s == pytest.approx(5.4, abs=0.05)
    assert 0 < info.duration_s < 2.0
    decoded = list(media.iter_frames(cut, info))
    assert len(decoded) == info.n_frames and [read_code(f.rgb, 320) for f in decoded[:3]] == [0, 1, 2]
    whole = media.probe(full)
    assert not whole.incomplete and whole.promised_duration_s is None


def test_damaged_bytes_never_leak_library_errors(clips: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(clips["mp4"].read_bytes())
    rng = np.random.default_rng(1)
    for trial in range(4):
        damaged = bytearray(data)
        for pos in rng.integers(48, len(data) // 2, 40):
            damaged[pos] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged{trial}.mp4"
        path.write_bytes(bytes(damaged))
        try:
            info = media.probe(path)
            frames = list(media.iter_frames(path, info))
            assert len(frames) == info.n_frames
            media.load_audio(path, info)
        except InputError:
            pass


def test_damaged_photo(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.fromarray(coded_frames(1)[0]).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match="photo is damaged"):
        media.probe(path)


@pytest.mark.parametrize("suffix", [".wav", ".m4a"])
def test_audio_only_file(tmp_path: Path, suffix: str) -> None:
    path = mf.write_audio_only(tmp_path / f"voice{suffix}", mf.tone(0.5))
    with pytest.raises(NoVideoError, match="sound but no picture"):
        media.probe(path)


def test_file_over_size_limit(clips: dict[str, Path]) -> None:
    with pytest.raises(LimitExceededError, match="MB"):
        media.probe(clips["mp4"], media.MediaLimits(max_file_mb=0.01))


def test_source_longer_than_limit(clips: dict[str, Path]) -> None:
    with pytest.raises(LimitExceededError, match="trim"):
        media.probe(clips["mp4"], media.MediaLimits(max_source_duration_s=1.0))


def test_absurd_dimensions(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="too small") as small:
        media.probe(clips["mp4"], media.MediaLimits(min_side_px=100))
    assert not isinstance(small.value, LimitExceededError)
    with pytest.raises(LimitExceededError, match="pixels"):
        media.probe(clips["mp4"], media.MediaLimits(max_source_side_px=100))

    Image.fromarray(np.zeros((8, 400, 3), np.uint8)).save(tmp_path / "strip.png")
    with pytest.raises(InputError, match="too small"):
        media.probe(tmp_path / "strip.png")
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(tmp_path / "photo.png")
    with pytest.raises(LimitExceededError, match="megapixels"):
        media.load_image(tmp_path / "photo.png", media.MediaLimits(max_image_pixels=100_000))


def test_decode_timeout(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DecodeTimeoutError, match="took longer"):
        media.probe(clips["mp4"], media.MediaLimits(decode_timeout_s=0))

    info = media.probe(clips["mp4"])
    clock = iter(np.arange(0.0, 1e6, 10.0))  # every reading 10 s later: a pathologically slow decode
    monkeypatch.setattr(media.limits, "_now", lambda: float(next(clock)))  # the clock of every decode budget
    with pytest.raises(DecodeTimeoutError):
        list(media.iter_frames(clips["mp4"], info, media.MediaLimits(decode_timeout_s=60)))
    with pytest.raises(DecodeTimeoutError):
        media.load_audio(clips["mp4"], info, media.MediaLimits(decode_timeout_s=60))


def test_zero_frame_video(tmp_path: Path) -> None:
    path = mf.write_zero_frame_video(tmp_path / "zero.mp4")
    with pytest.raises(CorruptMediaError, match="no pictures"):
        media.probe(path)


def test_h264_frames_report_their_quantiser_and_it_rises_with_compression(tmp_path: Path) -> None:
    frames = mf.moving_pattern_frames(25)
    medians = {}
    for crf in (16, 45):
        path = mf.write_video(tmp_path / f"crf{crf}.mp4", frames, crf=crf)
        qps = [f.qp for f in media.iter_frames(path, media.probe(path))]
        assert all(q is not None and 0 <= q <= 51 for q in qps)
        medians[crf] = float(np.median(qps))
    assert medians[16] < 25 and medians[45] > 40  # the encoder's quantiser, read back from the decoder


def test_frames_of_codecs_without_an_h264_quantiser_report_none(tmp_path: Path) -> None:
    path = mf.write_video(tmp_path / "clip.webm", coded_frames(10))  # VP8: another quantiser scale, not reported
    assert [f.qp for f in media.iter_frames(path, media.probe(path))] == [None] * 10


def test_reading_the_quantiser_leaves_no_decoded_picture_behind(tmp_path: Path) -> None:
    import gc

    import av

    path = mf.write_video(tmp_path / "clip.mp4", mf.moving_pattern_frames(20))
    gc.collect()
    gc.disable()  # pictures kept alive by a reference cycle would wait for the collector: count them before it runs
    try:
        before = sum(type(o) is av.VideoFrame for o in gc.get_objects())
        qps = [f.qp for f in media.iter_frames(path, media.probe(path))]
        after = sum(type(o) is av.VideoFrame for o in gc.get_objects())
    finally:
        gc.enable()
    assert all(q is not None for q in qps) and after == before


def test_a_jpeg_photo_reports_the_quality_it_was_saved_at(tmp_path: Path) -> None:
    img = Image.fromarray(coded_frames(1, 96, 128)[0])
    for quality in (92, 50, 10):
        img.save(tmp_path / f"q{quality}.jpg", quality=quality)
        estimate = media.probe(tmp_path / f"q{quality}.jpg").jpeg_quality
        assert estimate is not None and (abs(estimate - quality) < 1.5 if quality >= 50 else estimate < 25)
    img.save(tmp_path / "lossless.png")
    assert media.probe(tmp_path / "lossless.png").jpeg_quality is None
