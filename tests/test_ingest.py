"""Faces, audio and the ``inspect`` CLI on synthetic clips (and on real clips when ../shared/data is present)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHARED_DATA, shared_clips

from vaedetect import audio as A
from vaedetect.audio import lip_loudness_corr
from vaedetect.faces import FACE_CROP_PX, MOUTH_CROP_PX, track_faces
from vaedetect.ingest import ingest

REPO = Path(__file__).resolve().parents[1]
INSPECT_KEYS = {
    "duration_s",
    "fps",
    "width",
    "height",
    "has_audio",
    "speech_fraction",
    "face_coverage",
    "max_faces",
    "lip_loudness_corr",
}


def test_talking_face_is_tracked_with_aligned_crops_and_lip_signal(talking_clip: Path) -> None:
    clip = ingest(talking_clip)
    f = clip.faces
    assert f.n_frames == 75
    assert f.coverage == 1.0
    assert f.max_faces == 1
    assert f.face_crops.shape == (75, FACE_CROP_PX, FACE_CROP_PX, 3)
    assert f.mouth_crops.shape == (75, MOUTH_CROP_PX, MOUTH_CROP_PX)
    # The face fills the aligned crop: most pixels are not the reflect-padded border.
    assert f.face_crops[f.present].std() > 20
    assert np.isfinite(f.lip_opening).all()


def test_lip_opening_follows_the_jaw_and_correlates_with_loudness(talking_clip: Path) -> None:
    import faces_factory as ff

    clip = ingest(talking_clip)
    openings = ff.opening_curve(75, seed=0)
    assert np.corrcoef(openings, clip.faces.lip_opening)[0, 1] > 0.7
    assert lip_loudness_corr(clip.faces.lip_opening, clip.speech.loudness_db) > 0.3


def test_interpolated_landmark_frames_give_the_same_crops_as_landmarks_on_every_frame(talking_clip: Path) -> None:
    from vaedetect import media
    from vaedetect.faces import FaceConfig

    info = media.probe(talking_clip)
    frames = [(fr.time_s, fr.rgb) for fr in media.iter_frames(talking_clip, info)]
    every = track_faces(frames, FaceConfig(landmark_every=1))
    strided = track_faces(frames, FaceConfig(landmark_every=2))
    assert strided.present.all() and every.present.all()
    odd = np.arange(1, len(frames), 2)
    a, b = every.mouth_crops[odd].astype(float), strided.mouth_crops[odd].astype(float)
    # Interpolated windows differ from per-frame ones by less than one frame differs from the next, so the mouth
    # motion the sync model sees survives the stride.
    step = np.abs(np.diff(every.mouth_crops.astype(float), axis=0)).mean()
    assert np.abs(a - b).mean() < step
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
    assert np.isfinite(strided.lip_opening).all()
    assert np.corrcoef(every.lip_opening, strided.lip_opening)[0, 1] > 0.7


def test_clip_without_face_is_marked_not_fatal(no_face_clip: Path) -> None:
    clip = ingest(no_face_clip)
    assert clip.faces.n_frames == 50
    assert not clip.faces.present.any()
    assert clip.faces.coverage == 0.0
    assert lip_loudness_corr(clip.faces.lip_opening, clip.speech.loudness_db) is None


def test_two_faces_are_counted_and_the_largest_is_the_main_track(two_face_clip: Path) -> None:
    clip = ingest(two_face_clip)
    f = clip.faces
    assert f.max_faces == 2
    assert f.n_tracks >= 2
    assert f.coverage == 1.0
    # The main (larger) face is the left one.
    centres = (f.boxes[:, 0] + f.boxes[:, 2]) / 2
    assert np.all(centres < f.frame_size[0] / 2)


def test_photo_is_one_frame_with_a_face(face_photo: Path) -> None:
    clip = ingest(face_photo)
    assert clip.is_image
    assert clip.faces.n_frames == 1 and clip.faces.present[0]
    assert clip.mel is None


def test_silent_clip_has_no_audio_and_no_speech(silent_face_clip: Path) -> None:
    clip = ingest(silent_face_clip)
    assert clip.audio is None and clip.mel is None
    assert not clip.speech.has_speech and clip.speech.speech_fraction == 0.0


def test_log_mel_has_four_frames_per_video_frame_and_tone_onset_lines_up() -> None:
    sr = A.SAMPLE_RATE_HZ
    x = np.zeros(sr * 2, np.float32)
    x[sr:] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    mel = A.log_mel(x, n_video_frames=50)
    assert mel.shape == (200, A.N_MELS)
    energy = mel.max(axis=1)
    onset = int(np.argmax(energy > energy.min() + 0.5 * (energy.max() - energy.min())))
    assert abs(onset - 100) <= 2  # mel frame 4k is centred on video frame k (t = 1.0 s -> mel 100)


def test_mel_windows_pair_five_video_frames_with_twenty_mel_frames_and_pad_out_of_range() -> None:
    mel = np.arange(40 * A.N_MELS, dtype=np.float32).reshape(40, A.N_MELS)
    w = A.mel_windows(mel, np.array([2, 5, -20, 30]))
    assert w.shape == (4, 20, A.N_MELS)
    assert np.array_equal(w[0], mel[0:20])
    assert np.array_equal(w[1], mel[12:32])
    assert np.all(w[2] == mel.min(axis=0))  # entirely before the clip: silence


def test_speech_detection_finds_speech_and_trims_leading_silence() -> None:
    sr = A.SAMPLE_RATE_HZ
    x = np.zeros(sr * 3, np.float32)
    t = np.arange(sr) / sr
    x[sr : 2 * sr] = 0.3 * np.sin(2 * np.pi * 200 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    x += 1e-4 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    res = A.analyze_audio(x, 75)
    assert res.has_speech
    assert abs(res.speech_start_frame - 25) <= 1
    assert 0.3 <= res.speech_fraction <= 0.4
    assert A.leading_silence_frames(res) == res.speech_start_frame - 2


def test_silence_has_no_speech() -> None:
    res = A.analyze_audio(np.zeros(16000, np.float32), 25)
    assert not res.has_speech and A.leading_silence_frames(res) == 0


def test_track_faces_on_empty_input_returns_an_empty_track() -> None:
    track = track_faces([])
    assert track.n_frames == 0 and track.coverage == 0.0 and track.max_faces == 0


def _wide_shot(faces_at: list[tuple[int, int]], face_px: int = 128, size: tuple[int, int] = (1080, 1920)) -> np.ndarray:
    """A grey frame with small copies of a real face (about ``0.42 * face_px`` across) at the given (row, col)."""
    import cv2

    try:
        import faces_factory as ff
    except ImportError:  # pragma: no cover
        from tests import faces_factory as ff
    face = cv2.resize(ff.astronaut_face(), (face_px, face_px), interpolation=cv2.INTER_AREA)
    frame = np.full((*size, 3), 90, np.uint8)
    for r, c in faces_at:
        frame[r : r + face_px, c : c + face_px] = face
    return frame


@pytest.mark.parametrize("where", [(700, 1300), (476, 896)], ids=["corner", "where-tiles-overlap"])
def test_a_small_face_in_a_1080p_wide_shot_is_found_on_tiles_and_counted_once(where: tuple[int, int]) -> None:
    from vaedetect.faces import FaceConfig

    frame = _wide_shot([where])  # a ~55 px face: under the whole-frame detector's reach at 1080p
    assert not track_faces([(0.0, frame)], FaceConfig(tile_grids=()), static_images=True).present.any()
    track = track_faces([(0.0, frame)], static_images=True)
    assert track.present.all() and track.max_faces == 1
    assert 40 < track.face_size_px[0] < 70 and np.isfinite(track.lip_opening[0])  # landmarks, not just a box


def test_two_small_faces_the_whole_frame_misses_are_two_faces_on_tiles() -> None:
    from vaedetect.faces import FaceConfig

    frame = _wide_shot([(100, 100), (700, 1300)])
    assert track_faces([(0.0, frame)], FaceConfig(tile_grids=()), static_images=True).max_faces == 0
    assert track_faces([(0.0, frame)], static_images=True).max_faces == 2


def test_a_frame_whose_whole_view_shows_a_large_face_is_not_tiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The training data (one large face, 640 px) costs no tiles; a 640 px panel of small faces does get them."""
    import faces_factory as ff

    from vaedetect.faces import FaceAnalyzer, FaceConfig

    tiled: list[int] = []
    with FaceAnalyzer(FaceConfig(), static_images=True) as fa:
        real_tiles = fa._detect_tiles
        monkeypatch.setattr(fa, "_detect_tiles", lambda frame, n: tiled.append(n) or real_tiles(frame, n))
        big = cv2.resize(ff.astronaut_face(), (360, 360))
        assert len(fa.detect(np.ascontiguousarray(np.pad(big, ((0, 0), (140, 140), (0, 0)))))) == 1 and not tiled
        assert len(fa.detect(ff.panel_frames(1, 100, 4)[0])) == 4 and tiled == [2, 3]


