"""The shipped bundle scores with its learned heads end to end: what it counts, the lines it reads against, what a
fit records, and no verdict from a voice alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import vaedetect
from vaedetect.cues import CUES, FRAME_CUES
from vaedetect.detector import Detector
from vaedetect.fusion import CUE_COMPLEXITY, FACE_COMPLEXITY, QUALITY
from vaedetect.scoring import NO_FACE_NO_VERDICT, NO_FACE_NO_VOICE, load_learned
from vaedetect.training.learned import build_records, fit_learned, record_of, tied_families
from vaedetect.training.reshare import KINDS, SUFFIX, copy_video, draw

MEASURES = {*QUALITY, FACE_COMPLEXITY, CUE_COMPLEXITY}  # what a record's quality holds (rule 22 adds code lengths)

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "checkpoints" / "default"


@pytest.fixture(scope="module")
def shipped() -> Detector:
    return vaedetect.load_detector(str(SHIPPED))


def test_the_shipped_bundle_has_a_video_and_a_photo_head_whose_lines_are_ordered(shipped: Detector) -> None:
    learned = load_learned(shipped.bundle.calibration)
    assert set(learned) == {"video", "photo"}
    for lh in learned.values():
        assert 0 < lh.head.uncertain < lh.head.fake <= 1
        assert (lh.fusion.weights >= 0).all() and lh.fusion.weights.sum() > 0
        assert lh.fusion.correction is not None  # evidence is read against real footage of the same quality


def test_a_talking_clip_is_scored_by_the_learned_video_head(shipped: Detector, talking_clip: Path) -> None:
    r = shipped.analyze(talking_clip)
    lh = load_learned(shipped.bundle.calibration)["video"]
    counted = {f for f, w in zip(lh.fusion.features, lh.fusion.weights, strict=True) if w > 0}
    assert set(r.contributions) <= counted
    logit = np.log(r.manipulation_score / (1 - r.manipulation_score))
    assert sum(r.contributions.values()) + lh.head.bias == pytest.approx(logit, abs=1e-2)
    if not r.lines_widened():
        assert r.thresholds == {"uncertain": round(lh.head.uncertain, 4), "fake": round(lh.head.fake, 4)}


def test_a_faceless_clip_with_sound_gets_no_verdict_from_the_voice_alone(shipped: Detector, no_face_clip: Path) -> None:
    r = shipped.analyze(no_face_clip)
    assert r.verdict == "uncertain" and r.thresholds == {} and r.no_verdict == "no_face"
    # Why a voice alone is not judged, only when there is a voice to speak of (the clip's tone may not be speech).
    assert r.reasons == [NO_FACE_NO_VERDICT if r.scores["audio"] is not None else NO_FACE_NO_VOICE]


def test_a_record_holds_the_cues_and_quality_a_fit_reads(shipped: Detector, talking_clip: Path, tmp_path: Path) -> None:
    rec = shipped.record(talking_clip)
    assert set(rec) == {"values", "quality", "is_image", "frames"} and rec["is_image"] is False
    # a few of its frames as a photo would be read, for the photo head's lines (rule 9)
    assert 1 <= len(rec["frames"]) <= 3
    for f in rec["frames"]:
        assert "face" in f["values"] and set(FRAME_CUES) & set(f["values"]) and set(f["quality"]) == MEASURES
    assert {"face", "latent"} <= set(rec["values"]) and set(CUES) & set(rec["values"])
    assert set(rec["quality"]) == MEASURES
    assert all(np.isfinite(v) for v in rec["values"].values())


def test_analysis_skips_the_code_lengths_no_head_of_the_bundle_reads(shipped: Detector, talking_clip: Path) -> None:
    from vaedetect.ingest import ingest

    clip = ingest(talking_clip, shipped.limits, shipped.face_config, pool=shipped.faces)
    assert set(shipped.measure(clip, keep_images=False)[2].quality) == set(QUALITY)  # the shipped heads read these
    assert set(shipped.measure(clip, keep_images=False, all_measures=True)[2].quality) == MEASURES


class _StubDetector:
    """Measures nothing: records values from the file name, so the stage's bookkeeping is tested without models."""

    def __init__(self) -> None:
        self.calls = 0

    def record(self, path: Path) -> dict:
        self.calls += 1
        fake = "fake" in path.name
        rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
        face = float(rng.normal(2.5 if fake else 0.0))
        q = {"face_px": 100.0, "sharpness": 60.0, "bits_per_pixel": 0.1}
        return {"values": {"face": face, "seam": float(rng.normal())}, "quality": q, "is_image": False}


