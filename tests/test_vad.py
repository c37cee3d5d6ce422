"""The neural speech detector (silero-vad): weights from its pinned wheel, loaded offline; sounds that are not speech
are not speech to it; VAEDETECT_VAD selects it. The comparison with the energy detector is
bench/experiments/vad.py's table."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA
from socket_guard import guard_sockets

from vaedetect import audio as A

pytest.importorskip("silero_vad")
SR = A.SAMPLE_RATE_HZ


def _beeps(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.1 * np.sin(2 * np.pi * 1000 * t) * ((t % 0.5) < 0.2)).astype(np.float32)


def test_silero_weights_come_from_the_installed_wheel_and_load_without_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = guard_sockets(monkeypatch, refuse=True)
    A._silero.cache_clear()
    A.silero_speech(np.zeros(SR, np.float32), 25)
    dist = metadata.distribution("silero-vad")
    shipped = {Path(str(f)).name for f in dist.files or [] if str(f).startswith("silero_vad/data/")}
    assert "silero_vad.jit" in shipped and dist.version == "6.2.3"
    assert attempts == []


def test_beeps_are_sound_to_the_energy_detector_but_not_speech_to_silero() -> None:
    x = _beeps(3.0)
    energy = A.detect_speech(A.frame_loudness_db(x, 75))
    silero = A.silero_speech(x, 75)
    assert energy.mean() > 0.3 and not silero.any()


def test_silence_is_no_speech_to_silero() -> None:
    assert not A.silero_speech(np.zeros(2 * SR, np.float32), 50).any()


def test_the_vad_setting_selects_the_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _beeps(2.0)
    monkeypatch.setenv("VAEDETECT_VAD", "energy")
    assert A.analyze_audio(x, 50).has_speech
    monkeypatch.setenv("VAEDETECT_VAD", "silero")
    assert not A.analyze_audio(x, 50).has_speech
    monkeypatch.setenv("VAEDETECT_VAD", "webrtc")
    with pytest.raises(ValueError, match="VAEDETECT_VAD"):
        A.analyze_audio(x, 50)


def test_silero_finds_the_speech_of_a_grid_recording() -> None:
    """Real speech is needed here (synthetic buzz is not speech to a model trained on voices): skips without data."""
    clips = sorted((SHARED_DATA / "real").glob("grid__*.mp4")) if (SHARED_DATA / "real").is_dir() else []
    if not clips:
        pytest.skip("no GRID clip in ../shared/data/real")
    from vaedetect import media

    wav = media.load_audio(clips[0])
    n = len(wav) // (SR // A.ANALYSIS_FPS)
    speech = A.silero_speech(wav, n)
    assert 0.3 < speech.mean() < 1.0
