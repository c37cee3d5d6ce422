"""Scoring: z-scores, heads, lines, verdicts and reasons, on hand-made evidence (no models, no media)."""

from __future__ import annotations

import numpy as np
import pytest

from vaedetect.evidence import RawEvidence, face_region
from vaedetect.report import EVIDENCE, WIDENING, ReportWarning
from vaedetect.scoring import (
    DIRECTION,
    NOT_COUNTED,
    WIDENED_REASON,
    Head,
    Reasons,
    load_heads,
    reasons_for,
    score,
    select_head,
    shift_finding,
    thresholds_with_warnings,
    verdict_for,
    worst_region,
)


def test_verdict_tiers_at_the_threshold_edges() -> None:
    assert verdict_for(0.2999, 0.3, 0.7) == "real"
    assert verdict_for(0.3, 0.3, 0.7) == "uncertain"
    assert verdict_for(0.6999, 0.3, 0.7) == "uncertain"
    assert verdict_for(0.7, 0.3, 0.7) == "fake"


def test_warnings_widen_the_uncertain_band_and_unrelated_codes_do_not() -> None:
    head = Head("h", ("face",), np.array([1.0]), 0.0, 0.4, 0.8)
    assert thresholds_with_warnings(head, []) == (0.4, 0.8)
    assert thresholds_with_warnings(head, ["no_speech", "cut_to_limit", "incomplete"]) == (0.4, 0.8)
    unc1, fake1 = thresholds_with_warnings(head, ["heavy_compression"])
    unc2, fake2 = thresholds_with_warnings(head, ["heavy_compression", "low_resolution"])
    assert unc2 < unc1 < 0.4 and 0.8 < fake1 < fake2 < 1.0


def test_the_head_with_the_most_available_evidence_is_chosen() -> None:
    heads = {
        "full": Head("full", ("face", "sync"), np.ones(2), 0.0, 0.4, 0.8),
        "photo": Head("photo", ("face",), np.ones(1), 0.0, 0.4, 0.8),
        "audio": Head("audio", ("audio",), np.ones(1), 0.0, 0.4, 0.8),
    }
    assert select_head(heads, {"face": 1.0, "sync": 0.5, "audio": None}).name == "full"
    assert select_head(heads, {"face": 1.0, "sync": None, "audio": None}).name == "photo"
    assert select_head(heads, {"face": None, "sync": None, "audio": 2.0}).name == "audio"
    assert select_head(heads, {"face": None, "sync": None, "audio": None}) is None


def test_a_head_without_any_weight_is_not_used() -> None:
    cal = {
        "heads": {
            "audio": Head("audio", ("audio",), np.zeros(1), 0.0, 0.45, 0.5).to_json(),
            "photo": Head("photo", ("face",), np.ones(1), 0.0, 0.4, 0.8).to_json(),
        }
    }
    assert set(load_heads(cal)) == {"photo"}


def test_a_head_adds_each_experts_evidence_in_log_odds() -> None:
    head = Head("h", ("face", "sync"), np.array([0.5, 2.0]), -1.0, 0.4, 0.8)
    p = head.probability({"face": 2.0, "sync": 1.0})
    assert p == pytest.approx(1 / (1 + np.exp(-(0.5 * 2 + 2 * 1 - 1))))
    assert head.probability({"face": 2.0, "sync": 3.0}) > p  # more anomalous evidence, higher probability


def test_contributions_are_each_counted_evidences_share_of_the_fused_log_odds() -> None:
    head = Head("h", ("face", "latent", "sync"), np.array([0.5, 0.0, 2.0]), -1.0, 0.4, 0.8)
    z = {"face": 2.0, "latent": 3.0, "sync": -0.5}
    c = head.contributions(z)
    assert c == {"face": 1.0, "sync": -1.0}  # latent has weight 0: not counted, so not listed
    p = head.probability(z)
    assert sum(c.values()) + head.bias == pytest.approx(np.log(p / (1 - p)))