def test_the_fusion_stage_measures_each_file_once_and_writes_learned_heads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [("real", "real", f"real{i}.mp4", f"p{i}", "x+repo") for i in range(40)]
    rows += [("fake", "fam-a" if i % 2 else "fam-b", f"fake{i}.mp4", f"f{i}", "y+repo") for i in range(20)]
    with (data / "manifest.csv").open("w") as fh:
        fh.write("path,split,label,kind,source_repo,identity\n")
        fh.writelines(f"{p},fakes,{label},{kind},{repo},{ident}\n" for label, kind, p, ident, repo in rows)
    cache = tmp_path / "records.jsonl"
    stub = _StubDetector()
    recs = build_records(stub, data, cache)
    assert len(recs) == 60 and stub.calls == 60
    again = _StubDetector()
    assert len(build_records(again, data, cache)) == 60 and again.calls == 0  # resumed from the cache
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "calibration.json").write_text(json.dumps({"evidence": {}, "heads": {}}))
    fit_learned(bundle, recs)
    cal = json.loads((bundle / "calibration.json").read_text())
    # no real photo to set a photo head's lines on: photos keep the equal fusion
    assert set(cal["learned"]) == {"video"} and cal["heads"] == {}


def test_real_files_from_a_familys_own_pipeline_are_tied_to_it() -> None:
    assert tied_families({"label": "real", "source_repo": "iperov+DeepFaceLive"}) == ("faceswap-deepfacelive",)
    assert tied_families({"label": "real", "source_repo": "wujinzhong+Wav2Lip_TensorRT"}) == ("lipsync-wav2lip",)
    assert tied_families({"label": "fake", "source_repo": "iperov+DeepFaceLive"}) == ()
    rec = record_of({"path": "a.mp4", "label": "fake", "kind": "fam", "identity": ""}, {"values": {}})
    assert rec["family"] == "fam" and rec["group"] == "a.mp4" and rec["label"] == 1


def test_each_labelled_file_gets_one_reshared_copy_with_its_originals_label_and_identity(tmp_path: Path) -> None:
    try:
        from media_factory import moving_pattern_frames, tone, write_video
    except ImportError:  # pragma: no cover - run from the repository root
        from tests.media_factory import moving_pattern_frames, tone, write_video
    import cv2

    data = tmp_path / "data"
    data.mkdir()
    for name in ("real0.mp4", "real1.mp4", "fake0.mp4"):
        write_video(data / name, moving_pattern_frames(20, 120, 160), audio=tone(0.8))
    cv2.imwrite(str(data / "real2.png"), moving_pattern_frames(1, 120, 160)[0])
    rows = [("real0.mp4", "train", "real", "real", "p0"), ("real1.mp4", "train", "real", "real", "p1"),
            ("fake0.mp4", "fakes", "fake", "fam-a", "f0"), ("real2.png", "stills", "real", "real", "p2")]  # fmt: skip
    with (data / "manifest.csv").open("w") as fh:
        fh.write("path,split,label,kind,source_repo,identity\n")
        fh.writelines(f"{p},{split},{label},{kind},x+repo,{ident}\n" for p, split, label, kind, ident in rows)
    cache = tmp_path / "records.jsonl"
    stub = _StubDetector()
    recs = build_records(stub, data, cache, reshare=True)
    assert len(recs) == 8 and stub.calls == 8
    by_path = {r["path"]: r for r in recs}
    for copy in (r for r in recs if r.get("copy_of")):
        original = by_path[copy["copy_of"]]
        assert copy["path"] == original["path"] + SUFFIX and copy["transform"] == draw(original["path"])
        for key in ("label", "family", "group", "tied"):
            assert copy[key] == original[key]
    again = _StubDetector()
    assert len(build_records(again, data, cache, reshare=True)) == 8 and again.calls == 0  # resumed
    assert [r["path"] for r in build_records(again, data, cache)] == [p for p, *_ in rows]  # copies only when asked


