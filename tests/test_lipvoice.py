"""Lip-from-voice: the linear offset cue that joins the alignment model when estimating the audio offset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaedetect.audio import MEL_PER_VIDEO_FRAME
from vaedetect.evidence import fuse_offset_curves
from vaedetect.models import ModelBundle
from vaedetect.models.lipvoice import LipVoice, fit_lipvoice, lag_correlations, mel_frames

N_MELS = 80


def _talking(rng: np.random.Generator, n: int, lead: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A clip whose low mel bands get louder as the mouth opens; the mouth opens ``lead`` frames before the sound."""
    opening = np.convolve(rng.random(n + 40), np.ones(5) / 5, mode="same")[20 : 20 + n]
    sound = np.roll(opening, lead)
    mel = rng.normal(0, 0.3, (n * MEL_PER_VIDEO_FRAME, N_MELS)).astype(np.float32)
    mel[:, :20] += 4.0 * np.repeat(sound, MEL_PER_VIDEO_FRAME)[:, None]
    lip = (opening + rng.normal(0, 0.02, n)).astype(np.float32)
    return lip, mel, np.ones(n, bool), np.ones(n, bool)


def _shift_audio(mel: np.ndarray, frames: int) -> np.ndarray:
    return np.roll(mel, frames * MEL_PER_VIDEO_FRAME, axis=0)


def test_lip_from_voice_finds_a_known_audio_shift_on_an_unseen_clip() -> None:
    rng = np.random.default_rng(0)
    model = fit_lipvoice([_talking(rng, 200) for _ in range(6)])
    assert model is not None and model.lag == 0
    lip, mel, speech, present = _talking(rng, 250)
    for shift in (-10, -5, 0, 5, 10):
        corr = model.curve(lip, _shift_audio(mel, shift), speech, present, max_offset=15)
        assert int(np.nanargmax(corr)) - 15 == shift


def test_the_natural_lip_lead_learned_in_training_is_not_reported_as_an_offset() -> None:
    rng = np.random.default_rng(1)
    model = fit_lipvoice([_talking(rng, 200, lead=3) for _ in range(6)])
    assert model is not None and model.lag == 3
    lip, mel, speech, present = _talking(rng, 250, lead=3)
    assert int(np.nanargmax(model.curve(lip, mel, speech, present, max_offset=15))) - 15 == 0
    corr = model.curve(lip, _shift_audio(mel, 5), speech, present, max_offset=15)
    assert int(np.nanargmax(corr)) - 15 == 5


def test_lag_correlations_skip_frames_without_a_face_or_speech() -> None:
    x = np.sin(np.arange(100) / 3.0)
    present = np.ones(100, bool)
    present[40:60] = False
    speech = np.ones(100, bool)
    corr = lag_correlations(np.where(present, x, np.nan), x, present, speech, np.array([0, 95]))
    assert corr[0] > 0.999  # NaN lips where no face are never paired
    assert np.isnan(corr[1])  # a 95-frame shift leaves fewer than MIN_FRAMES pairs


def test_mel_frames_remove_the_clips_mean_speech_spectrum() -> None:
    mel = np.full((40, N_MELS), 7.0, np.float32)
    assert np.allclose(mel_frames(mel, np.ones(10, bool)), 0.0)
    assert mel_frames(mel, np.ones(10, bool)).shape == (10, N_MELS)


def test_fit_lipvoice_gives_nothing_without_speech() -> None:
    lip, mel, _, present = _talking(np.random.default_rng(2), 50)
    assert fit_lipvoice([(lip, mel, np.zeros(50, bool), present)]) is None


def test_lip_from_voice_round_trips_through_bundle_statistics(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = ModelBundle.load(tiny_bundle)
    model = LipVoice(np.arange(N_MELS, dtype=np.float32), np.zeros(N_MELS, np.float32), np.ones(N_MELS, np.float32), 2)
    for k in LipVoice.STATS_KEYS:
        bundle.stats.pop(k, None)
    assert bundle.lipvoice is None  # bundles made before the cue existed
    bundle.stats.update(model.to_stats())
    again = ModelBundle.load(bundle.save(tmp_path / "b"))
    assert again.lipvoice is not None and again.lipvoice.lag == 2
    assert np.array_equal(again.lipvoice.weight, model.weight)


def test_fused_offset_prefers_where_both_cues_agree_and_ignores_unreachable_offsets() -> None:
    offsets = np.arange(-3, 4)
    dist = np.array([1.0, 1.0, 0.5, 0.6, 1.0, 1.0, 1.0])  # model: -1 (0 close behind)
    corr = np.array([np.nan, 0.0, 0.1, 0.5, 0.1, 0.0, 0.0])  # lip-from-voice: 0
    fused = fuse_offset_curves(dist, corr, weight=2.0)
    assert offsets[int(np.argmax(fused))] == 0
    assert fused[0] == fused.min()  # the offset the correlation could not reach never wins
    assert offsets[int(np.argmax(fuse_offset_curves(dist, corr, weight=0.0)))] == -1


def test_detector_reports_the_audio_offset_of_a_clip_whose_sound_was_shifted(tiny_bundle: Path, tmp_path: Path) -> None:
    from conftest import write_talking_clip

    from vaedetect.detector import Detector

    det = Detector(ModelBundle.load(tiny_bundle))
    for shift in (-6, 6):
        clip = write_talking_clip(tmp_path / f"shift{shift}.mp4", seconds=4.0, seed=7, audio_shift_frames=shift)
        report = det.analyze(clip)
        assert report.sync is not None
        assert abs(report.sync.offset_frames - shift) <= 1, (shift, report.sync.offset_frames)


def test_a_piece_of_a_clip_keeps_its_audio_aligned_with_its_frames() -> None:
    from vaedetect.evidence import ClipArrays

    t = 20
    arr = ClipArrays(
        face_crops=np.zeros((t, 4, 4, 3), np.uint8),
        present=np.ones(t, bool),
        mouth_crops=np.zeros((t, 2, 2), np.uint8),
        mel=np.repeat(np.arange(t, dtype=np.float32), MEL_PER_VIDEO_FRAME)[:, None],  # mel row says its video frame
        speech=np.arange(t) % 2 == 0,
        lip=np.arange(t, dtype=np.float32),
    )
    piece = arr.frames(5, 12)
    assert piece.n_frames == 7 and piece.lip.tolist() == list(range(5, 12))
    assert piece.mel.shape[0] == 7 * MEL_PER_VIDEO_FRAME and piece.mel[0, 0] == 5 and piece.mel[-1, 0] == 11
    assert arr.frames(15).n_frames == 5 and arr.frames(15).mel[0, 0] == 15