def test_reasons_name_what_drove_a_fake_verdict_and_never_reassure_about_it() -> None:

    head = Head("full", ("face", "sync"), np.array([0.05, 0.5]), 0.0, 0.5, 0.55)
    z = dict.fromkeys(EVIDENCE) | {"face": 0.4, "sync": 0.8}
    out = reasons_for(z, RawEvidence(sync_offset=0), "fake", 25.0, None, head).moved
    assert "less closely than in the average real clip (+0.8σ)" in out[0] and "weighs most" in out[0]
    assert not any("as in real footage" in r for r in out)
    # For a real verdict the same evidence reads as reassurance, listed first, and nothing "weighs most".
    real = reasons_for(z, RawEvidence(sync_offset=0), "real", 25.0, None, head)
    assert any("in step, as in real footage" in r for r in real.moved)
    assert not any("weighs most" in r for r in real.moved + real.weak)
    # A face that is the driver is named softly instead of being called "like real faces".
    photo = Head("photo", ("face",), np.array([0.3]), 0.0, 0.5, 0.55)
    out = reasons_for(dict.fromkeys(EVIDENCE) | {"face": 0.8}, RawEvidence(), "uncertain", 25.0, None, photo).moved
    assert out[0].startswith("The face reconstructs a little worse") and not any("like real faces" in r for r in out)


def test_striking_evidence_the_head_does_not_count_is_labelled_and_listed_after_what_counts() -> None:

    head = Head("full", ("face", "audio", "sync"), np.array([0.3, 0.0, 0.5]), 0.0, 0.5, 0.55)
    z = dict.fromkeys(EVIDENCE) | {"face": 2.2, "audio": 3.0, "sync": 0.1}
    moved, weak = reasons_for(z, RawEvidence(sync_offset=0), "fake", 25.0, "mouth", head)
    assert moved[0].startswith("The face reconstructs 2.2σ worse") and moved[0].endswith("weighs most in the verdict.")
    assert not any(r.startswith("The voice") for r in moved)  # it did not move the verdict: a weak trace
    assert weak[0].startswith("The voice") and weak[0].endswith(NOT_COUNTED)


def test_a_clear_audio_offset_is_stated_even_when_the_sync_score_is_unremarkable() -> None:

    z = dict.fromkeys(EVIDENCE) | {"sync": 0.8}
    out = reasons_for(z, RawEvidence(sync_offset=11), "fake", 25.0, None).moved
    assert any("out of step: the lips lead the speech by 0.44 s" in r for r in out)
    assert not any("in step, as in real footage" in r for r in out)
    small = reasons_for(z, RawEvidence(sync_offset=3), "uncertain", 25.0, None)
    assert not any("step" in r for r in small.moved + small.weak)  # a few frames off, typical score: say nothing
    assert any("in step" in r for r in reasons_for(z, RawEvidence(sync_offset=0), "real", 25.0, None).moved)


def _both(reasons: Reasons) -> list[str]:
    return reasons.moved + reasons.weak


def test_an_offset_the_two_cues_disagree_on_is_not_claimed() -> None:

    z = dict.fromkeys(EVIDENCE) | {"sync": 0.8}
    agree = RawEvidence(sync_offset=11, sync_offset_model=10, lipvoice_offset=11)
    assert shift_finding(agree, z) is not None  # a finding, named by score(): the reasons do not repeat it
    assert not any("out of step" in r for r in _both(reasons_for(z, agree, "fake", 25.0, None)))
    split = RawEvidence(sync_offset=10, sync_offset_model=11, lipvoice_offset=0)
    assert shift_finding(split, z) is None
    out = _both(reasons_for(z, split, "uncertain", 25.0, None))
    assert not any("out of step" in r or "in step" in r for r in out)
    assert any("disagree" in r and "+0.44 s" in r and "+0.00 s" in r for r in out)
    # The fused estimate landing on 0 is not "in step" either while the alignment model alone says +0.44 s.
    zero = RawEvidence(sync_offset=0, sync_offset_model=11, lipvoice_offset=0)
    out = _both(reasons_for(z, zero, "real", 25.0, None))
    assert not any("in step" in r for r in out) and any("disagree" in r for r in out)


def test_the_region_named_in_a_reason_is_one_the_heatmap_colours() -> None:

    zmap = np.zeros((32, 32), np.float32)
    zmap[:, :3] = 9.0  # background at the left edge, outside the scored face area
    zmap[22:27, 12:20] = 2.0  # the mouth, inside it
    assert worst_region(zmap) == "face edges"
    assert worst_region(zmap, face_region(32)) == "mouth"