def test_a_reshared_copy_is_the_drawn_transform_of_its_original(tmp_path: Path) -> None:
    try:
        from media_factory import moving_pattern_frames, write_video
    except ImportError:  # pragma: no cover
        from tests.media_factory import moving_pattern_frames, write_video
    import av

    src = write_video(tmp_path / "src.mp4", moving_pattern_frames(10, 120, 160))
    copy_video(src, tmp_path / "small.mp4", {"kind": "downscale", "scale": 0.5, "crf": 28})
    copy_video(src, tmp_path / "soft.mp4", {"kind": "upscaled", "scale": 0.25, "crf": 23})
    with av.open(str(tmp_path / "small.mp4")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (80, 60)
    with av.open(str(tmp_path / "soft.mp4")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (160, 120)
    kinds = {draw(f"clip{i}.mp4")["kind"] for i in range(40)}
    assert kinds == set(KINDS) and draw("a.mp4") == draw("a.mp4")


# -- issue 32: the CLI's words on a shifted real clip and on a black silent clip ------------------------------------

REPO = Path(__file__).resolve().parents[1]
REAL_EXAMPLE = REPO / "assets" / "examples" / "real-grid-speaker-1.mp4"


def _ffmpeg(*args: str) -> None:
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *args], check=True, timeout=120)


def _analyze_cli(path: Path, out_json: Path) -> list[str]:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "vaedetect", "analyze", str(path), "--checkpoint", str(SHIPPED),
         "--json", str(out_json)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.splitlines()


def test_a_real_clip_with_its_voice_delayed_0_4_s_gets_look_closer_with_the_shift_named_first(tmp_path: Path) -> None:
    shifted = tmp_path / "grid-voice-delayed.mp4"
    _ffmpeg("-i", str(REAL_EXAMPLE), "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-af", "adelay=400:all=1",
            "-c:a", "aac", "-shortest", str(shifted))  # fmt: skip
    lines = _analyze_cli(shifted, tmp_path / "r.json")
    assert lines[0].startswith("Some signs — look closer  ")
    reasons = [ln for ln in lines if ln.startswith("  - ")]
    assert reasons[0].startswith("  - Found: Lip movements and speech are out of step: the lips lead the speech by 0.4")
    assert "editing" in reasons[0]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "uncertain" and [f["code"] for f in report["findings"]] == ["audio_shift"]
    assert report["verdict_words"]["label"] == "Some signs — look closer" and report["schema_version"] == 6


def test_a_one_second_black_silent_clip_gets_no_face_no_verdict(tmp_path: Path) -> None:
    black = tmp_path / "black.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=black:s=320x240:r=25:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            str(black))  # fmt: skip
    lines = _analyze_cli(black, tmp_path / "r.json")
    assert lines[0].startswith("No face found — no verdict  ")
    out = "\n".join(lines)
    assert "voice" not in out.split("  ! ")[0].lower()  # no reason about a voice the clip does not have
    assert "look closer" not in lines[0] and "manipulation score" not in out.lower().split("no manipulation")[0]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["no_verdict"] == "no_face" and report["thresholds"] == {}
    assert report["verdict_words"]["label"] == "No face found — no verdict"
