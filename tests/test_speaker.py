"""The speaker-change finding: resemblyzer's input rebuilt (Slaney mel power), the pinned GE2E encoder, the statistic
on synthetic voices, the real-only line and the finding's sentence; a missing carrier names its package."""

from __future__ import annotations

import importlib.metadata
import io
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from scipy.io import wavfile
from scipy.signal import lfilter, resample_poly

from vaedetect import pretrained
from vaedetect.errors import MissingPretrained
from vaedetect.evidence import REGISTRY, ClipArrays, RawEvidence, speaker
from vaedetect.models import speaker as spk
from vaedetect.training.speaker import speaker_change_line

SR = spk.SAMPLE_RATE_HZ
FPS = 25


# -- resemblyzer's input ----------------------------------------------------------------------------------------------
def test_the_slaney_mel_scale_is_linear_to_1_khz_then_logarithmic():
    np.testing.assert_allclose(spk.hz_to_mel([0, 200 / 3, 500, 1000]), [0, 1, 7.5, 15])
    np.testing.assert_allclose(spk.hz_to_mel(6400), 15 + 27)  # 27 log steps of 6.4**(1/27) from 1 to 6.4 kHz
    f = np.array([50.0, 700.0, 1000.0, 3000.0, 8000.0])
    np.testing.assert_allclose(spk.mel_to_hz(spk.hz_to_mel(f)), f)


def test_the_filterbank_has_slaney_triangles_of_unit_area_at_the_mel_centres():
    fb = spk.mel_filterbank()
    assert fb.shape == (40, 201) and fb.dtype == np.float32 and (fb >= 0).all()
    top = 15 + 27 * np.log(8) / np.log(6.4)  # the Slaney mel of 8 kHz, written out
    edges = spk.mel_to_hz(np.linspace(0, top, 42))
    bins = np.fft.rfftfreq(400, 1 / SR)  # 40 Hz apart
    for i in range(40):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        assert abs(bins[np.argmax(fb[i])] - mid) <= 20.0 + 1e-6  # peaks on the bin nearest its centre
        assert not fb[i][(bins <= lo) | (bins >= hi)].any()  # zero outside its two neighbours' centres
        assert fb[i].max() <= 2 / (hi - lo) + 1e-9  # Slaney's norm: height 2 / bandwidth...
        if hi - lo > 400:  # ...so unit area (a sum over 40 Hz bins is exact enough for the wide filters)
            assert fb[i].sum() * 40.0 == pytest.approx(1.0, rel=0.02)
    np.testing.assert_allclose(edges[1], 200 / 3 * top / 41, rtol=1e-9)  # the lowest centre is on the linear part


def test_the_stft_centres_frames_on_each_hop_and_a_tone_lands_in_its_bin():
    wav = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)).astype(np.float32)
    spec = spk.power_spectrogram(wav)
    assert spec.shape == (1 + SR // 160, 201)
    mid = spec[len(spec) // 2]
    assert np.argmax(mid) == 25  # 1 kHz / 40 Hz
    assert mid[25] == pytest.approx((0.5 * 200 / 2) ** 2, rel=1e-3)  # amplitude * sum(hann) / 2, squared
    mel = spk.mel_power(wav)
    assert mel.shape == (len(spec), 40)
    centres = spk.mel_to_hz(np.linspace(0, spk.hz_to_mel(8000), 42))[1:-1]
    assert np.argmax(mel[len(mel) // 2]) == np.argmin(abs(centres - 1000))


def test_volume_is_raised_to_minus_30_dbfs_never_lowered():
    quiet = np.full(1000, 0.001, np.float32)
    loud = np.full(1000, 0.3, np.float32)
    up = spk.normalize_volume(quiet)
    assert 20 * np.log10(np.sqrt(np.mean(up**2))) == pytest.approx(-30, abs=0.01)
    assert np.array_equal(spk.normalize_volume(loud), loud)
    assert not spk.normalize_volume(np.zeros(10, np.float32)).any()


# -- the encoder -------------------------------------------------------------------------------------------------------
def test_ge2e_loads_and_gives_unit_256_d_embeddings_batch_or_not():
    rng = np.random.default_rng(0)
    mels = rng.random((3, spk.PARTIAL_FRAMES, spk.N_MELS), dtype=np.float32)
    enc = pretrained.speaker_encoder()
    assert enc is pretrained.speaker_encoder()  # built once
    e = enc.embed(mels)
    assert e.shape == (3, 256) and (e >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(enc.embed(mels[1:2])[0], e[1], atol=1e-5)


def test_a_missing_carrier_names_resemblyzer(monkeypatch):
    real = importlib.metadata.distribution

    def distribution(name: str) -> importlib.metadata.Distribution:
        if name == "resemblyzer":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    monkeypatch.delitem(pretrained._sessions, "speaker_ge2e", raising=False)
    wav, mask = _clip([_voice(110, 1.0, 0), _voice(110, 1.0, 1)])
    with pytest.raises(MissingPretrained, match=r"resemblyzer==0\.1\.4.*requirements-models\.txt"):
        speaker.speaker_track(wav, mask, FPS)


# -- the statistic -----------------------------------------------------------------------------------------------------
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410))


def _voice(f0: float, formants: float, seed: int, seconds: float = 2.5) -> np.ndarray:
    """A synthetic voice: a sawtooth at pitch ``f0`` through three vowel formants (scaled by ``formants``, as a
    longer or shorter vocal tract), a new vowel every 0.2 s."""
    rng = np.random.default_rng(seed)
    seg, out = int(0.2 * SR), []
    for _ in range(int(seconds / 0.2)):
        phase = np.cumsum(np.full(seg, f0 * (1 + 0.05 * rng.standard_normal()) / SR))
        x = phase % 1.0 - 0.5
        for fc in np.array(_VOWELS[rng.integers(len(_VOWELS))]) * formants:
            r = np.exp(-np.pi * 80 / SR)
            x = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * fc / SR), r * r], x)
        out.append(x * np.hanning(seg))
    x = np.concatenate(out)
    return (0.1 * x / np.abs(x).max()).astype(np.float32)


