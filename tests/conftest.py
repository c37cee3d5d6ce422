"""Shared fixtures: synthetic clips made on the fly (never media from ../shared/data) and a tiny trained bundle."""

from __future__ import annotations

import os
from pathlib import Path

import faces_factory as ff
import media_factory as mf
import numpy as np
import pytest

import vaedetect


@pytest.fixture(autouse=True, scope="session")
def _app_temp_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The web app's own temp folder (vaedetect.webfiles) for every test and the processes tests start: never the
    machine's, whose startup sweep belongs to a real app."""
    os.environ[vaedetect.settings.TEMP_DIR] = str(tmp_path_factory.mktemp("app-files"))


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FPS = 25


def write_talking_clip(path: Path, seconds: float = 3.0, seed: int = 0, audio_shift_frames: int = 0) -> Path:
    openings = ff.opening_curve(int(seconds * FPS), seed=seed)
    frames = ff.talking_face_frames(openings)
    audio = ff.speech_like_audio(openings, seed=seed)
    if audio_shift_frames:
        audio = np.roll(audio, audio_shift_frames * 16000 // FPS)
    return mf.write_video(path, frames, fps=FPS, audio=audio)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def talking_clip(media_dir: Path) -> Path:
    return write_talking_clip(media_dir / "talking.mp4")


@pytest.fixture(scope="session")
def silent_face_clip(media_dir: Path) -> Path:
    frames = ff.talking_face_frames(ff.opening_curve(50, seed=3))
    return mf.write_video(media_dir / "silent.mp4", frames, fps=FPS)


@pytest.fixture(scope="session")
def no_face_clip(media_dir: Path) -> Path:
    frames = mf.moving_pattern_frames(50)
    return mf.write_video(media_dir / "noface.mp4", frames, fps=FPS, audio=mf.tone(2.0))


@pytest.fixture(scope="session")
def two_face_clip(media_dir: Path) -> Path:
    return mf.write_video(media_dir / "twofaces.mp4", ff.two_face_frames(40), fps=FPS)


@pytest.fixture(scope="session")
def face_photo(media_dir: Path) -> Path:
    from PIL import Image

    path = media_dir / "photo.png"
    Image.fromarray(ff.astronaut_face()).save(path)
    return path


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder shaped like ../shared/data (real/, stills/) filled with synthetic talking faces."""
    from PIL import Image

    root = tmp_path_factory.mktemp("data")
    (root / "real").mkdir()
    (root / "stills").mkdir()
    for seed in range(4):
        write_talking_clip(root / "real" / f"clip{seed}.mp4", seconds=2.0, seed=seed)
    face = ff.astronaut_face()
    for i in range(2):
        Image.fromarray(np.ascontiguousarray(face[:, ::-1] if i else face)).save(root / "stills" / f"still{i}.png")
    return root


@pytest.fixture(scope="session")
def tiny_bundle(synthetic_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained for real (a few steps of every stage) on synthetic clips."""
    from vaedetect.training.pipeline import train
    from vaedetect.training.recipes import TrainConfig

    out = tmp_path_factory.mktemp("run")
    return train(synthetic_data_dir, out, cfg=TrainConfig.from_preset("tiny"))


def shared_clips(folder: str, n: int) -> list[Path]:
    """A few real clips from ../shared/data, or skip the test when the folder is absent."""
    d = SHARED_DATA / folder
    if not d.is_dir():
        pytest.skip(f"{d} not present (tests that need ../shared/data skip without it)")
    clips = sorted(d.glob("*.mp4"))[:n]
    if not clips:
        pytest.skip(f"no clips in {d}")
    return clips