CALIBRATION = {
    "evidence": {
        "face": {"mean": 1.0, "std": 0.5},
        "latent": {"mean": 2.0, "std": 1.0},
        "sync": {"mean": 0.3, "std": 0.1},
    },
    "heads": {
        "full": Head("full", ("face", "latent", "sync"), np.array([1.0, 0.5, 1.0]), -1.0, 0.4, 0.8).to_json(),
        "photo": Head("photo", ("face", "latent"), np.array([1.0, 0.5]), -1.0, 0.4, 0.8).to_json(),
    },
}


def _clip_evidence() -> RawEvidence:
    """Two seconds at 25 fps: face samples in both, lip-sync windows in the second only."""
    return RawEvidence(
        n_frames=50,
        fps=25.0,
        face=1.5,
        latent=2.5,
        sync=0.1,
        frame_idx=np.array([5, 20, 30, 45]),
        frame_scores=np.array([1.0, 1.5, 2.0, 1.5]),
        frame_latent=np.array([2.0, 3.0, 2.0, 3.0]),
        sync_offset=0,
        sync_centers=np.array([30, 40]),
        sync_curve=np.array([0.2, 0.4]),
    )


def test_score_z_scores_clip_frames_and_seconds_alike_with_the_lip_sync_sign_from_direction() -> None:
    s = score(_clip_evidence(), CALIBRATION, [])
    assert s.z["face"] == pytest.approx(1.0) and s.z["latent"] == pytest.approx(0.5)
    assert s.z["sync"] == pytest.approx(DIRECTION["sync"] * (0.1 - 0.3) / 0.1) == pytest.approx(2.0)
    assert s.z["audio"] is None and set(s.z) == set(EVIDENCE)
    assert np.allclose(s.frame_face, [0.0, 1.0, 2.0, 1.0])
    first, second = s.seconds
    assert [p.t for p in s.seconds] == [0.0, 1.0]  # from the first analysed frame: the detector adds its cut
    assert first.face == pytest.approx(0.5) and first.sync is None  # frames 5 and 20; no lip-sync window
    assert second.face == pytest.approx(1.5) and second.sync == pytest.approx(DIRECTION["sync"] * (0.3 - 0.3) / 0.1)
    assert s.head.name == "full" and first.fused is not None
    assert s.manipulation_score == pytest.approx(s.head.probability(s.z))
    assert sum(s.contributions.values()) + s.head.bias == pytest.approx(
        np.log(s.manipulation_score / (1 - s.manipulation_score))
    )


@pytest.mark.parametrize("code", sorted(WIDENING))
def test_every_widening_warning_moves_the_lines_apart_and_the_reasons_say_so(code: str) -> None:
    plain = score(_clip_evidence(), CALIBRATION, [ReportWarning("no_speech", "")])
    widened = score(_clip_evidence(), CALIBRATION, [ReportWarning(code, "")])
    assert widened.lines["uncertain"] < plain.lines["uncertain"] and widened.lines["fake"] > plain.lines["fake"]
    assert WIDENED_REASON in widened.reasons and WIDENED_REASON not in plain.reasons


def test_nothing_to_score_gives_no_lines_and_says_why() -> None:
    s = score(RawEvidence(n_frames=50), CALIBRATION, [ReportWarning("no_face", "")])
    assert s.head is None and s.lines == {} and s.verdict == "uncertain" and s.contributions == {}
    assert "no face" in s.reasons[0] and s.frame_face.size == 0
    assert s.no_verdict == "no_face"  # its own outcome, not the middle tier
    assert score(RawEvidence(n_frames=50), CALIBRATION, []).no_verdict == "nothing_to_score"


def test_a_photo_has_no_seconds() -> None:
    raw = _clip_evidence()
    raw.is_image, raw.sync, raw.sync_offset = True, None, None
    s = score(raw, CALIBRATION, [])
    assert s.seconds == [] and s.head.name == "photo"


