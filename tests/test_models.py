"""Models, pseudo-fakes and training: a tiny configuration trains for real on synthetic clips."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vaedetect import pseudofakes
from vaedetect.models import ModelBundle
from vaedetect.models.bundle import validate_bundle
from vaedetect.models.sync import SyncConfig, SyncNet
from vaedetect.models.vae import FaceVAE, FaceVAEConfig
from vaedetect.training.data import Item, identity_split
from vaedetect.training.loop import fit
from vaedetect.training.recipes import TrainConfig


def _mean(vals: list[float]) -> float:
    return float(np.mean(vals))


def test_tiny_training_lowers_the_losses_of_every_model(tiny_bundle: Path) -> None:
    work = tiny_bundle.parent / "work"
    hist = json.loads((work / "histories.json").read_text())
    for name in ("face_vae", "audio_vae", "sync", "blend"):
        losses = [h["loss"] for h in hist[name]]
        assert len(losses) >= 10, name
        assert _mean(losses[-4:]) < _mean(losses[:4]), (name, losses)


def test_bundle_has_only_safetensors_json_npz_and_a_model_card(tiny_bundle: Path) -> None:
    names = sorted(p.name for p in tiny_bundle.iterdir())
    assert {"config.json", "calibration.json", "reference.npz", "README.md", "face_vae.safetensors"} <= set(names)
    assert all(Path(n).suffix in {".json", ".safetensors", ".npz", ".md"} for n in names), names
    with np.load(tiny_bundle / "reference.npz", allow_pickle=False) as ref:
        assert ref["real_xy"].shape[1] == 2
        assert ref["fake_kinds"].dtype.kind == "U"
    validate_bundle(tiny_bundle)
    card = (tiny_bundle / "README.md").read_text()
    assert "Training settings" in card and "Sources and licences" in card and "## What it was trained on" in card


def test_bundle_records_an_identity_disjoint_split_and_calibrated_heads(tiny_bundle: Path) -> None:
    cal = json.loads((tiny_bundle / "calibration.json").read_text())
    split = cal["split"]
    assert not set(split["train_identities"]) & set(split["val_identities"])
    assert "face" in cal["evidence"] and cal["heads"], cal.keys()
    for head in cal["heads"].values():
        assert 0 < head["thresholds"]["uncertain"] < head["thresholds"]["fake"] < 1


def test_bundle_saves_and_reloads_bit_identically(tiny_bundle: Path, tmp_path: Path) -> None:
    a = ModelBundle.load(tiny_bundle)
    a.save(tmp_path / "copy")
    for f in ("face_vae.safetensors", "audio_vae.safetensors", "sync.safetensors", "blend.safetensors"):
        ta, tb = load_file(str(tiny_bundle / f)), load_file(str(tmp_path / "copy" / f))
        assert ta.keys() == tb.keys()
        assert all(torch.equal(ta[k], tb[k]) for k in ta)
    b = ModelBundle.load(tmp_path / "copy")
    x = torch.rand(2, 3, a.config.face_vae.image_px, a.config.face_vae.image_px)
    with torch.no_grad():
        assert torch.equal(a.face_vae(x, sample=False)[0], b.face_vae(x, sample=False)[0])


def test_interrupted_training_resumes_from_its_checkpoint_to_the_same_weights(tmp_path: Path) -> None:
    cfg = TrainConfig(checkpoint_every=3, lr=1e-2)
    data = torch.rand(64, 3, 16, 16)

    def sample(rng: np.random.Generator) -> tuple[torch.Tensor]:
        return (data[rng.integers(0, 64, 8)],)

    def make() -> FaceVAE:
        torch.manual_seed(0)
        return FaceVAE(FaceVAEConfig(image_px=16, latent_dim=4, channels=(4, 8)))

    straight = make()
    (tmp_path / "a").mkdir()
    fit("m", straight, lambda m, x: m.loss(x), sample, 8, cfg, tmp_path / "a", "cpu")

    calls = {"n": 0}

    def flaky(rng: np.random.Generator) -> tuple[torch.Tensor]:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return sample(rng)

    (tmp_path / "b").mkdir()
    with pytest.raises(KeyboardInterrupt):
        fit("m", make(), lambda m, x: m.loss(x), flaky, 8, cfg, tmp_path / "b", "cpu")
    assert (tmp_path / "b" / "m.ckpt.safetensors").exists()
    resumed = make()
    fit("m", resumed, lambda m, x: m.loss(x), sample, 8, cfg, tmp_path / "b", "cpu")
    for (k, va), vb in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(va, vb, atol=1e-6), k


def test_training_loop_runs_under_torchrun_ddp_and_ranks_agree(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    out = subprocess.run(
        [*cmd, str(repo / "tests" / "ddp_worker.py"), str(tmp_path)], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "rank0.txt").read_text() == "2 6" and (tmp_path / "rank1.txt").read_text() == "2 6"
    a, b = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    # Only rank 0 writes the stage result, and it is what the ranks trained.
    final = load_file(str(tmp_path / "m.safetensors"))
    assert all(torch.equal(final[k], a[k]) for k in a)
    init = FaceVAE(FaceVAEConfig(image_px=16, latent_dim=4, channels=(4, 8)))
    assert any(not torch.equal(v, a[k]) for k, v in init.state_dict().items() if v.is_floating_point())


def test_identity_split_never_puts_one_person_on_both_sides() -> None:
    items = [Item(Path(f"{i}.mp4"), "train", f"id{i % 7}", True, "video") for i in range(40)]
    train, val = identity_split(items, 0.25, seed=3)
    assert train and val
    assert not {i.identity for i in train} & {i.identity for i in val}


def test_identity_split_keeps_a_person_on_one_side_across_kinds_of_material() -> None:
    # Each person has talking clips, silent clips and stills; a split made per kind could hold one out in one kind
    # and train on them in another.
    items = [
        Item(Path(f"{split}/{person}-{k}.mp4"), split, f"person{person}", split == "train", "video")
        for split in ("train", "train_silent", "stills")
        for person in range(12)
        for k in range(2)
    ]
    for seed in range(20):
        train, val = identity_split(items, 0.25, seed=seed)
        assert not {i.identity for i in train} & {i.identity for i in val}, seed
        assert len(train) + len(val) == len(items)
        assert {i.split for i in val} == {"train", "train_silent", "stills"}  # every kind is still held out


def test_sync_distance_matrix_has_one_column_per_offset() -> None:
    from vaedetect.models.sync import distance_matrix

    cfg = SyncConfig(width=4, embed_dim=8, max_offset=3)
    model = SyncNet(cfg)
    mouths = np.random.default_rng(0).integers(0, 255, (30, 48, 48), dtype=np.uint8)
    d = distance_matrix(model, mouths, lambda idx: np.zeros((len(idx), 20, 80), np.float32), np.arange(5, 20), 3)
    assert d.shape == (15, 7) and np.all(d >= 0)


# -- pseudo-fakes ---------------------------------------------------------------------------------------------


def test_self_blend_changes_pixels_only_inside_the_face_mask() -> None:
    import cv2
    import faces_factory as ff

    face = cv2.resize(ff.astronaut_face(), (128, 128))
    out, mask = pseudofakes.self_blend(face, np.random.default_rng(0))
    changed = np.abs(out.astype(int) - face.astype(int)).max(axis=2) > 2
    assert changed.any()
    assert np.all(mask[changed] > 0)
    # The mask covers the inner face (around the template's nose) and leaves the crop's corners alone.
    c = 64
    assert mask[c - 4 : c + 4, c - 4 : c + 4].min() > 0.3
    for y, x in ((0, 0), (0, 127), (127, 0), (127, 127)):
        assert mask[y, x] == 0


def test_face_mask_randomisation_is_seeded_and_varies_between_seeds() -> None:
    a = pseudofakes.face_mask(96, np.random.default_rng(1))
    b = pseudofakes.face_mask(96, np.random.default_rng(1))
    c = pseudofakes.face_mask(96, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_cross_blend_takes_the_donor_inside_the_mask() -> None:
    target = np.full((64, 64, 3), 200, np.uint8)
    donor = np.zeros((64, 64, 3), np.uint8)
    donor[..., 0] = 50
    out, mask = pseudofakes.cross_blend(target, donor, np.random.default_rng(0))
    inside, outside = mask > 0.99, mask == 0
    assert inside.any() and outside.any()
    assert np.array_equal(out[outside], target[outside])


def test_audio_shift_is_exact_to_the_sample() -> None:
    sr = 16000
    audio = np.random.default_rng(0).standard_normal(sr).astype(np.float32)
    delayed = pseudofakes.shift_audio(audio, 0.2, sr)
    n = round(0.2 * sr)
    assert np.array_equal(delayed[n:], audio[:-n]) and not delayed[:n].any()
    advanced = pseudofakes.shift_audio(audio, -0.5, sr)
    m = round(0.5 * sr)
    assert np.array_equal(advanced[:-m], audio[m:]) and not advanced[-m:].any()
    assert len(delayed) == len(advanced) == len(audio)


def test_audio_swap_keeps_the_length_and_uses_the_other_voice() -> None:
    a, b = np.zeros(1000, np.float32), np.arange(300, dtype=np.float32)
    out = pseudofakes.swap_audio(a, b)
    assert len(out) == 1000 and np.array_equal(out[:300], b) and np.array_equal(out[300:600], b)


def test_mouth_regeneration_only_touches_the_mouth_region() -> None:
    face = np.full((96, 96, 3), 100, np.uint8)
    recon = np.full((96, 96, 3), 200, np.uint8)
    out = pseudofakes.regenerate_mouth(face, recon)
    changed = (out != face).any(axis=2)
    ys, _ = np.nonzero(changed)
    assert changed.any() and ys.min() > 96 * 0.55  # lower part of the face only


def test_fusion_is_a_product_of_nonnegative_experts(tiny_bundle: Path) -> None:
    cal = json.loads((tiny_bundle / "calibration.json").read_text())
    experts = cal["experts"]
    assert experts and all(e["weight"] >= 0 for e in experts.values())
    assert {"face", "blend"} <= set(experts)
    assert experts["face"]["fitted_against"] == ["self-blend", "cross-blend", "vae-regen"]
    for head in cal["heads"].values():
        # One positive Platt scale on the summed expert log-odds: the head's weights are the experts', scaled.
        ew = np.array([experts[f]["weight"] for f in head["features"]])
        hw = np.array(head["weights"])
        assert (hw >= 0).all() and hw.shape == ew.shape
        if ew.any():
            scale = hw[ew > 0][0] / ew[ew > 0][0]
            assert scale > 0 and np.allclose(hw, scale * ew)


def test_bundle_without_a_blend_model_still_loads_and_scores(
    tiny_bundle: Path, tmp_path: Path, face_photo: Path
) -> None:
    from vaedetect.detector import Detector
    from vaedetect.evidence import ClipArrays, compute_evidence

    old = tmp_path / "old"
    ModelBundle.load(tiny_bundle).save(old)
    (old / "blend.safetensors").unlink()
    cfg = json.loads((old / "config.json").read_text())
    del cfg["blend"]
    (old / "config.json").write_text(json.dumps(cfg))
    bundle = ModelBundle.load(old)
    assert bundle.blend is None and bundle.config.blend is None
    px = bundle.config.preprocessing.face_crop_px
    arr = ClipArrays(
        face_crops=np.full((10, px, px, 3), 128, np.uint8),
        present=np.ones(10, bool),
        mouth_crops=np.zeros((10, 48, 48), np.uint8),
        mel=None,
        speech=np.zeros(10, bool),
    )
    ev = compute_evidence(bundle, arr, keep_images=False)
    assert ev.face is not None and ev.blend is None
    report = Detector(bundle).analyze(face_photo)
    assert report.scores["blend"] is None and "blend" not in report.unavailable  # not offered, so not "missing"
    assert report.scores["face"] is not None


def test_blend_classifier_learns_to_separate_self_blends_from_real_faces() -> None:
    from faces_factory import opening_curve, talking_face_frames

    from vaedetect.models.blend import BlendConfig, BlendNet

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    faces = talking_face_frames(opening_curve(24), size_px=48)
    net = BlendNet(BlendConfig(image_px=48, channels=(8, 16, 16)))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)

    def batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = np.random.default_rng(seed)
        imgs = faces[r.integers(0, len(faces), 16)].copy()
        y = (np.arange(16) % 2).astype(np.float32)
        for i in np.flatnonzero(y):
            imgs[i], _ = pseudofakes.self_blend(imgs[i], r)
        return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(y)

    net.train()
    for step in range(60):
        x, y = batch(step)
        loss, _ = net.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        x, y = batch(10_000 + int(rng.integers(1000)))
        logits = net(x)
    assert logits[y == 1].mean() > logits[y == 0].mean()


def test_smoothed_speech_keeps_its_energy_and_loses_fine_detail() -> None:
    rng = np.random.default_rng(0)
    mel = rng.normal(-4, 2, size=(200, 80)).astype(np.float32)
    out = pseudofakes.smooth_mel(mel, rng)
    assert out.shape == mel.shape and out.dtype == mel.dtype
    assert abs(out.mean() - mel.mean()) < 0.05
    assert np.abs(np.diff(out, axis=0)).mean() < 0.6 * np.abs(np.diff(mel, axis=0)).mean()


def test_degrade_keeps_the_crop_shape_and_changes_only_quality() -> None:
    face = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    outs = [pseudofakes.degrade(face, np.random.default_rng(s)) for s in range(20)]
    assert all(o.shape == face.shape and o.dtype == np.uint8 for o in outs)
    assert any(not np.array_equal(o, face) for o in outs)
    assert all(np.abs(o.astype(int) - face).mean() < 80 for o in outs)


def test_low_quality_degrade_softens_on_average_and_keeps_the_crop_shape() -> None:
    from vaedetect.cues import face_sharpness

    face = np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    plain = [pseudofakes.degrade(face, np.random.default_rng(s)) for s in range(30)]
    low = [pseudofakes.degrade_low_quality(face, np.random.default_rng(s)) for s in range(30)]
    assert all(o.shape == face.shape and o.dtype == np.uint8 for o in low)
    assert np.mean([face_sharpness(o[None]) for o in low]) < np.mean([face_sharpness(o[None]) for o in plain])


def test_blend_batches_hold_half_blended_faces_degraded_alike() -> None:
    from vaedetect.training.stages import blend_sampler

    faces = np.random.default_rng(2).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    x, y = blend_sampler(faces, 8, low_quality=True)(np.random.default_rng(0))
    assert x.shape == (8, 3, 64, 64) and y.tolist() == [0, 1] * 4
    assert 0.0 <= float(x.min()) <= float(x.max()) <= 1.0


def test_blend_net_trains_on_clean_seams_then_on_low_quality_ones(tmp_path: Path) -> None:
    from vaedetect.models.blend import BlendConfig, BlendNet
    from vaedetect.training.recipes import TrainConfig
    from vaedetect.training.stages import train_blend_net

    faces = np.random.default_rng(3).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    bcfg = BlendConfig(image_px=32, channels=(8, 16))
    cfg = TrainConfig(batch_size=4, blend=bcfg, blend_steps=3, blend_low_quality_steps=2, checkpoint_every=100)
    log = train_blend_net(BlendNet(bcfg), faces, cfg, tmp_path, "cpu", name="b")
    assert len(log) == 5 and (tmp_path / "b.safetensors").exists() and (tmp_path / "b_lq.safetensors").exists()
    (tmp_path / "x").mkdir()
    no_lq = train_blend_net(BlendNet(bcfg), faces, replace(cfg, blend_low_quality_steps=0), tmp_path / "x", "cpu")
    assert len(no_lq) == 3 and not (tmp_path / "x" / "blend_lq.safetensors").exists()


def test_mouth_window_jitter_moves_every_frame_the_same_way() -> None:
    rng = np.random.default_rng(0)
    base = np.zeros((48, 48), np.uint8)
    base[20:28, 10:38] = 200  # a "mouth" bar
    window = np.stack([base] * 5)
    out = pseudofakes.jitter_window(window, rng)
    assert out.shape == (5, 48, 48) and out.dtype == np.float32 and 0 <= out.min() <= out.max() <= 1
    assert not np.allclose(out[0], window[0] / 255.0)  # the crop moved / changed contrast
    # Identical input frames stay identical up to the shared noise: no motion is invented between frames.
    assert np.abs(out - out[:1]).max() < 1e-6


def test_clip_mel_norm_removes_the_recordings_mean_spectrum(tiny_bundle: Path) -> None:
    from dataclasses import replace

    from vaedetect.evidence import sync_mel

    bundle = ModelBundle.load(tiny_bundle)
    rng = np.random.default_rng(0)
    mel = rng.normal(-5, 1, size=(400, 80)).astype(np.float32)
    speech = np.ones(100, bool)
    colour = np.linspace(-3, 3, 80, dtype=np.float32)  # a microphone's tilt
    bundle.config.sync = replace(bundle.config.sync, clip_mel_norm=True)
    a, b = sync_mel(bundle, mel, speech), sync_mel(bundle, mel + colour, speech)
    assert np.allclose(a, b, atol=1e-4) and np.abs(a.mean(axis=0)).max() < 1e-4
    bundle.config.sync = replace(bundle.config.sync, clip_mel_norm=False)
    assert not np.allclose(sync_mel(bundle, mel, speech), sync_mel(bundle, mel + colour, speech))


def test_frame_edge_keeps_the_centre_and_mirrors_outside_it() -> None:
    img = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    changed = [pseudofakes.frame_edge(img, np.random.default_rng(s)) for s in range(10)]
    assert all(c.shape == img.shape and c.dtype == np.uint8 for c in changed)
    for c in changed:  # the middle of the face (inside every possible rectangle) is untouched
        assert np.array_equal(c[24:104, 24:104], img[24:104, 24:104])
    assert any(not np.array_equal(c, img) for c in changed)


def test_recalibration_keeps_the_weights_and_redoes_the_calibration(
    tiny_bundle: Path, synthetic_data_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from vaedetect.training.pipeline import recalibrate

    src = Path(shutil.copytree(tiny_bundle, tmp_path / "src"))
    config = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**config, "limits": ["trained on four synthetic clips"]}))
    out = recalibrate(src, synthetic_data_dir, tmp_path / "re")
    for f in ("face_vae.safetensors", "sync.safetensors", "blend.safetensors"):
        a, b = load_file(str(src / f)), load_file(str(out / f))
        assert all(torch.equal(a[k], b[k]) for k in a)
    old = json.loads((tiny_bundle / "calibration.json").read_text())
    new = json.loads((out / "calibration.json").read_text())
    assert new["split"] == old["split"] and new["heads"] and "experts" in new
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["split"]["val"] == json.loads((src / "config.json").read_text())["data"]["split"]["val"]
    assert config["training"]["recalibrated"]
    assert config["limits"] == ["trained on four synthetic clips"]  # hand-written caveats survive
    assert "trained on four synthetic clips" in (out / "README.md").read_text()
    validate_bundle(out)


def test_equal_fusion_counts_every_evidence_alike_and_keeps_every_head(
    tiny_bundle: Path, synthetic_data_dir: Path, tmp_path: Path, face_photo: Path
) -> None:
    from vaedetect.detector import Detector
    from vaedetect.training.calibrate import HEAD_FEATURES
    from vaedetect.training.pipeline import recalibrate

    out = recalibrate(tiny_bundle, synthetic_data_dir, tmp_path / "eq", fusion="equal")
    cal = json.loads((out / "calibration.json").read_text())
    assert cal["fusion"] == "equal"
    # Every evidence measured on held-out reals is counted, none fitted on pseudo-fakes (none can be zeroed).
    assert set(cal["experts"]) == set(cal["evidence"])
    assert all(e["weight"] == 1.0 and e["fitted_against"] == [] for e in cal["experts"].values())
    assert {"full", "face", "photo"} <= set(cal["heads"])
    for name, head in cal["heads"].items():
        assert tuple(head["features"]) == tuple(f for f in HEAD_FEATURES[name] if f in cal["evidence"])
        w = np.array(head["weights"])
        assert (w > 0).all() and np.allclose(w, w[0])  # alike; the Platt step only scales the sum
        assert head["thresholds"]["uncertain"] < head["thresholds"]["fake"]
    # A photo is scored by its own head with every evidence a photo offers counted.
    report = Detector(ModelBundle.load(out)).analyze(face_photo)
    offered = {k for k, v in report.scores.items() if v is not None}
    assert offered and set(report.contributions) == offered
    # A later recalibration keeps the bundle's own fusion unless told otherwise.
    again = recalibrate(out, synthetic_data_dir, tmp_path / "again")
    assert json.loads((again / "calibration.json").read_text())["fusion"] == "equal"


def test_recalibration_leaves_out_a_held_out_file_whose_person_was_trained_on(
    tiny_bundle: Path, synthetic_data_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from vaedetect.training.pipeline import recalibrate

    src = Path(shutil.copytree(tiny_bundle, tmp_path / "src"))
    config = json.loads((src / "config.json").read_text())
    split = config["data"]["split"]
    leaked = next(p for p in split["val"] if p.startswith("real/"))
    split["train"] = sorted([*split["train"], leaked])  # as if the weights had trained on this person
    (src / "config.json").write_text(json.dumps(config))
    out = recalibrate(src, synthetic_data_dir, tmp_path / "re")
    new = json.loads((out / "config.json").read_text())["data"]["split"]
    assert leaked not in new["val"] and leaked in new["train"]
    assert not set(new["train_identities"]) & set(new["val_identities"])


def test_recalibrating_a_bundle_without_recorded_file_lists_rederives_the_identity_split_from_its_seed(
    tiny_bundle: Path, synthetic_data_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from vaedetect.training.data import identity_split, read_manifest
    from vaedetect.training.pipeline import recalibrate

    src = Path(shutil.copytree(tiny_bundle, tmp_path / "src"))
    config = json.loads((src / "config.json").read_text())
    config["data"]["split"] = {"seed": 3}  # an older bundle: only the seed was recorded
    (src / "config.json").write_text(json.dumps(config))
    out = recalibrate(src, synthetic_data_dir, tmp_path / "re")
    new = json.loads((out / "config.json").read_text())["data"]["split"]
    train, val = identity_split(read_manifest(synthetic_data_dir), TrainConfig().val_fraction, 3)
    assert new["seed"] == 3
    assert new["train"] == sorted(str(it.path.relative_to(synthetic_data_dir)) for it in train)
    assert new["val"] == sorted(str(it.path.relative_to(synthetic_data_dir)) for it in val) != []
    assert not set(new["train_identities"]) & set(new["val_identities"])


def test_training_fits_the_lip_from_voice_cue_and_reports_shift_recovery(tiny_bundle: Path) -> None:
    bundle = ModelBundle.load(tiny_bundle)
    assert bundle.lipvoice is not None  # the synthetic clips talk: a drawn mouth opens with a tone's loudness
    acc = bundle.calibration["metrics"]["offset_accuracy"]
    assert {"within_1_frame", "within_1_frame_relative", "within_1_frame_model_only", "n"} <= acc.keys()


def test_the_shipped_bundle_never_calibrated_on_a_person_its_models_trained_on() -> None:
    config = json.loads((Path(__file__).resolve().parents[1] / "assets/checkpoints/default/config.json").read_text())
    split = config["data"]["split"]
    assert split["train"] and split["val"] and not set(split["train"]) & set(split["val"])
    assert not set(split["train_identities"]) & set(split["val_identities"])


def test_the_shipped_bundle_scores_videos_silent_clips_and_photos_with_every_evidence_they_offer() -> None:
    from vaedetect.scoring import load_heads, select_head

    cal = json.loads((Path(__file__).resolve().parents[1] / "assets/checkpoints/default/calibration.json").read_text())
    assert cal["fusion"] == "equal"
    heads = load_heads(cal)
    face_side = {"face": 1.0, "latent": 0.5, "temporal": 0.2, "blend": None}
    inputs = {
        "full": {**face_side, "audio": 0.3, "sync": 1.0},
        "face": {**face_side, "audio": None, "sync": None},  # a silent clip
        "photo": {**face_side, "temporal": None, "audio": None, "sync": None},
    }
    for name, z in inputs.items():
        head = select_head(heads, z)
        assert head is not None and head.name == name
        assert set(head.contributions(z)) == {k for k, v in z.items() if v is not None}  # nothing left uncounted


def test_training_from_a_bundle_trains_only_the_named_stages_on_the_split_it_recorded(
    tiny_bundle: Path, synthetic_data_dir: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from vaedetect.training.pipeline import train

    cfg = replace(TrainConfig.from_preset("tiny"), face_steps=6, lr=3e-4)
    out = train(synthetic_data_dir, tmp_path / "ft", cfg=cfg, init=tiny_bundle, only=("face_vae",))
    for f in ("audio_vae.safetensors", "sync.safetensors", "blend.safetensors"):
        a, b = load_file(str(tiny_bundle / f)), load_file(str(out / f))
        assert all(torch.equal(a[k], b[k]) for k in a)  # stages not named keep the bundle's weights
    a, b = load_file(str(tiny_bundle / "face_vae.safetensors")), load_file(str(out / "face_vae.safetensors"))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    old, new = (json.loads((d / "config.json").read_text()) for d in (tiny_bundle, out))
    assert new["data"]["split"]["train"] == old["data"]["split"]["train"]  # held-out people stay held out
    assert new["data"]["split"]["val"] == old["data"]["split"]["val"]
    assert new["training"]["stages"] == ["face_vae"] and new["training"]["init"] == str(tiny_bundle)
    assert new["training"]["init_training"]["face_steps"] == TrainConfig.from_preset("tiny").face_steps
    assert new["training"]["final_losses"].keys() == {"face_vae", "face_vae_refine"}
    assert "sync_steps" not in new["training"] and new["training"]["face_steps"] == 6  # only what this run trained
    validate_bundle(out)


def test_training_some_stages_needs_a_bundle_to_take_the_others_from(synthetic_data_dir: Path, tmp_path: Path) -> None:
    from vaedetect.training.pipeline import train

    with pytest.raises(ValueError, match="init"):
        train(synthetic_data_dir, tmp_path / "a", cfg=TrainConfig.from_preset("tiny"), only=("face_vae",))
    with pytest.raises(ValueError, match="unknown stages"):
        train(synthetic_data_dir, tmp_path / "b", cfg=TrainConfig.from_preset("tiny"), only=("lips",), init=tmp_path)


def test_face_augmentation_keeps_the_crop_shape_and_changes_its_look_reproducibly() -> None:
    face = np.full((64, 64, 3), 120, np.uint8)
    face[16:48, 20:44] = (200, 150, 120)
    a = pseudofakes.augment_face(face, np.random.default_rng(5))
    assert a.shape == face.shape and a.dtype == np.uint8
    assert np.abs(a.astype(int) - face).mean() > 1.0
    assert np.array_equal(a, pseudofakes.augment_face(face, np.random.default_rng(5)))


def test_thresholds_hold_the_false_positive_rate_on_the_real_scores_they_are_set_on() -> None:
    from vaedetect.training.calibrate import threshold_at_fpr

    rng = np.random.default_rng(0)
    for n in (5, 19, 20, 22, 41, 209):
        real = rng.normal(0.5, 0.05, n)
        for fpr in (0.05, 0.2):
            t = threshold_at_fpr(real, fpr)
            k = int(np.floor(fpr * n + 1e-9))
            assert np.sum(real >= t) == k  # as many as the rate allows, never more (np.quantile let 2 of 22 in)
    ties = np.array([0.6, 0.6, 0.6, 0.5] + [0.4] * 16)  # 20 scores: one may reach a 5% threshold, but three tie
    assert np.sum(ties >= threshold_at_fpr(ties, 0.05)) == 0


def test_train_cli_continues_a_bundle_for_the_named_stages(
    tiny_bundle: Path, synthetic_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vaedetect.__main__ import main

    args = ["train", "--data", str(synthetic_data_dir), "--out", str(tmp_path / "run"), "--preset", "tiny"]
    args += ["--init", str(tiny_bundle), "--only", "face_vae, sync", "--face-steps", "0", "--sync-steps", "2"]
    assert main([*args, "--lr", "1e-4"]) == 0
    out = Path(capsys.readouterr().out.strip().splitlines()[-1])
    training = json.loads((out / "config.json").read_text())["training"]
    assert training["stages"] == ["face_vae", "sync"] and training["lr"] == 1e-4
    assert training["face_steps"] == 0 and training["sync_steps"] == 2 and "audio_steps" not in training
    assert training["final_losses"].keys() == {"face_vae_refine", "sync"}  # --face-steps 0: the refinement alone


def test_a_recipe_without_blend_steps_ships_no_blend_model_and_refines_the_face_vae(
    synthetic_data_dir: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from vaedetect.training.pipeline import train

    cfg = replace(TrainConfig.from_preset("tiny"), blend_steps=0, face_steps=3, face_refine_steps=2, sync_steps=2)
    out = train(synthetic_data_dir, tmp_path / "run", cfg=cfg)
    config = json.loads((out / "config.json").read_text())
    assert config["blend"] is None and not (out / "blend.safetensors").exists()
    assert config["training"]["stages"] == ["face_vae", "audio_vae", "sync"]
    assert config["training"]["final_losses"].keys() == {"face_vae", "face_vae_refine", "audio_vae", "sync"}
    assert config["training"]["face_refine_steps"] == 2
    validate_bundle(out)
    with pytest.raises(ValueError, match="blend_steps"):
        train(synthetic_data_dir, tmp_path / "again", cfg=cfg, init=out, only=("blend",))


def test_the_default_preset_builds_the_shipped_bundles_models() -> None:
    """``python -m vaedetect train`` with no options must train what ships: same architectures, same stages."""
    from dataclasses import asdict

    shipped = json.loads((Path(__file__).parents[1] / "assets/checkpoints/default/config.json").read_text())
    cfg = TrainConfig.from_preset("default")
    for part in ("face_vae", "audio_vae", "sync"):
        assert json.loads(json.dumps(asdict(getattr(cfg, part)))) == shipped[part], part
    assert (cfg.blend_steps > 0) == (shipped["blend"] is not None)


def test_fresh_stages_start_from_new_weights_while_the_others_keep_the_bundles(
    tiny_bundle: Path, synthetic_data_dir: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from vaedetect.training.pipeline import train

    cfg = replace(TrainConfig.from_preset("tiny"), face_steps=0, face_refine_steps=0)
    kept = train(synthetic_data_dir, tmp_path / "kept", cfg=cfg, init=tiny_bundle, only=("face_vae",))
    fresh = train(synthetic_data_dir, tmp_path / "fresh", cfg=cfg, init=tiny_bundle, only=("face_vae",), fresh=True)
    old = load_file(str(tiny_bundle / "face_vae.safetensors"))
    assert all(torch.equal(old[k], v) for k, v in load_file(str(kept / "face_vae.safetensors")).items())
    assert not any(torch.equal(old[k], v) for k, v in load_file(str(fresh / "face_vae.safetensors")).items()
                   if v.numel() > 1 and v.dtype.is_floating_point and v.std() > 0)  # fmt: skip
    a, b = load_file(str(tiny_bundle / "sync.safetensors")), load_file(str(fresh / "sync.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((fresh / "config.json").read_text())["training"]["fresh"] is True
    with pytest.raises(ValueError, match="fresh"):
        train(synthetic_data_dir, tmp_path / "x", cfg=cfg, fresh=True)


def test_an_evidence_refit_refuses_to_write_over_the_bundle_it_starts_from(tmp_path: Path) -> None:
    from vaedetect.training.pipeline import _evidence_only
    from vaedetect.training.recipes import TrainConfig

    init = tmp_path / "bundle"
    init.mkdir()
    (init / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="overwrite the --init bundle"):
        _evidence_only(init, tmp_path / "data", tmp_path, TrainConfig(), None, 1)
    assert (init / "config.json").exists()
