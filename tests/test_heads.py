"""The small heads over pretrained features: the speech-to-mouth regression (real-only), the linear probe, and the
stacking that lets the fusion see a probe's logits as it will on a new file."""

from __future__ import annotations

import numpy as np

from vaedetect.models import speech_mouth as sm
from vaedetect.models.probe import fit_probe, probes_from_stats
from vaedetect.training import speech_mouth as sm_train
from vaedetect.training.stacking import EvidenceConfig, fit_config, out_of_fold_probe_values, score


def _talking(n: int, seed: int, lag: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Speech features whose first dimensions drive the lips' opening ``lag`` mesh steps later (0: in sync)."""
    rng = np.random.default_rng(seed)
    drive = np.convolve(rng.standard_normal(n + 40), np.ones(3) / 3, mode="same")[20 : 20 + n]
    speech = rng.standard_normal((n, 96)) * 0.3
    speech[:, :4] += drive[:, None]
    mouth = np.roll(drive, lag)[:, None] * np.array([[1.0, 1.6]]) + 0.05 * rng.standard_normal((n, 2))
    return speech.astype(np.float32), (mouth + 0.3).astype(np.float32), np.ones(n, bool)


def test_speech_predicts_the_mouth_at_the_true_timing_and_a_shift_moves_the_peak():
    head = sm.fit([_talking(200, s) for s in range(6)], 2, 1.0)
    in_sync = sm.summary(head.correlations(*_talking(120, 99)))
    shifted = head.correlations(*_talking(120, 99, lag=4))
    assert in_sync["av_fit"] > 0.8 and in_sync["av_peak"] > 0.5
    assert int(np.argmax(shifted)) - sm.MAX_SHIFT == -4  # reads the speech that came 4 steps earlier
    assert sm.summary(shifted)["av_peak"] < 0


def test_too_few_usable_frames_give_no_speech_to_mouth_evidence():
    head = sm.fit([_talking(200, 0)], 2, 1.0)
    speech, mouth, use = _talking(40, 1)
    use[:] = False
    use[10:15] = True
    assert head.correlations(speech, mouth, use) is None
    assert sm.summary(None) == {"av_fit": None, "av_peak": None}


def test_the_mouth_is_read_as_its_opening_scaled_by_the_eyes():
    lm = np.zeros((2, 468, 2))
    for idx in (*sm.EYE_A, *sm.EYE_B):
        lm[:, idx] = [0.0 if idx in sm.EYE_A else 2.0, 0.0]
    lm[:, 13], lm[:, 0] = [1, 2.0], [1, 1.9]
    lm[0, 14], lm[0, 17] = [1, 2.2], [1, 2.4]
    lm[1, 14], lm[1, 17] = [1, 2.6], [1, 2.8]  # the same face with the jaw dropped
    gaps = sm.mouth_shape(lm * 50.0)  # a face five times larger reads the same
    np.testing.assert_allclose(gaps[0], [0.1, 0.25], atol=1e-6)
    assert (gaps[1] > gaps[0]).all()


def test_the_grid_follows_the_frames_the_mesh_ran_on():
    lm = np.full((9, 468, 2), np.nan)
    lm[1::2] = 1.0  # the mesh ran on odd frames (an analysis that starts one frame late)
    grid, shape, use = sm.grid_inputs(lm, np.ones(9, bool), np.ones(9, bool), 2)
    assert grid.tolist() == [1, 3, 5, 7] and use.all() and np.isfinite(shape).all()


def test_the_head_size_is_chosen_on_real_clips_of_held_out_people_only():
    clips = [sm_train.MouthClip(*_talking(150, s), group=f"person{s}", label=0) for s in range(10)]
    fake = sm_train.MouthClip(*_talking(150, 50, lag=5), group="fake", label=1)
    k, ridge, table = sm_train.choose_size([*clips, fake])
    k2, ridge2, table2 = sm_train.choose_size(clips)
    assert (k, ridge) == (k2, ridge2) and table == table2  # the fake changes nothing
    values = sm_train.cross_fitted([*clips, fake], k, ridge)
    assert values[0]["av_fit"] > 0.7 and values[-1]["av_peak"] < 0


def test_speech_to_mouth_and_probes_survive_the_bundle_stats():
    head = sm.fit([_talking(200, 0)], 2, 1.0)
    back = sm.SpeechToMouth.from_stats(head.to_stats())
    speech, mouth, use = _talking(80, 3)
    np.testing.assert_allclose(back.correlations(speech, mouth, use), head.correlations(speech, mouth, use), atol=1e-5)
    assert sm.SpeechToMouth.from_stats({}) is None
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 8)), np.r_[np.zeros(20), np.ones(20)]
    probe = fit_probe(x, y, np.array(["f"] * 40))
    ((name, back_probe),) = probes_from_stats(probe.to_stats("clip_face")).items()
    assert name == "clip_face"
    np.testing.assert_allclose(back_probe.logit(x), probe.logit(x), atol=1e-4)


def test_the_probe_weighs_every_fake_family_equally():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((100, 2)) * 0.3
    big = rng.standard_normal((100, 2)) * 0.3 + [2.0, 0.0]  # a large family off along x
    small = rng.standard_normal((5, 2)) * 0.3 + [0.0, 2.0]  # a small one off along y
    x = np.vstack([real, big, small])
    y = np.r_[np.zeros(100), np.ones(105)]
    fam = np.array([""] * 100 + ["big"] * 100 + ["small"] * 5)
    probe = fit_probe(x, y, fam, c=10.0)
    assert probe.logit(np.array([0.0, 2.0])) > 0  # the small family is found, not outvoted


def _records(n_per_family: int = 12) -> list[dict]:
    """Real files around the origin; fake families share one direction in a 16-d embedding and each has its own."""
    rng = np.random.default_rng(2)
    recs = []
    for i in range(60):
        e = rng.standard_normal(16) * 0.5
        recs.append({"label": 0, "family": "", "group": f"p{i}", "is_image": False, "values": {}, "quality": {},
                     "embeddings": {"clip_face": e.tolist()}})  # fmt: skip
    for f in range(4):
        direction = np.zeros(16)
        direction[f], direction[15] = 3.0, 1.5
        for j in range(n_per_family):
            e = rng.standard_normal(16) * 0.5 + direction
            recs.append({"label": 1, "family": f"fam{f}", "group": f"fake{f}-{j}", "is_image": False, "values": {},
                         "quality": {}, "embeddings": {"clip_face": e.tolist()}})  # fmt: skip
    return recs


def test_the_fusion_sees_probe_logits_from_probes_that_never_saw_the_family():
    recs = _records()
    oof = out_of_fold_probe_values(recs, ("clip_face",))
    fitted = fit_config(recs, EvidenceConfig("t", ("clip_face",), ("clip_face",)))
    in_sample = [score(fitted, r) for r in recs if r["label"]]
    held = [r["values"]["clip_face"] for r in oof if r["label"]]
    # A family's own direction is unknown to a probe fitted without it: its held-out logits are lower than the
    # in-sample probe's, which is what a new family will look like; the shared direction still carries over.
    probe = fitted.probes["clip_face"]
    own = [float(probe.logit(np.asarray(r["embeddings"]["clip_face"]))) for r in recs if r["label"]]
    assert np.mean(held) < np.mean(own)
    assert min(in_sample) > 0.5