def test_four_40px_faces_of_a_640px_panel_are_counted_and_the_speaker_tracked_on_nine_tenths_of_frames() -> None:
    import faces_factory as ff

    frames = ff.panel_frames(50, 100, 4)  # faces ~41 px wide: the whole-frame detector finds one or two of them
    track = track_faces((i / 25, f) for i, f in enumerate(frames))
    assert track.max_faces == 4 and track.coverage >= 0.9 and track.n_tracks == 1
    assert 35 < np.nanmedian(track.face_size_px) < 60 and track.small_faces == 0


def test_two_25px_faces_are_counted_as_too_small_to_check_not_tracked() -> None:
    import faces_factory as ff

    track = track_faces((i / 25, f) for i, f in enumerate(ff.panel_frames(25, 64, 2)))
    assert not track.present.any() and track.max_faces == 2
    assert track.small_faces == 2 and 18 < track.small_face_px < 32


def test_pooled_graphs_are_reused_reset_between_clips_and_survive_a_failed_analysis() -> None:
    """The pool keeps the graphs, resets the video mesh's tracking state so a clip's result does not depend on the
    clip before, and recovers after an exception."""
    import faces_factory as ff

    from vaedetect.faces import FacePool

    frames = [(i / 25, f) for i, f in enumerate(ff.talking_face_frames(ff.opening_curve(20)))]
    other = [(i / 25, f) for i, f in enumerate(ff.panel_frames(20, 100, 4))]
    fresh = track_faces(frames)
    pool = FacePool()
    with pool.analyzer() as fa:
        graphs = (fa._mesh, fa._crop_mesh, fa._detector)
        fa.track(other)

    def failing():
        yield from frames[:7]
        raise RuntimeError("the decoder died mid-clip")

    with pytest.raises(RuntimeError, match="mid-clip"):
        pool.track(failing())
    again = pool.track(frames)
    with pool.analyzer() as fa:
        assert (fa._mesh, fa._crop_mesh, fa._detector) == graphs
    assert pool.built == 1 and pool.idle() == 1
    assert np.array_equal(again.present, fresh.present) and np.allclose(again.boxes, fresh.boxes, equal_nan=True)
    assert np.array_equal(again.face_crops, fresh.face_crops)
    pool.close()
    assert pool.idle() == 0


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vaedetect", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_inspect_cli_prints_facts_and_writes_json(talking_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "facts.json"
    res = _run_cli("inspect", str(talking_clip), "--json", str(out), "-q")
    assert res.returncode == 0, res.stderr
    assert "face_coverage" in res.stdout
    facts = json.loads(out.read_text())
    assert facts.keys() >= INSPECT_KEYS
    assert facts["fps"] == 25.0 and facts["has_audio"] is True
    assert facts["face_coverage"] == 1.0 and facts["max_faces"] == 1
    assert facts["speech_fraction"] > 0.3
    assert facts["lip_loudness_corr"] > 0.3


@pytest.mark.parametrize("content", [b"", b"hello, this is not a video\n", bytes(range(256)) * 8])
def test_inspect_cli_exits_2_with_one_line_for_unusable_input(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    res = _run_cli("inspect", str(bad), "-q")
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in res.stderr


REAL_CLIPS = ["grid__bbaf2n.mp4", "lrs2__00016.mp4", "retalking__face_3.mp4"]


def test_real_clips_have_faces_and_lips_that_move_with_speech() -> None:
    available = shared_clips("real", 100)
    picked = [p for p in available if p.name in REAL_CLIPS] or available[:3]
    for path in picked:
        facts = ingest(path).summary()
        assert facts["face_coverage"] >= 0.9, (path.name, facts)
        assert facts["lip_loudness_corr"] is not None and facts["lip_loudness_corr"] > 0, (path.name, facts)


def test_shared_data_location_is_outside_the_repository() -> None:
    assert REPO not in SHARED_DATA.parents