def _clip(parts: list[np.ndarray], pause_s: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Parts joined by silent pauses, and the 25 fps speech mask that marks the parts."""
    gap = np.zeros(int(pause_s * SR), np.float32)
    wav = np.concatenate([x for p in parts for x in (gap, p)] + [gap])
    level = np.zeros(len(wav) // (SR // FPS), bool)
    for f in range(len(level)):
        level[f] = np.abs(wav[f * (SR // FPS) : (f + 1) * (SR // FPS)]).max() > 1e-4
    return wav, level


def _arrays(wav: np.ndarray, mask: np.ndarray) -> ClipArrays:
    t = len(mask)
    return ClipArrays(
        face_crops=np.zeros((t, 1, 1, 3), np.uint8),
        present=np.ones(t, bool),
        mouth_crops=np.zeros((t, 1, 1), np.uint8),
        mel=None,
        speech=mask,
        wav=wav,
    )


def _change(wav: np.ndarray, mask: np.ndarray) -> tuple[float, RawEvidence]:
    ev = RawEvidence(n_frames=len(mask))
    REGISTRY["speaker"](None, _arrays(wav, mask), ev, keep_images=False)
    return ev.values[speaker.NAME], ev


def test_a_swapped_voice_sounds_far_less_alike_across_the_cut_than_one_voice():
    one, _ = _change(*_clip([_voice(110, 1.0, 0), _voice(110, 1.0, 1)]))
    two, ev = _change(*_clip([_voice(110, 1.0, 0), _voice(220, 1.2, 2)]))
    assert one > 0.9 and two < one - 0.15
    track = ev.speaker
    assert track is not None and track.pairwise.shape == (8, 8)
    assert len(track.split_similarity) == 5 and float(track.split_similarity.min()) == two
    cut = int(track.split_frames[track.lowest])
    assert abs(cut - (0.4 + 2.5 + 0.2) * FPS) <= 0.8 * FPS  # placed near where the second voice starts
    assert (np.diff(track.windows[:, 0]) >= 0).all() and (track.windows[:, 1] >= track.windows[:, 0]).all()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (scripts/system-deps.sh)")
def test_two_espeak_voices_read_as_a_change_and_one_does_not():
    def say(voice: str, text: str) -> np.ndarray:
        out = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
        with warnings.catch_warnings():  # espeak-ng streams a WAV header that promises more than it sends
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, x = wavfile.read(io.BytesIO(out))
        return resample_poly(x.astype(np.float32) / 32768, SR, rate).astype(np.float32)

    first, second = "The committee met on Tuesday to discuss the budget.", "Nobody expected the vote to go this way."
    one, _ = _change(*_clip([say("en-us", first), say("en-us", second)]))
    two, _ = _change(*_clip([say("en-us", first), say("en+Alicia", second)]))
    assert one > 0.85 and two < one - 0.15


def test_too_little_speech_gives_no_value():
    wav, mask = _clip([_voice(110, 1.0, 0, seconds=2.8)])  # under MIN_SPEECH_S of speech in a longer clip
    assert mask.sum() / FPS < speaker.MIN_SPEECH_S < len(mask) / FPS
    ev = RawEvidence(n_frames=len(mask))
    REGISTRY["speaker"](None, _arrays(wav, mask), ev, keep_images=False)
    assert speaker.NAME not in ev.values and ev.speaker is None
    assert speaker.speaker_track(None, mask, FPS) is None
    assert speaker.speaker_track(wav, np.zeros_like(mask), FPS) is None


# -- the line and the finding ------------------------------------------------------------------------------------------
def test_the_line_comes_from_real_videos_only():
    records = [
        {"label": 0, "values": {"speaker_change": 0.80}},
        {"label": 0, "values": {"speaker_change": 0.90}},
        {"label": 0, "values": {}},  # too little speech
        {"label": 0, "is_image": True, "values": {"speaker_change": 0.1}},
        {"label": 0, "copy_of": "x", "values": {"speaker_change": 0.2}},
        {"label": 1, "values": {"speaker_change": 0.3}},
    ]
    block = speaker_change_line(records)
    assert block["line"] == pytest.approx(0.77) and block["n_real"] == 2 and "real" in block["how"]
    with pytest.raises(ValueError):
        speaker_change_line(records[2:])


def test_the_finding_names_the_time_of_the_change_below_the_bundles_line():
    _, ev = _change(*_clip([_voice(110, 1.0, 0), _voice(220, 1.2, 2)]))
    value = ev.values[speaker.NAME]
    cal = {"findings": {"speaker_change": {"line": value + 0.01, "n_real": 9, "how": "test"}}}
    assert speaker.line_of(cal) == (value + 0.01, 9) and speaker.line_of({}) is None
    ev.offset_frames = 25 * 60  # the analysis started a minute into the file
    text = speaker.finding(ev, cal)
    t = 60 + ev.speaker.split_frames[ev.speaker.lowest] / FPS
    assert text is not None and f"{int(t // 60)}:{int(t % 60):02d}" in text
    assert "different person" in text and "all 9 real" in text
    assert speaker.finding(ev, {"findings": {"speaker_change": {"line": value - 0.01, "n_real": 9}}}) is None
    assert speaker.finding(ev, {}) is None  # a bundle without a line claims nothing
    assert speaker.finding(RawEvidence(), cal) is None
