"""Region cues and the learned fusion: what each measures, that re-sharing leaves the ratios alone, and that the
fusion learns directions, keeps weights non-negative and removes what image quality explains on real files."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vaedetect import cues
from vaedetect.faces import FACE_OVAL, FACE_TEMPLATE, LIPS, keypoints_of
from vaedetect.fusion import (
    LearnedFusion,
    QualityCorrection,
    bits_per_pixel,
    fit_fusion,
    fit_heads,
    fit_quality_correction,
    robust_norm,
)

PX = 256


def _landmarks(rng: np.random.Generator) -> np.ndarray:
    """468 plausible landmarks in crop coordinates: the outline on an ellipse, lips around the mouth, the five
    alignment points on the canonical template (so the crop's own transform is close to the identity)."""
    lm = np.full((468, 2), PX / 2, np.float32)
    t = np.linspace(0, 2 * np.pi, len(FACE_OVAL), endpoint=False)
    lm[list(FACE_OVAL)] = np.c_[PX / 2 + 0.36 * PX * np.sin(t), PX * 0.52 - 0.46 * PX * np.cos(t)]
    u = np.linspace(0, 2 * np.pi, len(LIPS), endpoint=False)
    lm[list(LIPS)] = np.c_[PX / 2 + 0.12 * PX * np.cos(u), PX * 0.78 + 0.04 * PX * np.sin(u)]
    tpl = FACE_TEMPLATE * PX
    lm[[33, 133]] = tpl[0] + [[-6, 0], [6, 0]]
    lm[[362, 263]] = tpl[1] + [[-6, 0], [6, 0]]
    lm[1] = tpl[2]
    lm[61], lm[291] = tpl[3], tpl[4]
    mouth = tpl[3:5].mean(axis=0)
    lm[13], lm[14] = mouth - np.array([0.0, 3.0]), mouth + np.array([0.0, 3.0])
    return lm + rng.normal(0, 0.3, lm.shape).astype(np.float32)


def _face(rng: np.random.Generator, lower_blur: float = 0.0) -> np.ndarray:
    """A textured face-like crop: noise texture everywhere, optionally the lower face blurred (a redrawn mouth)."""
    img = np.clip(128 + rng.normal(0, 25, (PX, PX, 3)), 0, 255).astype(np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 0.6)
    if lower_blur:
        low = img[int(PX * 0.62) :].copy()
        img[int(PX * 0.62) :] = cv2.GaussianBlur(low, (0, 0), lower_blur)
    return img


def test_regions_sit_inside_the_crop_and_do_not_overlap_where_they_should_not():
    rng = np.random.default_rng(0)
    r = cues.regions(_landmarks(rng), PX)
    for name in ("inner", "ring", "upper", "lower", "mouth", "outline"):
        assert getattr(r, name).sum() > cues._MIN_PIXELS, name
    assert not (r.inner & r.ring).any()
    assert not (r.upper & r.lower).any()


def test_a_redrawn_smoother_lower_face_lowers_lower_vs_upper_detail():
    rng = np.random.default_rng(1)
    lm = _landmarks(rng)
    real = cues.frame_cues(_face(rng), lm)["lower_upper_detail"]
    redrawn = cues.frame_cues(_face(rng, lower_blur=2.0), lm)["lower_upper_detail"]
    assert abs(real) < 0.3
    assert redrawn < real - 0.5


def test_on_an_evenly_textured_face_re_sharing_moves_the_region_ratios_far_less_than_the_detail():
    """On real footage both regions of a face degrade alike, so their ratio stays while each region's own detail
    drops (where the regions already differ, as on a redrawn mouth, degradation pulls the ratio towards 0 instead:
    laundering weakens that evidence, it does not invent it)."""
    rng = np.random.default_rng(2)
    lm = _landmarks(rng)
    face = _face(rng)
    half = cv2.resize(cv2.resize(face, (PX // 2, PX // 2), interpolation=cv2.INTER_AREA), (PX, PX))
    ok, enc = cv2.imencode(".jpg", cv2.GaussianBlur(half, (0, 0), 1.0), [cv2.IMWRITE_JPEG_QUALITY, 40])
    assert ok
    shared = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    own_detail_drop = np.log(cues._detail(cues._gray(face)).mean() / cues._detail(cues._gray(shared)).mean())
    assert own_detail_drop > 1.0
    a, b = cues.frame_cues(face, lm), cues.frame_cues(shared, lm)
    for k in ("lower_upper_detail", "lower_upper_noise", "face_ring_detail", "face_ring_noise", "seam"):
        assert abs(a[k] - b[k]) < 0.25 * own_detail_drop, k


def test_clip_cues_of_one_photo_have_no_temporal_cues():
    rng = np.random.default_rng(3)
    out = cues.clip_cues(_face(rng)[None], _landmarks(rng)[None])
    assert set(out) == set(cues.CUES)
    assert np.isnan(out["lower_upper_flicker"]) and np.isnan(out["face_ring_flicker"])
    assert np.isfinite(out["lower_upper_detail"])


def test_robust_norm_orients_towards_the_fakes():
    rng = np.random.default_rng(4)
    real = rng.normal(0, 1, 200)
    n = robust_norm(real, rng.normal(-2, 1, 50))
    assert n.direction == -1.0
    assert n.z(-3.0) > 2.0  # lower than real = more like these fakes
    assert n.z(None) is None and n.z(float("nan")) is None


def test_fusion_learns_the_informative_evidence_and_keeps_weights_non_negative():
    rng = np.random.default_rng(5)
    real = [{"a": rng.normal(), "b": rng.normal(), "c": rng.normal()} for _ in range(300)]
    fake = [{"a": rng.normal(3), "b": rng.normal(), "c": rng.normal(-3)} for _ in range(100)]
    f = fit_fusion(real, fake, ("a", "b", "c"))
    w = dict(zip(f.features, f.weights, strict=True))
    assert (f.weights >= 0).all()
    assert w["a"] > 0.5 and w["c"] > 0.5 and w["b"] < 0.2
    assert f.norms["c"].direction == -1.0
    assert f.logit({"a": 3.0, "c": -3.0}) > f.logit({"a": 0.0, "c": 0.0})
    assert f.logit({}) == pytest.approx(f.bias)  # missing evidence counts as typical
    again = LearnedFusion.from_json(json.loads(json.dumps(f.to_json())))
    assert again.logit({"a": 1.0, "b": 2.0}) == pytest.approx(f.logit({"a": 1.0, "b": 2.0}))


def test_floored_fusion_lets_evidence_accuse_but_not_acquit_beyond_the_real_median():
    rng = np.random.default_rng(7)
    real = [{"a": rng.normal(), "b": rng.normal()} for _ in range(300)]
    fake = [{"a": rng.normal(3), "b": rng.normal(2)} for _ in range(100)]
    floored = fit_fusion(real, fake, ("a", "b"), floor=0.0)
    median = {"a": floored.norms["a"].center, "b": 1.0}
    # an attacker (or a soft fake) pushing one evidence far to the real side gains nothing past the median
    assert floored.logit({**median, "a": -50.0}) == pytest.approx(floored.logit(median))
    assert floored.logit({**median, "a": 3.0}) > floored.logit(median)  # the fake side still counts
    again = LearnedFusion.from_json(json.loads(json.dumps(floored.to_json())))
    assert again.floor == 0.0 and again.logit({"a": -50.0}) == pytest.approx(floored.logit({"a": -50.0}))
    unfloored = fit_fusion(real, fake, ("a", "b"))
    assert unfloored.logit({"a": -50.0}) < unfloored.logit({"a": unfloored.norms["a"].center})


def test_a_floor_on_one_evidence_leaves_the_others_both_sides():
    rng = np.random.default_rng(8)
    real = [{"a": rng.normal(), "b": rng.normal()} for _ in range(300)]
    fake = [{"a": rng.normal(3), "b": rng.normal(2)} for _ in range(100)]
    model = fit_fusion(real, fake, ("a", "b"), floor=0.0, floored=("a",))
    median = {"a": model.norms["a"].center, "b": model.norms["b"].center}
    assert model.logit({**median, "a": -50.0}) == pytest.approx(model.logit(median))  # "a" cannot acquit
    assert model.logit({**median, "b": -50.0}) < model.logit(median)  # "b" still can
    again = LearnedFusion.from_json(json.loads(json.dumps(model.to_json())))
    assert again.norms["a"].floor == 0.0 and again.norms["b"].floor is None
    assert again.logit({**median, "a": -50.0}) == pytest.approx(model.logit(median))


def test_calibration_written_without_a_floor_scores_as_it_was_fitted():
    d = fit_fusion([{"a": float(x)} for x in range(-5, 6)], [{"a": 9.0}] * 5, ("a",), floor=-8.0).to_json()
    del d["floor"]  # as bundles written before rule 12
    old = LearnedFusion.from_json(d)
    assert old.floor == -8.0
    assert old.zs({"a": -1e6})["a"] == -8.0


def test_two_sided_evidence_flags_fakes_on_either_side_of_the_real_median():
    rng = np.random.default_rng(9)
    real = [{"a": rng.normal()} for _ in range(300)]
    # two families of fakes, one on each side: an oriented norm can only point at one of them
    fake = [{"a": rng.normal(-4)} for _ in range(60)] + [{"a": rng.normal(4)} for _ in range(40)]
    groups = ["low"] * 60 + ["high"] * 40
    two = fit_fusion(real, fake, ("a",), fake_groups=groups, two_sided=("a",))
    one = fit_fusion(real, fake, ("a",), fake_groups=groups)
    centre = two.norms["a"].center
    assert two.logit({"a": centre - 4}) == pytest.approx(two.logit({"a": centre + 4}), abs=0.05)
    assert two.logit({"a": centre + 4}) > two.logit({"a": centre}) + 1.0
    assert one.logit({"a": centre + 4}) <= one.logit({"a": centre})  # oriented low: the high family scores as real
    again = LearnedFusion.from_json(json.loads(json.dumps(two.to_json())))
    assert again.norms["a"].two_sided and again.logit({"a": 2.5}) == pytest.approx(two.logit({"a": 2.5}))
    assert "two_sided" not in one.to_json()["norms"]["a"]  # calibrations without it read as before


def test_quality_correction_removes_what_quality_predicts_on_real_files():
    rng = np.random.default_rng(6)
    q = [{"face_px": float(p), "sharpness": float(s), "bits_per_pixel": 0.1} for p, s in
         zip(rng.uniform(40, 400, 300), rng.uniform(5, 500, 300), strict=True)]  # fmt: skip
    real = [{"e": 2.0 * np.log(x["face_px"]) + rng.normal(0, 0.1)} for x in q]
    corr = fit_quality_correction(real, q, ("e",))
    assert isinstance(corr, QualityCorrection)
    fixed = np.array([corr.apply(v, x)["e"] for v, x in zip(real, q, strict=True)])
    px = np.array([x["face_px"] for x in q])
    assert abs(np.corrcoef(fixed, np.log(px))[0, 1]) < 0.1
    assert corr.apply({"e": 1.0}, {"face_px": None}) == {"e": 1.0}  # no quality measure: left as it is


def _pairs_world(rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Real records whose evidence barely follows sharpness between files (sources differ in many ways) but drops
    steeply when one file is re-shared softer, plus one re-shared copy of each (rule 17's situation)."""
    recs, copies = [], []
    for i in range(200):
        q = {"face_px": float(rng.uniform(60, 300)), "sharpness": float(rng.uniform(20, 400)), "bits_per_pixel": 0.1}
        e = 0.2 * np.log(q["sharpness"]) + rng.normal(0, 0.3)
        recs.append({"path": f"r{i}", "label": 0, "family": "", "group": f"p{i}", "is_image": False,
                     "values": {"e": e}, "quality": q})  # fmt: skip
        soft = {**q, "sharpness": q["sharpness"] * rng.uniform(0.2, 0.6)}
        copies.append({**recs[-1], "path": f"r{i}#reshared", "copy_of": f"r{i}", "quality": soft,
                       "values": {"e": e + 2.0 * np.log(soft["sharpness"] / q["sharpness"])}})  # fmt: skip
    return recs, copies


def test_paired_quality_correction_learns_what_resharing_does_within_a_file():
    from vaedetect.fusion import copy_pairs

    recs, copies = _pairs_world(np.random.default_rng(8))
    fake_copy = {**copies[0], "label": 1, "path": "f#reshared", "copy_of": "f"}
    rows, pairs = copy_pairs(recs + copies + [fake_copy])
    assert rows == recs and len(pairs) == len(copies)  # copies leave the rows; only real copies pair
    values, quality = [r["values"] for r in rows], [r["quality"] for r in rows]
    between = fit_quality_correction(values, quality, ("e",))
    paired = fit_quality_correction(values, quality, ("e",), pairs)

    def moved(corr: QualityCorrection) -> float:
        e = [(corr.apply(c["values"], c["quality"])["e"], corr.apply(r["values"], r["quality"])["e"])
             for r, c in zip(recs, copies, strict=True)]  # fmt: skip
        return float(np.median([abs(a - b) for a, b in e]))

    assert moved(paired) < 0.5 * moved(between)  # a re-shared copy now reads much like its original
    # the between-file block still counts: the slope on sharpness lies between the two blocks' own (0.2 and 2.0)
    assert between.slopes["e"][1] < paired.slopes["e"][1] < 2.0


def test_paired_correction_heads_train_on_originals_and_pair_the_copies():
    rng = np.random.default_rng(9)
    recs, copies = _pairs_world(rng)
    fakes = [{"path": f"f{i}", "label": 1, "family": f"f{i % 2}", "group": f"g{i}", "is_image": False,
              "values": {"e": float(rng.normal(3.0))}, "quality": recs[i]["quality"]} for i in range(40)]  # fmt: skip
    heads = fit_heads([{**r, "values": {"face": r["values"]["e"]}} for r in recs + copies + fakes],
                      paired_correction=True)  # fmt: skip
    meta = heads["video"]["fusion"]["meta"]
    assert (meta["n_real"], meta["n_fake"], meta["n_quality_pairs"]) == (len(recs), len(fakes), len(copies))
    plain = fit_heads([{**r, "values": {"face": r["values"]["e"]}} for r in recs + copies + fakes])["video"]
    assert plain["fusion"]["meta"]["n_quality_pairs"] == 0
    assert plain["fusion"]["correction"] != heads["video"]["fusion"]["correction"]


def test_worst_family_fusion_weighs_the_evidence_its_hardest_family_needs():
    """Rule 18: one family is easy on evidence ``a``, the other faint on ``b``; fitting the worst family moves weight
    towards ``b`` compared with the mean over families."""
    rng = np.random.default_rng(10)
    real = [{"a": rng.normal(), "b": rng.normal()} for _ in range(200)]
    fake = [{"a": rng.normal(3), "b": rng.normal()} for _ in range(30)]
    fake += [{"a": rng.normal(), "b": rng.normal(1)} for _ in range(30)]
    groups = ["easy"] * 30 + ["hard"] * 30
    mean = fit_fusion(real, fake, ("a", "b"), fake_groups=groups)
    worst = fit_fusion(real, fake, ("a", "b"), fake_groups=groups, worst_family_tau=0.1)
    assert worst.weights[1] / worst.weights[0] > 1.3 * mean.weights[1] / mean.weights[0]
    assert (worst.weights >= 0).all()


def test_head_speed_is_zero_for_a_still_head_and_grows_with_motion_across_facemesh_gaps():
    rng = np.random.default_rng(12)
    lm = _landmarks(rng)
    frames = np.full((21, 468, 2), np.nan, np.float32)  # FaceMesh on every other frame, as the detector runs it
    frames[::2] = lm
    assert cues.head_speed(frames) == pytest.approx(0.0, abs=1e-6)
    moving = frames.copy()
    moving[::2] += np.arange(11, dtype=np.float32)[:, None, None] * np.array([2.0, 0.0], np.float32)
    eyes = keypoints_of(lm)[:2]
    assert cues.head_speed(moving) == pytest.approx(1.0 / np.linalg.norm(eyes[0] - eyes[1]), rel=1e-3)  # 1 px/frame
    assert cues.head_speed(frames[:6]) is None  # under 5 steps


def test_quality_correction_reads_the_measures_it_was_fitted_on():
    from vaedetect.fusion import MOTION, QUALITY

    rng = np.random.default_rng(13)
    q = [{"face_px": 100.0, "sharpness": 50.0, "bits_per_pixel": 0.1, MOTION: float(s)}
         for s in rng.uniform(0.005, 0.05, 200)]  # fmt: skip
    real = [{"e": 3.0 * np.log(x[MOTION]) + rng.normal(0, 0.1)} for x in q]
    corr = fit_quality_correction(real, q, ("e",), keys=(*QUALITY, MOTION))
    again = QualityCorrection.from_json(json.loads(json.dumps(corr.to_json())))
    assert again.keys == (*QUALITY, MOTION)
    fixed = [again.apply(v, x)["e"] for v, x in zip(real, q, strict=True)]
    assert abs(np.corrcoef(fixed, np.log([x[MOTION] for x in q]))[0, 1]) < 0.1
    assert again.apply({"e": 1.0}, {"face_px": 100.0, "sharpness": 50.0, "bits_per_pixel": 0.1}) == {"e": 1.0}
    old = QualityCorrection.from_json({"mean_q": [0.0, 0.0, 0.0], "slopes": {"e": [1.0, 0.0, 0.0]}})
    assert old.keys == QUALITY  # a calibration written before rule 21 reads as before


def test_code_length_grows_with_detail_and_reads_the_scale_it_is_given():
    rng = np.random.default_rng(14)
    noisy = rng.integers(0, 256, (4, 256, 256, 3), dtype=np.uint8)
    soft = np.stack([cv2.GaussianBlur(c, (0, 0), 3) for c in noisy])
    flat = np.full((4, 256, 256, 3), 128, np.uint8)
    assert cues.code_length(noisy) > cues.code_length(soft) > cues.code_length(flat)
    assert cues.code_length(noisy) == pytest.approx(24.0, rel=0.05)  # random bytes do not compress: 3 x 8 bits
    # shrunk to the face VAE's size, the same soft face packs its detail into fewer pixels: more bits each
    assert cues.code_length(soft, 96) > cues.code_length(soft)
    assert cues.code_length(np.zeros((0, 256, 256, 3), np.uint8)) is None


def test_scale_matched_correction_corrects_each_evidence_for_its_own_measure_only():
    from vaedetect.fusion import CUE_COMPLEXITY, FACE_COMPLEXITY, QUALITY, scale_matched_keys

    keys = scale_matched_keys(("face", "latent", "seam", "audio"))
    assert keys == {"face": (FACE_COMPLEXITY,), "latent": (FACE_COMPLEXITY,), "seam": (CUE_COMPLEXITY,),
                    "audio": QUALITY}  # fmt: skip
    rng = np.random.default_rng(15)
    q = [{"face_px": float(p), "sharpness": 50.0, "bits_per_pixel": 0.1, FACE_COMPLEXITY: float(f),
          CUE_COMPLEXITY: float(c)} for p, f, c in rng.uniform([40, 2, 2], [400, 12, 12], (300, 3))]  # fmt: skip
    # face follows its own code length; seam follows face size, which its correction must not read
    real = [{"face": 2.0 * np.log(x[FACE_COMPLEXITY]) + rng.normal(0, 0.1),
             "seam": 2.0 * np.log(x["face_px"]) + rng.normal(0, 0.1),
             "audio": 2.0 * np.log(x["face_px"]) + rng.normal(0, 0.1)} for x in q]  # fmt: skip
    corr = fit_quality_correction(
        real, q, ("face", "seam", "audio"), keys=scale_matched_keys(("face", "seam", "audio"))
    )
    again = QualityCorrection.from_json(json.loads(json.dumps(corr.to_json())))
    fixed = [again.apply(v, x) for v, x in zip(real, q, strict=True)]

    def rho(k: str, m: str) -> float:
        return abs(np.corrcoef([f[k] for f in fixed], np.log([x[m] for x in q]))[0, 1])

    assert rho("face", FACE_COMPLEXITY) < 0.1  # its own measure taken out
    assert rho("seam", "face_px") > 0.9  # not corrected for a measure of another scale
    assert rho("audio", "face_px") < 0.1  # audio keeps the file-level correction
    # a file without the cue crops' measure keeps its cue value, and the rest are still corrected
    partial = {k: v for k, v in q[0].items() if k != CUE_COMPLEXITY}
    out = again.apply(real[0], partial)
    assert out["seam"] == real[0]["seam"] and out["face"] == pytest.approx(fixed[0]["face"])
    # the heads a bundle ships say so in their correction, which is how a detector knows to measure code lengths
    recs = [{"label": 0, "family": "", "group": f"p{i}", "is_image": False, "values": {"face": v["face"]},
             "quality": x} for i, (v, x) in enumerate(zip(real, q, strict=True))]  # fmt: skip
    recs += [{**r, "label": 1, "family": f"f{i % 2}", "group": f"g{i}", "values": {"face": r["values"]["face"] + 2}}
             for i, r in enumerate(recs[:40])]  # fmt: skip
    video = fit_heads(recs, scale_matched=True)["video"]["fusion"]["correction"]
    assert (
        video["quality_for"]["face"] == [FACE_COMPLEXITY]
        and "quality_for" not in fit_heads(recs)["video"]["fusion"]["correction"]
    )


def test_bits_per_pixel_for_photos_and_videos():
    assert bits_per_pixel("image", 1000, 100, 10, None, None) == pytest.approx(8.0)
    assert bits_per_pixel("video", 0, 100, 10, 25.0, 25.0) == pytest.approx(25_000 / 25_000)
    assert bits_per_pixel("video", 0, 100, 10, None, 25.0) is None


def _records(rng: np.random.Generator) -> list[dict]:
    recs = []
    for i in range(120):
        is_image = i % 3 == 0
        recs.append({"label": 0, "family": "", "group": f"p{i}", "is_image": is_image,
                     "values": {"face": rng.normal(), "lower_upper_noise": rng.normal()},
                     "quality": {"face_px": 100.0, "sharpness": 50.0, "bits_per_pixel": 0.1}})  # fmt: skip
    for fam in ("x", "y"):
        for i in range(30):
            recs.append({"label": 1, "family": fam, "group": f"{fam}{i}", "is_image": False,
                         "values": {"face": rng.normal(2.5), "lower_upper_noise": rng.normal(-2)},
                         "quality": {"face_px": 100.0, "sharpness": 50.0, "bits_per_pixel": 0.1}})  # fmt: skip
    return recs


def test_learned_lines_hold_every_real_file_below_likely_manipulated():
    rng = np.random.default_rng(7)
    recs = _records(rng)
    heads = fit_heads(recs)
    assert set(heads) == {"video", "photo"}
    for kind, block in heads.items():
        f = LearnedFusion.from_json(block["fusion"])
        th = block["thresholds"]
        assert 0 < th["uncertain"] < th["fake"] <= 1
        reals = [r for r in recs if not r["label"] and r["is_image"] == (kind == "photo")]
        p = [1 / (1 + np.exp(-f.logit(r["values"], r["quality"]))) for r in reals]
        assert max(p) < th["fake"]
        fakes = [r for r in recs if r["label"]]
        pf = [1 / (1 + np.exp(-f.logit(r["values"], r["quality"]))) for r in fakes]
        assert np.median(pf) > th["uncertain"]
