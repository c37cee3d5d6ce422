"""Detector, Report and the analyze/eval CLIs, on synthetic media with a tiny bundle trained for real."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import vaedetect
from vaedetect import explain
from vaedetect.detector import Detector
from vaedetect.evaluate import evaluate_csv, record_in_bundle
from vaedetect.report import EVIDENCE, SCHEMA_VERSION, Report
from vaedetect.scoring import load_heads, select_head

try:  # pytest puts tests/ on sys.path (no tests/__init__.py)
    import faces_factory as ff
    import media_factory as mf
except ImportError:  # pragma: no cover
    from tests import faces_factory as ff
    from tests import media_factory as mf

REPO = Path(__file__).resolve().parents[1]
LABELS = (*explain.TIER_LABELS.values(), *explain.NO_VERDICT_LABELS.values())  # what a first CLI line starts with
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


# -- the Report on real analyses ------------------------------------------------------------------------------------


def test_report_of_a_talking_clip_has_every_part_and_round_trips_through_json(talking_report: Report) -> None:
    r = talking_report
    assert r.verdict in ("real", "uncertain", "fake") and 0.0 <= r.manipulation_score <= 1.0
    assert r.reasons and all(isinstance(s, str) and s for s in r.reasons)
    assert set(r.scores) == set(EVIDENCE) and r.scores["face"] is not None and r.scores["blend"] is not None
    assert r.thresholds["uncertain"] < r.thresholds["fake"]
    assert r.media.kind == "video" and r.media.has_audio and r.media.face_coverage > 0.9
    assert {"ingest", "models", "scoring"} <= set(r.timings)
    assert len(r.timeline) == 3 and [p.t for p in r.timeline] == sorted(p.t for p in r.timeline)
    shown = [f for f in r.frames if f.crop is not None]
    assert shown and all(f.heatmap.shape == f.crop.shape == f.reconstruction.shape for f in shown)
    assert all(f.map_xy is not None and np.isfinite(f.map_xy).all() for f in r.frames)
    assert r.model.name and r.schema_version == SCHEMA_VERSION == 6

    text = r.to_json()
    data = json.loads(text)
    assert not {"crop", "reconstruction", "heatmap"} & set(data["frames"][0])  # arrays stay out of the JSON
    again = Report.from_json(text)
    assert again.to_dict() == data


def test_a_report_written_before_the_rename_still_reads(talking_report: Report) -> None:
    old = talking_report.to_dict()
    old["fake_probability"] = old.pop("manipulation_score")  # schema 3 and earlier
    old["schema_version"] = 3
    assert Report.from_dict(old).manipulation_score == talking_report.manipulation_score


def test_a_report_written_before_schema_5_reads_with_a_complete_uncut_file(talking_report: Report) -> None:
    old = talking_report.to_dict()
    for key in ("cut_to_limit", "incomplete", "promised_duration_s"):
        del old["media"][key]
    old["schema_version"] = 4
    media = Report.from_dict(old).media
    assert not media.cut_to_limit and not media.incomplete and media.promised_duration_s is None


def test_a_report_written_before_schema_6_reads_with_no_findings_and_its_verdict_words(talking_report: Report) -> None:
    old = talking_report.to_dict()
    for key in ("findings", "weak_traces", "checks", "tier_rates", "no_verdict", "verdict_words"):
        del old[key]
    del old["model"]["summary"]
    old["schema_version"] = 5
    r = Report.from_dict(old)
    assert r.findings == [] and r.no_verdict is None and r.checks == {}
    assert r.to_dict()["verdict_words"]["label"] == explain.TIER_LABELS[r.verdict]


def test_a_download_cut_at_a_tenth_of_its_bytes_is_analysed_and_called_incomplete(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    openings = ff.opening_curve(250, seed=5)  # 10 s: a tenth of the bytes holds more than the first picture
    full = mf.write_video(
        tmp_path / "full.mp4", ff.talking_face_frames(openings), audio=ff.speech_like_audio(openings), faststart=True
    )
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 10])
    out_json = tmp_path / "cut.json"
    out = _cli("analyze", str(cut), "--checkpoint", str(tiny_bundle), "--json", str(out_json))
    assert out.returncode == 0, out.stderr[-1000:]
    r = Report.from_json(out_json.read_text())
    assert r.media.incomplete and not r.media.cut_to_limit and r.media.promised_duration_s == pytest.approx(10, 0.01)
    assert r.media.duration_s < 5.0 and r.media.face_coverage > 0.5  # what is there is still analysed
    (msg,) = [w.message for w in r.warnings if w.code == "incomplete"]
    assert f"{r.media.duration_s:.1f} s of 10.0 s: it may be an incomplete download" in msg and msg in out.stdout


def test_report_contributions_add_up_to_its_manipulation_score(detector: Detector, talking_report: Report) -> None:
    r = talking_report
    head = select_head(load_heads(detector.bundle.calibration), r.scores)
    assert set(r.contributions) == {f for f in head.features if head.weight(f) > 0 and r.scores[f] is not None}
    logit = np.log(r.manipulation_score / (1 - r.manipulation_score))
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
    xy = detector.reference.place(ref["real_latents"][:3])
    assert np.allclose(xy, ref["real_xy"][:3], atol=1e-3)  # a reference point lands on itself


def test_clip_without_a_face_warns_and_says_why_face_evidence_is_missing(
    detector: Detector, no_face_clip: Path
) -> None:
    r = detector.analyze(no_face_clip)
    assert "no_face" in r.warning_codes()
    for k in ("face", "latent", "blend"):
        assert r.scores[k] is None and r.unavailable[k] == "no face found"
    assert not r.frames


def test_a_wide_shot_with_two_25px_faces_says_too_small_not_no_face(detector: Detector, tmp_path: Path) -> None:
    clip = mf.write_video(tmp_path / "debate.mp4", ff.panel_frames(40, 64, 2), fps=25, audio=mf.tone(1.6))
    r = detector.analyze(clip)
    assert "no_face" not in r.warning_codes() and r.media.max_faces == 2
    (msg,) = [w.message for w in r.warnings if w.code == "faces_too_small"]
    assert msg.startswith("2 faces of about 2") and "px: too small to check" in msg
    assert r.unavailable["face"] == "faces too small to check"


def test_the_detector_reuses_its_mediapipe_graphs_across_analyses(
    detector: Detector, talking_clip: Path, silent_face_clip: Path, tmp_path: Path
) -> None:
    detector.analyze(talking_clip)
    built = detector.faces.built
    with pytest.raises(vaedetect.errors.InputError):
        detector.analyze(_bad_file(tmp_path))
    first, second = (detector.analyze(silent_face_clip).to_dict() for _ in range(2))
    assert detector.faces.built == built
    # Same graphs, reset per clip: the same faces as the first time. (The decoder's median quantiser can differ in
    # the last digit between two decodes of one file, frame threading, so quality-corrected scores are not compared.)
    for r in (first, second):
        r["media"].pop("quantizer")
    assert first["media"] == second["media"] and [f["map_xy"] for f in first["frames"]] == [
        f["map_xy"] for f in second["frames"]
    ]


@pytest.mark.slow
def test_ten_analyses_in_a_row_leave_no_temp_file_and_build_no_new_graphs(
    detector: Detector, talking_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short soak (bench/soak.py runs 100 with the shipped bundle and measures memory): threads and open files stay
    flat, nothing is left in the temp folder, the graphs of the first analysis serve all the others."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    detector.analyze(talking_clip)
    built = detector.faces.built
    threads, fds = len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))
    for _ in range(10):
        detector.analyze(talking_clip)
    assert detector.faces.built == built and detector.faces.idle() == 1
    assert len(os.listdir("/proc/self/task")) <= threads and len(os.listdir("/proc/self/fd")) <= fds
    assert not list(scratch.iterdir())


def _bad_file(tmp_path: Path) -> Path:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    return bad


def test_a_file_with_nothing_to_score_gets_no_score_and_no_lines(tmp_path: Path, tiny_bundle: Path) -> None:
    """No face and no sound: the CLI and the verdict panel say there is no score instead of showing 50 % between lines
    at 0 % and 100 % (which read as a measurement)."""

    clip = mf.write_video(tmp_path / "pattern.mp4", mf.moving_pattern_frames(30), fps=25)
    out_json = tmp_path / "r.json"
    out = _cli("analyze", str(clip), "--checkpoint", str(tiny_bundle), "--json", str(out_json))
    assert out.returncode == 0, out.stderr[-1000:]
    assert out.stdout.splitlines()[0].startswith("No face found — no verdict  ")
    assert "No manipulation score: none of the checks" in out.stdout
    rep = Report.from_json(out_json.read_text())
    assert rep.no_verdict == "no_face" and not rep.judged
    assert rep.thresholds == {} and not rep.contributions and all(v is None for v in rep.scores.values())
    md = explain.verdict_markdown(rep)
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


def test_a_partly_visible_face_widens_the_lines_and_the_page_says_why(detector: Detector, tmp_path: Path) -> None:
    """``partial_face`` is one of the warnings that widen the lines: the verdict's reasons and the verdict panel must
    say so (a drifted copy of the widening list once left this one unexplained)."""
    from vaedetect.scoring import WIDENED_REASON

    face = ff.talking_face_frames(ff.opening_curve(20, seed=5))
    h, w = face.shape[1:3]
    frames = np.concatenate([face, mf.moving_pattern_frames(40, height=h, width=w)])  # a face in a third of it
    r = detector.analyze(mf.write_video(tmp_path / "partial.mp4", frames, fps=25))
    partial = next(w for w in r.warnings if w.code == "partial_face")
    head = select_head(load_heads(detector.bundle.calibration), r.scores)
    assert r.thresholds["uncertain"] < head.uncertain and r.thresholds["fake"] > head.fake
    assert WIDENED_REASON in r.reasons
    md = explain.verdict_markdown(r)
    assert explain.SCORE_WIDENED in md and f"⚠ {partial.message} *({explain.WIDENS_LINES})*" in md


def test_heavy_compression_is_read_from_the_quantiser_not_the_bitrate(detector: Detector, tmp_path: Path) -> None:
    from vaedetect import media
    from vaedetect.caveats import HEAVY_COMPRESSION_BPP

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
    # a family of fakes is ranked against every real row; the real rows have no such number
    assert 0.0 <= res["per_kind"]["synthetic"]["auc_vs_real"] <= 1.0 and "auc_vs_real" not in res["per_kind"]["real"]
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
    assert "name: eval_synthetic" in (bundle / "README.md").read_text()  # in the card's model-index
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
            self.manipulation_score, self.verdict, self.scores, self.warnings = p, "uncertain", {}, []
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
    assert quiet.returncode == 0 and quiet.stdout.splitlines()[0].startswith(LABELS)
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
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    out = _cli(
        "analyze", str(face_photo), "--checkpoint", str(tiny_bundle), "--json", str(out_json), "--html", str(out_html)
    )
    assert out.returncode == 0, out.stderr[-1000:]
    rep = Report.from_json(out_json.read_text())
    assert rep.media.kind == "image"
    lines = out.stdout.splitlines()
    assert lines[0].startswith(explain.verdict_label(rep)) and not lines[0].lower().startswith(("real", "likely"))
    # The score comes with where it sits against its lines (a bare percentage read as a chance of fake).
    assert f"  {explain.score_sentence(rep)}" in lines

    page = out_html.read_text(encoding="utf-8")  # the same words and the file's hash in the shareable report
    assert hashlib.sha256(face_photo.read_bytes()).hexdigest() in page and explain.score_position(rep) in page
