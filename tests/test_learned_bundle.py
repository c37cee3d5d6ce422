"""The shipped bundle scores with its learned heads end to end: what it counts, the lines it reads against, what a
fit records, and no verdict from a voice alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import vaedetect
from vaedetect.detector import Detector
from vaedetect.models.bundle import check_tier_rates
from vaedetect.scoring import NO_FACE_NO_VERDICT, load_learned
from vaedetect.training import evidence_stage, records
from vaedetect.training.learned import record_of, tied_families
from vaedetect.training.reshare import KINDS, SUFFIX, copy_video, draw
from vaedetect.training.stacking import CONFIGS

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


def test_the_shipped_bundle_runs_the_pretrained_evidence_its_heads_read_and_says_how_it_was_measured(
    shipped: Detector,
) -> None:
    bundle = shipped.bundle
    read = {f for lh in load_learned(bundle.calibration).values() for f in lh.fusion.features}
    produced = {evidence_stage.PRODUCED_BY.get(f, "region_cues") for f in read}
    assert produced <= set(bundle.config.evidence) and {"speaker", "face_vae"} <= set(bundle.config.evidence)
    assert "clip_face" in bundle.probes and bundle.speech_mouth is not None
    check_tier_rates(bundle.calibration["tier_rates"])
    assert bundle.calibration["tier_rates"]["video"]["how"] == "leave-one-family-out"
    held = bundle.calibration["held_out"]
    assert set(held["groups"]) == {"lip-sync", "talking-head", "face-swap", "reenactment"}
    line = bundle.calibration["findings"]["speaker_change"]
    assert 0 < line["line"] < 1 and line["n_real"] > 10


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
    assert r.verdict == "uncertain" and r.thresholds == {}
    assert NO_FACE_NO_VERDICT in r.reasons


def test_a_measured_file_keeps_what_the_fits_read_and_a_reshared_copy_keeps_its_originals_identity(
    shipped: Detector, talking_clip: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "talk.mp4").write_bytes(talking_clip.read_bytes())
    row = {"path": "talk.mp4", "split": "train", "label": "real", "kind": "real", "group": "real",
           "source_repo": "x+repo", "identity": "p0"}  # fmt: skip
    for reshared in (False, True):
        out = tmp_path / f"{reshared}.npz"
        records.measure_file(shipped, row, data, out, reshared=reshared)
        with np.load(out, allow_pickle=False) as d:
            rec = records.record_from_cache(d, out.stem)
            mouth = records.mouth_clip(d, rec, tmp_path / "speech")
        face = np.asarray(rec["embeddings"]["clip_face"])
        assert face.shape == (512,) and np.linalg.norm(face) == pytest.approx(1.0, abs=1e-5)
        assert rec["frames"] and all("clip_face" in f["embeddings"] for f in rec["frames"])
        assert mouth is not None and mouth.use.any() and mouth.speech.shape[1] == 96
        assert rec["group"] == "p0" and rec["label"] == 0
    assert rec["copy_of"] == "talk.mp4" and rec["path"] == "talk.mp4" + SUFFIX and rec["transform"] == draw("talk.mp4")


def _synthetic_records(n_real: int = 60, n_per_family: int = 8) -> list[dict]:
    """Records as the cache gives them: real files around the origin of a 16-d embedding, four fake families off it,
    speech-to-mouth values and a speaker change already measured; a few photos and re-shared copies."""
    rng = np.random.default_rng(0)
    recs = []

    def rec(label: int, family: str, group: str, shift: np.ndarray, kind_group: str, is_image: bool = False) -> dict:
        e = rng.standard_normal(16) * 0.5 + shift
        values = {} if is_image else {"av_fit": float(rng.normal(0.4 - label * 0.2, 0.1)), "av_peak": 0.2,
                                       "speaker_change": float(rng.uniform(0.8, 0.9))}  # fmt: skip
        frame = {"values": {}, "quality": {}, "embeddings": {"clip_face": e.tolist()}}
        return {"path": f"{group}.mp4", "label": label, "family": family, "group": group, "is_image": is_image,
                "tied": [], "kind_group": kind_group, "values": values, "quality": {},
                "embeddings": {"clip_face": e.tolist()}, "frames": [] if is_image else [frame]}  # fmt: skip

    for i in range(n_real):
        recs.append(rec(0, "", f"person{i}", np.zeros(16), "real", is_image=i % 5 == 0))
    for f, g in enumerate(("lip-sync", "talking-head", "face-swap", "reenactment")):
        shift = np.zeros(16)
        shift[f], shift[15] = 2.0, 1.0
        recs += [rec(1, f"fam{f}", f"fake{f}-{j}", shift, g) for j in range(n_per_family)]
    copies = [{**r, "copy_of": r["path"], "path": r["path"] + SUFFIX} for r in recs[:10] if not r["label"]]
    return recs + copies


def _fit_stage_on(records: list[dict], tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The evidence stage on ready-made records (no cache, no decoding); its learned heads and the written bundle."""
    from vaedetect.models import ModelBundle
    from vaedetect.models.speech_mouth import SpeechToMouth

    bundle_dir = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle_dir)
    head = SpeechToMouth(np.eye(1, 2), np.zeros(480), np.ones(480), np.zeros((480, 1)))
    monkeypatch.setattr(evidence_stage, "measure_all", lambda *a, **k: {})
    monkeypatch.setattr(evidence_stage, "load_records", lambda cache: (records, [], {"components": 1,
                        "ridge": 1.0, "held_out_real_correlation": {}}))  # fmt: skip
    monkeypatch.setattr(evidence_stage.speech_mouth, "fit_real", lambda *a: head)
    learned = evidence_stage.fit_stage(bundle_dir, tmp_path, tmp_path / "cache", CONFIGS["C"])
    return learned, ModelBundle.load(bundle_dir)