def _learned_calibration() -> dict:
    """A calibration with equal heads (as every bundle has) plus learned heads fitted on made-up records in which
    fakes have a worse face and less grain in the lower face."""
    from vaedetect.fusion import fit_heads

    rng = np.random.default_rng(0)
    q = {"face_px": 120.0, "sharpness": 80.0, "bits_per_pixel": 0.1}
    recs = [
        {"label": 0, "family": "", "group": f"p{i}", "is_image": i % 4 == 0, "quality": q,
         "values": {"face": rng.normal(), "lower_upper_noise": rng.normal()}}
        for i in range(160)
    ] + [
        {"label": 1, "family": f"f{i % 3}", "group": f"g{i}", "is_image": False, "quality": q,
         "values": {"face": rng.normal(2.0), "lower_upper_noise": rng.normal(-2.5)}}
        for i in range(60)
    ]  # fmt: skip
    return {
        "evidence": {k: {"mean": 0.0, "std": 1.0} for k in ("face", "latent", "audio", "sync", "temporal")},
        "heads": {"audio": Head("audio", ("audio",), np.ones(1), 0.0, 0.6, 0.8).to_json()},
        "learned": fit_heads(recs),
    }


def test_with_learned_heads_a_voice_alone_gets_no_verdict() -> None:
    """Issue 15: the voice evidence is not calibrated on labelled synthetic voices, so without a face there is no
    real/fake verdict, even though the bundle still has an audio-only head."""
    raw = RawEvidence(audio=4.0, n_frames=100, fps=25.0)
    s = score(raw, _learned_calibration(), [ReportWarning("no_face", "No face.")])
    assert s.head is None and s.lines == {} and s.verdict == "uncertain"
    assert "does not judge a voice on its own" in s.reasons[0]


def test_a_learned_head_explains_with_the_direction_it_learned() -> None:
    cal = _learned_calibration()
    raw = RawEvidence(face=2.5, n_frames=100, fps=25.0)
    raw.cues = {"lower_upper_noise": -3.0}
    raw.quality = {"face_px": 120.0, "sharpness": 80.0, "bits_per_pixel": 0.1}
    s = score(raw, cal, [])
    assert s.head is not None and s.head.name == "learned-video"
    assert s.manipulation_score > s.lines["uncertain"]
    assert any("less grain than the upper face" in r for r in s.reasons)
    assert s.contributions["lower_upper_noise"] > 0 and s.contributions["face"] > 0
    typical = RawEvidence(face=0.0, n_frames=100, fps=25.0)
    typical.cues = {"lower_upper_noise": 0.0}
    assert score(typical, cal, []).verdict == "real"


def test_a_photo_is_scored_by_the_learned_photo_head() -> None:
    raw = RawEvidence(face=0.1, n_frames=1, fps=25.0, is_image=True)
    raw.cues = {"lower_upper_noise": 0.2}
    s = score(raw, _learned_calibration(), [])
    assert s.head is not None and s.head.name == "learned-photo"
    assert s.seconds == []


def test_the_photo_heads_lines_stand_above_frames_of_real_videos_too() -> None:
    """Rule 9 (bench/results/2026-12-01-rules.md): photos people send are often frames of videos, so a real video's
    frames, scored out of fold, must sit below the photo head's "likely manipulated" line like real photos do."""
    from vaedetect.fusion import fit_heads, real_frames

    rng = np.random.default_rng(1)
    q = {"face_px": 120.0, "sharpness": 80.0, "bits_per_pixel": 0.1}

    def frame(shift: float) -> dict:
        return {"values": {"face": rng.normal(shift)}, "quality": q}

    recs = [
        {"label": 0, "family": "", "group": f"p{i}", "is_image": i % 2 == 0, "quality": q,
         "values": {"face": rng.normal()}, **({} if i % 2 == 0 else {"frames": [frame(1.5), frame(1.5)]})}
        for i in range(120)
    ] + [
        {"label": 1, "family": f"f{i % 3}", "group": f"g{i}", "is_image": False, "quality": q,
         "values": {"face": rng.normal(3.0)}}
        for i in range(60)
    ]  # fmt: skip
    assert len(real_frames(recs)) == 120
    photos_only = fit_heads(recs, photo_lines_on_frames=False)["photo"]["thresholds"]["fake"]
    with_frames = fit_heads(recs)["photo"]["thresholds"]["fake"]
    assert with_frames > photos_only  # the frames are odder than the photos, and the line moved above them


