"""Detector, scoring, Report and the analyze/eval CLIs, on synthetic media with a tiny bundle trained for real."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import vaedetect
from vaedetect.detector import Detector
from vaedetect.evaluate import evaluate_csv, record_in_bundle
from vaedetect.report import EVIDENCE, SCHEMA_VERSION, Report
from vaedetect.scoring import Head, select_head, thresholds_with_warnings, verdict_for

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    import faces_factory as ff
    import media_factory as mf
except ImportError:  # pragma: no cover
    from tests import faces_factory as ff
    from tests import media_factory as mf

REPO = Path(__file__).resolve().parents[1]
CONTRACT_KEYS = {
    "n", "auc", "ap", "eer", "tpr_at_fpr_1", "tpr_at_fpr_5", "accuracy_at_threshold", "real_called_fake",
    "per_kind", "errors", "seconds_per_clip",
}  # fmt: skip


@pytest.fixture(scope="module")
def detector(tiny_bundle: Path) -> Detector:
    return vaedetect.load_detector(str(tiny_bundle))


@pytest.fixture(scope="module")
def talking_report(detector: Detector, talking_clip: Path) -> Report:
    return detector.analyze(talking_clip)


# -- scoring logic --------------------------------------------------------------------------------------------------


def test_verdict_tiers_at_the_threshold_edges() -> None:
    assert verdict_for(0.2999, 0.3, 0.7) == "real"
    assert verdict_for(0.3, 0.3, 0.7) == "uncertain"
    assert verdict_for(0.6999, 0.3, 0.7) == "uncertain"
    assert verdict_for(0.7, 0.3, 0.7) == "fake"


def test_warnings_widen_the_uncertain_band_and_unrelated_codes_do_not() -> None:
    head = Head("h", ("face",), np.array([1.0]), 0.0, 0.4, 0.8)
    assert thresholds_with_warnings(head, []) == (0.4, 0.8)
    assert thresholds_with_warnings(head, ["no_speech", "truncated"]) == (0.4, 0.8)
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
    from vaedetect.scoring import load_heads

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
    from vaedetect.evidence import RawEvidence
    from vaedetect.scoring import reasons_for

    head = Head("full", ("face", "sync"), np.array([0.05, 0.5]), 0.0, 0.5, 0.55)
    z = dict.fromkeys(EVIDENCE) | {"face": 0.4, "sync": 0.8}
    out = reasons_for(z, RawEvidence(sync_offset=0), "fake", 25.0, None, head)
    assert "less closely than in the average real clip (+0.8σ)" in out[0] and "weighs most" in out[0]
    assert not any("as in real footage" in r for r in out)
    # Without the head (or for a real verdict) the same evidence reads as reassurance, and nothing "weighs most".
    real = reasons_for(z, RawEvidence(sync_offset=0), "real", 25.0, None, head)
    assert any("in step, as in real footage" in r for r in real) and not any("weighs most" in r for r in real)
    # A face that is the driver is named softly instead of being called "like real faces".
    photo = Head("photo", ("face",), np.array([0.3]), 0.0, 0.5, 0.55)
    out = reasons_for(dict.fromkeys(EVIDENCE) | {"face": 0.8}, RawEvidence(), "uncertain", 25.0, None, photo)
    assert out[0].startswith("The face reconstructs a little worse") and not any("like real faces" in r for r in out)


def test_striking_evidence_the_head_does_not_count_is_labelled_and_listed_after_what_counts() -> None:
    from vaedetect.evidence import RawEvidence
    from vaedetect.scoring import NOT_COUNTED, reasons_for

    head = Head("full", ("face", "audio", "sync"), np.array([0.3, 0.0, 0.5]), 0.0, 0.5, 0.55)
    z = dict.fromkeys(EVIDENCE) | {"face": 2.2, "audio": 3.0, "sync": 0.1}
    out = reasons_for(z, RawEvidence(sync_offset=0), "fake", 25.0, "mouth", head)
    assert out[0].startswith("The face reconstructs 2.2σ worse") and out[0].endswith("weighs most in the verdict.")
    voice = next(r for r in out if r.startswith("The voice"))
    assert voice.endswith(NOT_COUNTED) and out.index(voice) == 1


# -- the Report on real analyses ------------------------------------------------------------------------------------


def test_report_of_a_talking_clip_has_every_part_and_round_trips_through_json(talking_report: Report) -> None:
    r = talking_report
    assert r.verdict in ("real", "uncertain", "fake") and 0.0 <= r.fake_probability <= 1.0
    assert r.reasons and all(isinstance(s, str) and s for s in r.reasons)
    assert set(r.scores) == set(EVIDENCE) and r.scores["face"] is not None and r.scores["blend"] is not None
    assert r.thresholds["uncertain"] < r.thresholds["fake"]
    assert r.media.kind == "video" and r.media.has_audio and r.media.face_coverage > 0.9
    assert {"ingest", "models", "scoring"} <= set(r.timings)
    assert len(r.timeline) == 3 and [p.t for p in r.timeline] == sorted(p.t for p in r.timeline)
    shown = [f for f in r.frames if f.crop is not None]
    assert shown and all(f.heatmap.shape == f.crop.shape == f.reconstruction.shape for f in shown)
    assert all(f.map_xy is not None and np.isfinite(f.map_xy).all() for f in r.frames)
    assert r.model.name and r.schema_version == SCHEMA_VERSION == 3

    text = r.to_json()
    data = json.loads(text)
    assert not {"crop", "reconstruction", "heatmap"} & set(data["frames"][0])  # arrays stay out of the JSON
    again = Report.from_json(text)
    assert again.to_dict() == data


def test_report_contributions_add_up_to_its_fake_probability(detector: Detector, talking_report: Report) -> None:
    r = talking_report
    head = select_head(detector.heads, r.scores)
    assert set(r.contributions) == {f for f in head.features if head.weight(f) > 0 and r.scores[f] is not None}
    logit = np.log(r.fake_probability / (1 - r.fake_probability))
    assert sum(r.contributions.values()) + head.bias == pytest.approx(logit, abs=1e-2)


def test_sync_json_carries_the_contract_curve(talking_report: Report) -> None:
    data = talking_report.to_dict()
    if data["sync"] is None:
        assert talking_report.unavailable.get("sync")
        return
    s = data["sync"]
    assert {"offset_frames", "confidence", "curve"} <= set(s)
    assert len(s["curve"]["t"]) == len(s["curve"]["confidence"]) > 0


def test_frame_map_positions_come_from_the_nearest_reference_points(detector: Detector) -> None:
    ref = detector.bundle.reference
    xy = detector._place(ref["real_latents"][:3])
    assert np.allclose(xy, ref["real_xy"][:3], atol=1e-3)  # a reference point lands on itself


def test_clip_without_a_face_warns_and_says_why_face_evidence_is_missing(
    detector: Detector, no_face_clip: Path
) -> None:
    r = detector.analyze(no_face_clip)
    assert "no_face" in r.warning_codes()
    for k in ("face", "latent", "blend"):
        assert r.scores[k] is None and r.unavailable[k] == "no face found"
    assert not r.frames


def test_a_file_with_nothing_to_score_gets_no_score_and_no_lines(tmp_path: Path, tiny_bundle: Path) -> None:
    """No face and no sound: the CLI and the verdict panel say there is no score instead of showing 50 % between lines
    at 0 % and 100 % (which read as a measurement)."""
    from vaedetect import viz

    clip = mf.write_video(tmp_path / "pattern.mp4", mf.moving_pattern_frames(30), fps=25)
    out_json = tmp_path / "r.json"
    out = _cli("analyze", str(clip), "--checkpoint", str(tiny_bundle), "--json", str(out_json))
    assert out.returncode == 0, out.stderr[-1000:]
    assert out.stdout.splitlines()[0].startswith("UNCERTAIN  (no score: none of the checks could run)")
    rep = Report.from_json(out_json.read_text())
    assert rep.thresholds == {} and not rep.contributions and all(v is None for v in rep.scores.values())
    md = viz.verdict_markdown(rep)
    assert "No manipulation score" in md and "%" not in md.split("**Why**")[0]


def test_a_clip_of_two_frames_with_sound_is_analysed_without_lip_sync(detector: Detector, tmp_path: Path) -> None:
    """A cut-off upload can hold fewer frames than one lip-sync window (found by truncating a WebM to 5 %)."""
    frames = ff.talking_face_frames(ff.opening_curve(2))
    r = detector.analyze(mf.write_video(tmp_path / "two.mp4", frames, fps=25, audio=mf.tone(0.08)))
    assert r.scores["sync"] is None and r.sync is None


def test_silent_clip_warns_no_speech_and_is_scored_on_the_face(detector: Detector, silent_face_clip: Path) -> None:
    r = detector.analyze(silent_face_clip)
    assert "no_speech" in r.warning_codes()
    assert r.scores["sync"] is None and r.unavailable["sync"] == "no sound track"
    assert r.scores["face"] is not None and r.sync is None


def test_heavy_compression_is_read_from_the_quantiser_not_the_bitrate(detector: Detector, tmp_path: Path) -> None:
    from vaedetect import media
    from vaedetect.detector import HEAVY_COMPRESSION_BPP

    # A clean render of a still face on a plain background: very few bits per pixel, finely quantised.
    face = ff.talking_face_frames(ff.opening_curve(1))[0]
    canvas = np.full((480, 640, 3), 200, np.uint8)
    canvas[112 : 112 + face.shape[0], 192 : 192 + face.shape[1]] = face
    clean = detector.analyze(mf.write_video(tmp_path / "still.mp4", [canvas] * 50, fps=25, crf=18))
    m = clean.media
    info = media.probe(tmp_path / "still.mp4")
    assert info.video_bitrate_kbps * 1000 / (m.width * m.height * 25) < HEAVY_COMPRESSION_BPP  # bitrate rule: "heavy"
    assert m.quantizer is not None and m.quantizer < 20 and "heavy_compression" not in clean.warning_codes()
    # A talking face squeezed hard: coarse quantiser, warned, with the number.
    frames = ff.talking_face_frames(ff.opening_curve(50, seed=3))
    coarse = detector.analyze(mf.write_video(tmp_path / "coarse.mp4", frames, fps=25, crf=45))
    assert coarse.media.quantizer is not None and coarse.media.quantizer >= 35
    assert "H.264 quantiser" in next(w.message for w in coarse.warnings if w.code == "heavy_compression")


def test_a_photo_saved_at_low_jpeg_quality_is_heavily_compressed(detector: Detector, tmp_path: Path) -> None:
    from PIL import Image

    face = Image.fromarray(ff.astronaut_face())
    for quality in (92, 10):
        face.save(tmp_path / f"q{quality}.jpg", quality=quality)
        r = detector.analyze(tmp_path / f"q{quality}.jpg")
        assert ("heavy_compression" in r.warning_codes()) == (quality == 10), quality
        assert r.media.jpeg_quality is not None and r.media.quantizer is None
    assert "JPEG quality about" in next(w.message for w in r.warnings if w.code == "heavy_compression")


def test_two_faces_raise_the_multiple_faces_warning(detector: Detector, two_face_clip: Path) -> None:
    r = detector.analyze(two_face_clip)
    assert "multiple_faces" in r.warning_codes()


def test_photo_is_scored_with_the_evidence_a_photo_has(detector: Detector, face_photo: Path) -> None:
    r = detector.analyze(face_photo)
    assert r.media.kind == "image"
    assert r.scores["face"] is not None and r.scores["blend"] is not None
    assert r.unavailable["temporal"] == "a photo has no motion"
    assert r.unavailable["sync"] == r.unavailable["audio"] == "a photo has no sound"
    assert r.timeline == [] and len(r.frames) == 1


def test_a_clear_audio_offset_is_stated_even_when_the_sync_score_is_unremarkable() -> None:
    from vaedetect.evidence import RawEvidence
    from vaedetect.scoring import reasons_for

    z = dict.fromkeys(EVIDENCE) | {"sync": 0.8}
    out = reasons_for(z, RawEvidence(sync_offset=11), "fake", 25.0, None)
    assert any("out of step: the lips lead the speech by 0.44 s" in r for r in out)
    assert not any("in step, as in real footage" in r for r in out)
    small = reasons_for(z, RawEvidence(sync_offset=3), "uncertain", 25.0, None)
    assert not any("step" in r for r in small)  # a few frames off with a typical score: say nothing either way
    assert any("in step" in r for r in reasons_for(z, RawEvidence(sync_offset=0), "real", 25.0, None))


def test_an_offset_the_two_cues_disagree_on_is_not_claimed() -> None:
    from vaedetect.evidence import RawEvidence
    from vaedetect.scoring import reasons_for

    z = dict.fromkeys(EVIDENCE) | {"sync": 0.8}
    agree = RawEvidence(sync_offset=11, sync_offset_model=10, lipvoice_offset=11)
    assert any("out of step" in r for r in reasons_for(z, agree, "fake", 25.0, None))
    split = RawEvidence(sync_offset=10, sync_offset_model=11, lipvoice_offset=0)
    out = reasons_for(z, split, "uncertain", 25.0, None)
    assert not any("out of step" in r or "in step" in r for r in out)
    assert any("disagree" in r and "+0.44 s" in r and "+0.00 s" in r for r in out)
    # The fused estimate landing on 0 is not "in step" either while the alignment model alone says +0.44 s.
    zero = RawEvidence(sync_offset=0, sync_offset_model=11, lipvoice_offset=0)
    out = reasons_for(z, zero, "real", 25.0, None)
    assert not any("in step" in r for r in out) and any("disagree" in r for r in out)


# -- eval and analyze CLIs ------------------------------------------------------------------------------------------


def _labels(tmp_path: Path, talking_clip: Path, face_photo: Path, silent_face_clip: Path) -> Path:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    rows = [
        (str(talking_clip), "real", "real"),
        (str(silent_face_clip), "real", "real"),
        ("photo_link.png", "fake", "synthetic"),
        ("corrupt.mp4", "fake", "synthetic"),
    ]
    (tmp_path / "photo_link.png").write_bytes(face_photo.read_bytes())
    path = tmp_path / "labels.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "kind", "ignored"])
        w.writerows([(*r, "x") for r in rows])
    return path


def test_eval_reports_every_contract_key_and_records_a_corrupt_row(
    detector: Detector, tmp_path: Path, talking_clip: Path, face_photo: Path, silent_face_clip: Path
) -> None:
    labels = _labels(tmp_path, talking_clip, face_photo, silent_face_clip)
    res = evaluate_csv(labels, detector.analyze, progress=False)
    assert set(res) >= CONTRACT_KEYS
    assert res["n"] == 4 and res["n_scored"] == 3
    assert [e["path"] for e in res["errors"]] == [str(tmp_path / "corrupt.mp4")]
    assert res["errors"][0]["message"]
    assert set(res["per_kind"]) == {"real", "synthetic"} and res["per_kind"]["real"]["n"] == 2
    assert res["auc"] is not None and 0.0 <= res["auc"] <= 1.0
    assert 0.0 <= res["real_called_fake"] <= 1.0 and res["seconds_per_clip"] > 0
    # Videos and photos apart (a photo's AUC is frame-level); one class each here, so no AUC within either.
    assert res["per_media"]["video"] | {"real_called_fake": 0} == {
        "n": 2, "n_fake": 0, "auc": None, "ap": None, "real_called_fake": 0
    }  # fmt: skip
    assert res["per_media"]["image"] == {"n": 1, "n_fake": 1, "auc": None, "ap": None, "real_called_fake": None}
    json.dumps(res, allow_nan=False)

    bundle = tmp_path / "bundle"
    detector.bundle.save(bundle)
    record_in_bundle(bundle, res, name="synthetic")
    cal = json.loads((bundle / "calibration.json").read_text())
    assert cal["metrics"]["eval_synthetic"]["n"] == 4 and cal["metrics"]["eval_synthetic"]["errors"] == 1
    assert "eval_synthetic.auc" in (bundle / "README.md").read_text()
    assert cal["metrics"]["eval_synthetic"]["per_media"]["image"]["n"] == 1


def test_eval_split_filter_keeps_only_that_split(tmp_path: Path) -> None:
    from vaedetect.evaluate import read_labels

    rows = ["path,split,label,kind", "a.mp4,train,real,real", "b.mp4,dev,fake,x", "c.png,dev,real,real"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    rows = read_labels(tmp_path / "m.csv", split="dev")
    assert [Path(r["path"]).name for r in rows] == ["b.mp4", "c.png"] and rows[0]["kind"] == "x"
    assert len(read_labels(tmp_path / "m.csv")) == 3


def test_auc_interval_brackets_the_estimate_and_is_reproducible() -> None:
    from vaedetect.evaluate import binary_metrics, bootstrap_auc_ci

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30), np.ones(30)].astype(int)
    s = np.r_[rng.normal(0, 1, 30), rng.normal(1, 1, 30)]
    lo, hi = bootstrap_auc_ci(y, s)
    assert lo < binary_metrics(y, s)["auc"] < hi and lo >= 0.0 and hi <= 1.0
    assert bootstrap_auc_ci(y, s) == (lo, hi)
    assert bootstrap_auc_ci(np.ones(5, int), np.arange(5.0)) is None  # one class: no AUC, no interval


def test_resampling_whole_identities_widens_the_interval_of_clustered_rows() -> None:
    from vaedetect.evaluate import bootstrap_auc_ci

    # Eleven crops of one real person and a few fake people, each person scoring alike: a dev set in miniature.
    y = np.r_[np.zeros(11), np.zeros(3), np.ones(12)].astype(int)
    s = np.r_[np.full(11, 0.52), [0.40, 0.45, 0.60], np.repeat([0.48, 0.55, 0.58, 0.70], 3)]
    people = ["a"] * 11 + ["b", "c", "d"] + [p for p in "efgh" for _ in range(3)]
    rows_lo, rows_hi = bootstrap_auc_ci(y, s)
    ids_lo, ids_hi = bootstrap_auc_ci(y, s, people)
    assert ids_hi - ids_lo > rows_hi - rows_lo


def test_eval_resamples_identities_when_the_labels_name_them(tmp_path: Path) -> None:
    class _Fixed:
        def __init__(self, p: float) -> None:
            self.fake_probability, self.verdict, self.scores, self.warnings = p, "uncertain", {}, []
            self.media = SimpleNamespace(kind="video")

    rows = ["path,label,identity"] + [f"r{i}.mp4,real,anna" for i in range(4)] + ["f0.mp4,fake,bo", "f1.mp4,fake,cy"]
    (tmp_path / "l.csv").write_text("\n".join(rows) + "\n")
    score = {"r": 0.3, "f": 0.7}
    res = evaluate_csv(tmp_path / "l.csv", lambda p: _Fixed(score[Path(p).name[0]]), progress=False)
    assert res["auc_ci95_resampled"] == "3 identities" and res["auc_ci95"] == [1.0, 1.0]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vaedetect", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_analyze_cli_exits_2_with_one_line_on_a_corrupt_file(tmp_path: Path, tiny_bundle: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    out = _cli("analyze", str(bad), "--checkpoint", str(tiny_bundle))
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip() and not ln.startswith(("W0000", "INFO", "WARNING"))]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.stderr


def test_analyze_cli_keeps_mediapipes_native_warnings_off_the_terminal(tiny_bundle: Path, talking_clip: Path) -> None:
    quiet = _cli("analyze", str(talking_clip), "--checkpoint", str(tiny_bundle))
    assert quiet.returncode == 0 and quiet.stdout.split()[0] in ("REAL", "UNCERTAIN", "FAKE")
    assert "W0000" not in quiet.stderr and "faces:" in quiet.stderr  # native noise gone, our progress kept
    env = {**os.environ, "VAEDETECT_NATIVE_LOGS": "1"}
    loud = subprocess.run(
        [sys.executable, "-m", "vaedetect", "analyze", str(talking_clip), "--checkpoint", str(tiny_bundle)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert loud.returncode == 0 and "W0000" in loud.stderr  # the warnings exist: the quiet run really removed them


def test_analyze_cli_prints_a_verdict_and_writes_the_json_report(
    tmp_path: Path, tiny_bundle: Path, face_photo: Path
) -> None:
    out_json = tmp_path / "r.json"
    out = _cli("analyze", str(face_photo), "--checkpoint", str(tiny_bundle), "--json", str(out_json))
    assert out.returncode == 0, out.stderr[-1000:]
    assert out.stdout.split()[0] in ("REAL", "UNCERTAIN", "FAKE")
    rep = Report.from_json(out_json.read_text())
    assert rep.media.kind == "image"
    # The first line gives the score with the lines it is read against (a bare percentage read as a chance of fake).
    th = rep.thresholds
    first = f"(score {rep.fake_probability:.0%}; uncertain from {th['uncertain']:.0%}, fake from {th['fake']:.0%})"
    assert first in out.stdout.splitlines()[0]


def test_heatmap_colours_only_the_scored_face_area_and_greys_the_rest() -> None:
    from vaedetect.detector import heatmap_overlay
    from vaedetect.evidence import face_region

    crop = np.zeros((64, 64, 3), np.uint8)
    crop[..., 0] = 200  # a red picture: colour outside the face area would survive a plain overlay
    zmap = np.full((32, 32), 4.0, np.float32)  # far worse than real faces everywhere, background included
    region = face_region(32)
    out = heatmap_overlay(crop, zmap, region=region).astype(int)
    plain = heatmap_overlay(crop, zmap).astype(int)
    corner, centre = (1, 1), (34, 32)
    assert not region[0, 0] and region[17, 16]
    assert np.ptp(out[corner]) == 0 and np.ptp(plain[corner]) > 50  # outside: grey, not heat
    assert np.array_equal(out[centre], plain[centre])  # inside: the same heat colour


def test_the_region_named_in_a_reason_is_one_the_heatmap_colours() -> None:
    from vaedetect.evidence import face_region
    from vaedetect.scoring import worst_region

    zmap = np.zeros((32, 32), np.float32)
    zmap[:, :3] = 9.0  # background at the left edge, outside the scored face area
    zmap[22:27, 12:20] = 2.0  # the mouth, inside it
    assert worst_region(zmap) == "face edges"
    assert worst_region(zmap, face_region(32)) == "mouth"