def test_the_evidence_stage_writes_heads_lines_held_out_rates_and_the_speaker_line_into_the_bundle(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    learned, bundle = _fit_stage_on(_synthetic_records(), tiny_bundle, tmp_path, monkeypatch)
    assert set(learned) == {"video", "photo"}
    lines = bundle.calibration["learned"]["video"]["thresholds"]
    assert lines["n_real_copies_scored_out_of_fold"] == 8 and 0 < lines["uncertain"] < lines["fake"] <= 1
    check_tier_rates(bundle.calibration["tier_rates"])
    rates = bundle.calibration["tier_rates"]["video"]
    assert rates["n_families"] == 4 and set(rates["per_family"]) == {"fam0", "fam1", "fam2", "fam3"}
    assert rates["fakes"]["real"] < 0.5  # the shared direction carries to held-out families
    assert set(bundle.calibration["held_out"]["groups"]) == {"lip-sync", "talking-head", "face-swap", "reenactment"}
    assert bundle.calibration["findings"]["speaker_change"]["n_real"] == 48  # real videos, copies left out
    assert bundle.config.evidence == ["face_vae", "sync", "clip_face", "speech_mouth", "speaker"]
    assert "clip_face" in bundle.probes and bundle.speech_mouth is not None


def test_data_without_real_speech_gives_a_bundle_without_the_speaker_finding_not_a_failed_training(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = _synthetic_records()
    for r in records:
        r["values"].pop("speaker_change", None)
    _, bundle = _fit_stage_on(records, tiny_bundle, tmp_path, monkeypatch)
    assert bundle.calibration["findings"] == {} and "speaker" not in bundle.config.evidence
    assert bundle.config.evidence == ["face_vae", "sync", "clip_face", "speech_mouth"]


def test_real_files_from_a_familys_own_pipeline_are_tied_to_it() -> None:
    assert tied_families({"label": "real", "source_repo": "iperov+DeepFaceLive"}) == ("faceswap-deepfacelive",)
    assert tied_families({"label": "real", "source_repo": "wujinzhong+Wav2Lip_TensorRT"}) == ("lipsync-wav2lip",)
    assert tied_families({"label": "real", "source_repo": "StelaBou+hyperreenact.github.io"}) == (
        "reenactment-hyperreenact",
    )
    assert tied_families({"label": "fake", "source_repo": "iperov+DeepFaceLive"}) == ()
    rec = record_of({"path": "a.mp4", "label": "fake", "kind": "fam", "identity": ""}, {"values": {}})
    assert rec["family"] == "fam" and rec["group"] == "a.mp4" and rec["label"] == 1


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


@pytest.mark.parametrize("name", ["real-grid-speaker-1.mp4", "real-grid-speaker-2.mp4"])
def test_the_shipped_real_examples_get_the_lowest_tiers_words(shipped: Detector, name: str) -> None:
    from vaedetect import explain

    report = shipped.analyze(REPO / "assets" / "examples" / name)
    assert report.verdict == "real" and explain.verdict_label(report) == "No signs of manipulation found"