def test_likely_manipulated_stands_above_reshared_real_copies_which_train_nothing() -> None:
    """Rule 10: a re-shared copy of a real file (``copy_of``) must not be over the "likely manipulated" line, and the
    copies set lines only (training on them measured worse on held-out families, rule 7)."""
    from vaedetect.fusion import fit_heads

    rng = np.random.default_rng(2)
    q = {"face_px": 120.0, "sharpness": 80.0, "bits_per_pixel": 0.1}
    recs = [
        {"path": f"r{i}", "label": 0, "family": "", "group": f"p{i}", "is_image": False, "quality": q,
         "values": {"face": rng.normal()}}
        for i in range(100)
    ] + [
        {"path": f"f{i}", "label": 1, "family": f"f{i % 3}", "group": f"g{i}", "is_image": False, "quality": q,
         "values": {"face": rng.normal(3.0)}}
        for i in range(40)
    ]  # fmt: skip
    copies = [
        {**r, "path": r["path"] + "#reshared", "copy_of": r["path"], "values": {"face": r["values"]["face"] + 1.5}}
        for r in recs
    ]
    plain, with_copies = fit_heads(recs)["video"], fit_heads(recs + copies)["video"]
    assert with_copies["fusion"]["weights"] == plain["fusion"]["weights"]  # the copies trained nothing
    assert with_copies["thresholds"]["uncertain"] == plain["thresholds"]["uncertain"]
    assert with_copies["thresholds"]["fake"] > plain["thresholds"]["fake"]  # raised above the softer real copies


# -- issue 32: findings, reasons that explain the verdict, no verdict without a face, one σ per check ----------------


def _typical_clip(**sync) -> RawEvidence:
    """Evidence as typical as real clips (the equal heads score it under the "uncertain" line), with ``sync`` set."""
    raw = _clip_evidence()
    raw.face, raw.latent, raw.sync = 1.0, 2.0, 0.3
    for k, v in sync.items():
        setattr(raw, k, v)
    return raw


def test_a_shift_both_lip_sync_cues_agree_on_is_named_first_and_keeps_the_verdict_at_look_closer() -> None:
    plain = score(_typical_clip(), CALIBRATION, [])
    assert plain.verdict == "real" and plain.findings == []
    shifted = score(_typical_clip(sync_offset=10, sync_offset_model=10, lipvoice_offset=9), CALIBRATION, [])
    assert shifted.manipulation_score == pytest.approx(plain.manipulation_score)  # the score ranks; it is not moved
    assert shifted.verdict == "uncertain" and [f.code for f in shifted.findings] == ["audio_shift"]
    first = shifted.reasons[0]
    assert first == shifted.findings[0].message and "the lips lead the speech by 0.40 s" in first
    assert "editing" in first  # a shift may be an editing fault: the finding says so
    assert sum("out of step" in r for r in shifted.reasons + shifted.weak_traces) == 1  # named once
    assert not any("between what real clips" in r for r in shifted.reasons)  # the score itself was not between


def test_a_shift_only_one_cue_sees_is_a_reason_and_raises_nothing() -> None:
    one_cue = score(_typical_clip(sync_offset=10, sync_offset_model=10), CALIBRATION, [])  # no lip-from-voice
    assert one_cue.findings == [] and one_cue.verdict == "real"
    assert any("out of step" in r for r in one_cue.weak_traces)  # listed, as too weak to count


def test_a_voice_that_changes_speaker_below_the_bundles_line_is_a_finding_named_first() -> None:
    from vaedetect.evidence.arrays import SpeakerTrack

    raw = _typical_clip()
    raw.values["speaker_change"] = 0.55
    raw.offset_frames = 50  # the analysis started 2 s into the file
    raw.speaker = SpeakerTrack(np.zeros((4, 2), int), np.eye(4), np.array([100, 150]), np.array([0.8, 0.55]))
    cal = {**CALIBRATION, "findings": {"speaker_change": {"line": 0.77, "n_real": 62, "how": "test"}}}
    s = score(raw, cal, [])
    assert s.verdict == "uncertain" and [f.code for f in s.findings] == ["speaker_change"]
    assert "0:08" in s.reasons[0] and "different person" in s.reasons[0]  # (150 + 50) / 25 s
    assert not score(raw, CALIBRATION, []).findings  # a bundle without a line claims nothing
    raw.values["speaker_change"] = 0.9
    assert not score(raw, cal, []).findings
    fake_head = {**cal, "heads": {"photo": Head("p", ("face",), np.ones(1), 5.0, 0.4, 0.8).to_json()}}
    raw.values["speaker_change"] = 0.55
    raw.sync, raw.sync_offset, raw.latent = None, None, None
    assert score(raw, fake_head, []).verdict == "fake"  # a finding only raises a verdict, never lowers one


def test_a_real_verdict_lists_what_pushed_towards_real_first_and_the_signs_as_too_weak() -> None:
    cal = _learned_calibration()
    raw = RawEvidence(face=-1.5, n_frames=100, fps=25.0)
    raw.cues = {"lower_upper_noise": -0.4}  # a little less grain below: a sign, too weak to count
    raw.quality = {"face_px": 120.0, "sharpness": 80.0, "bits_per_pixel": 0.1}
    s = score(raw, cal, [])
    assert s.verdict == "real"
    assert s.reasons[0].startswith("Face reconstruction: less like the fakes") and "weighs most" not in s.reasons[0]
    assert not any("less grain than the upper face" in r for r in s.reasons)
    assert any("less grain than the upper face" in r for r in s.weak_traces)


def test_the_sigma_a_learned_reason_quotes_is_the_checks_sigma() -> None:
    """The JSON reasons and the page's details must show one σ per check (they once showed +1.2σ and +0.8σ)."""
    from vaedetect.explain import sigma

    cal = _learned_calibration()
    raw = RawEvidence(face=2.5, n_frames=100, fps=25.0)
    raw.cues = {"lower_upper_noise": -3.0}
    raw.quality = {"face_px": 120.0, "sharpness": 120.0, "bits_per_pixel": 0.3}  # quality moves the z-scores
    s = score(raw, cal, [])
    quoted = [r for r in s.reasons if "σ" in r]
    assert quoted and set(s.checks) >= {"face", "lower_upper_noise"}
    for key, words in (("face", "reconstructs worse"), ("lower_upper_noise", "less grain")):
        reason = next(r for r in quoted if words in r)
        assert f"({sigma(s.checks[key])})" in reason
    assert s.checks["face"] != pytest.approx(s.z["face"])  # the quality-corrected σ, not the raw one


def test_without_a_face_a_silent_clip_gets_no_verdict_and_no_word_about_a_voice() -> None:
    silent = score(RawEvidence(n_frames=25, fps=25.0), _learned_calibration(), [ReportWarning("no_face", "")])
    assert silent.no_verdict == "no_face" and silent.lines == {}
    assert not any("voice" in r for r in silent.reasons + silent.weak_traces)
    speaking = score(RawEvidence(audio=0.5, n_frames=25, fps=25.0), _learned_calibration(), [])
    assert any("voice" in r for r in speaking.reasons)  # with speech, why a voice alone is not judged


def test_tier_rates_travel_from_the_calibration_by_kind_of_file() -> None:
    rates = {"how": "leave-one-family-out", "n_real": 10, "n_fake": 20, "n_families": 3,
             "real_files": {"real": 0.8, "uncertain": 0.2, "fake": 0.0},
             "fakes": {"real": 0.4, "uncertain": 0.5, "fake": 0.1}}  # fmt: skip
    cal = {**CALIBRATION, "tier_rates": {"video": rates}}
    assert score(_clip_evidence(), cal, []).tier_rates == rates
    photo = _clip_evidence()
    photo.is_image, photo.sync, photo.sync_offset = True, None, None
    assert score(photo, cal, []).tier_rates is None  # no photo block: no invented numbers
    assert score(_clip_evidence(), CALIBRATION, []).tier_rates is None


def test_a_learned_check_read_from_the_raw_evidence_values_has_its_sigma_in_checks() -> None:
    """The shipped heads read evidence the modules write into ``raw.values`` (clip_face, av_fit): their σ belongs in
    ``checks`` as much as the face's does (checks once came out empty for every file of the default bundle)."""
    from vaedetect.fusion import fit_fusion

    rng = np.random.default_rng(1)
    real = [{"clip_face": rng.normal()} for _ in range(160)]
    fake = [{"clip_face": rng.normal(2.0)} for _ in range(60)]
    fusion = fit_fusion(real, fake, ("clip_face",))
    cal = {
        "evidence": {"face": {"mean": 0.0, "std": 1.0}},
        "learned": {"video": {"fusion": fusion.to_json(), "thresholds": {"uncertain": 0.6, "fake": 0.9}}},
    }
    raw = RawEvidence(face=0.3, n_frames=100, fps=25.0)  # a face was found (the way in), its VAE unread by the head
    raw.values = {"clip_face": 2.5}
    s = score(raw, cal, [])
    assert set(s.checks) == {"clip_face"} and s.checks["clip_face"] > 0
