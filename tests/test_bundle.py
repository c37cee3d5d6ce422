"""The bundle format (vaedetect.models.bundle): what a folder must hold to load, its config, and the preprocessing it
records, which drives inference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vaedetect.errors import BundleError
from vaedetect.faces import FACE_CROP_PX, MOUTH_CROP_PX
from vaedetect.models.bundle import BundleConfig, ModelBundle, Preprocessing, read_config, validate_bundle

try:  # pytest puts tests/ on sys.path (no tests/__init__.py); the package form covers a future __init__.py
    from bundle_factory import TIER_RATES, make_bundle, tier_rate_block, write_tier_rates
except ImportError:  # pragma: no cover
    from tests.bundle_factory import TIER_RATES, make_bundle, tier_rate_block, write_tier_rates

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "checkpoints" / "default"


def _object_npz(folder: Path) -> None:
    np.savez(folder / "reference.npz", real=np.array([{"x": 1}], dtype=object))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "reference.npz").unlink(), "missing reference.npz"),
        (lambda f: (f / "weights.safetensors").unlink(), r"no \*\.safetensors"),
        (lambda f: (f / "model.pt").write_bytes(b"\x80\x04."), r"pickle-type file\(s\) model\.pt"),
        (lambda f: (f / "scaler.joblib").write_bytes(b"x"), r"pickle-type file\(s\) scaler\.joblib"),
        (lambda f: (f / "notes.txt").write_text("hi"), r"unexpected file\(s\) notes\.txt"),
        (_object_npz, "object arrays"),
        (lambda f: (f / "config.json").write_text('{"name": "x"}'), "integer 'bundle_version'"),
        (lambda f: (f / "config.json").write_text('{"bundle_version": 99}'), "Upgrade vaedetect"),
        (lambda f: (f / "calibration.json").write_text("{oops"), "not valid JSON"),
        (lambda f: (f / "weights.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}"), "safetensors"),
    ],
    ids=[
        "missing-file",
        "no-weights",
        "pickle-pt",
        "pickle-joblib",
        "stray-file",
        "npz-objects",
        "no-version",
        "newer-version",
        "bad-json",
        "bad-safetensors",
    ],
)
def test_validate_bundle_rejects(tmp_path, damage, message):
    folder = make_bundle(tmp_path / "b")
    damage(folder)
    with pytest.raises(BundleError, match=message):
        validate_bundle(folder)


def test_validate_bundle_returns_config_and_ignores_hidden_files(tmp_path):
    folder = make_bundle(tmp_path / "b")
    (folder / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    assert validate_bundle(folder).name == "tiny"


def test_a_bundle_from_before_the_preprocessing_record_reads_its_flat_values_and_saves_them_nested(tmp_path):
    flat = json.loads((SHIPPED / "config.json").read_text())
    flat |= flat.pop("preprocessing", {})  # written as bundles were before the record: the four values at the top
    assert flat["face_crop_px"] == 128
    config = BundleConfig.from_json(flat)
    assert config.preprocessing == Preprocessing(face_crop_px=128, mouth_crop_px=48, analysis_fps=25,
                                                 sample_rate_hz=16_000)  # fmt: skip
    saved = config.to_json()
    assert saved["preprocessing"]["face_crop_px"] == 128 and "face_crop_px" not in saved
    assert BundleConfig.from_json(json.loads(json.dumps(saved))) == config


def test_new_bundles_record_the_crop_sizes_the_ingest_makes():
    assert Preprocessing() == Preprocessing(face_crop_px=FACE_CROP_PX, mouth_crop_px=MOUTH_CROP_PX)
    assert BundleConfig().preprocessing == Preprocessing()


@pytest.mark.parametrize(("field", "value"), [("analysis_fps", 30), ("sample_rate_hz", 22_050), ("mouth_crop_px", 64)])
def test_a_bundle_whose_preprocessing_this_code_cannot_reproduce_is_refused(tmp_path, field, value):
    folder = make_bundle(tmp_path / "b")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "preprocessing": {field: value}}))
    with pytest.raises(BundleError, match=f"{field} {value}"):
        validate_bundle(folder)


def test_a_config_naming_fields_no_model_has_is_a_bundle_error_not_a_crash(tmp_path):
    folder = make_bundle(tmp_path / "b")
    (folder / "config.json").write_text(json.dumps({"bundle_version": 1, "face_vae": {"depth": 9}}))
    with pytest.raises(BundleError, match="models this vaedetect can build"):
        read_config(folder)


def test_the_detector_crops_faces_at_the_size_the_bundle_records():
    from vaedetect.detector import Detector

    bundle = ModelBundle.new(BundleConfig(preprocessing=Preprocessing(face_crop_px=96, mouth_crop_px=MOUTH_CROP_PX)))
    face_config = Detector(bundle).face_config
    assert (face_config.face_crop_px, face_config.mouth_crop_px) == (96, MOUTH_CROP_PX)


def test_the_shipped_bundle_validates_and_loads_with_the_config_validation_parsed():
    config = validate_bundle(SHIPPED)
    bundle = ModelBundle.load(SHIPPED, config)
    assert bundle.config is config and config.preprocessing == Preprocessing()
    assert np.asarray(bundle.reference["real_xy"]).shape[1] == 2


def test_measured_tier_rates_are_read_by_kind_of_file_and_absent_is_none(tmp_path):
    from vaedetect.models.bundle import tier_rates

    folder = write_tier_rates(make_bundle(tmp_path / "b"))
    validate_bundle(folder)
    cal = json.loads((folder / "calibration.json").read_text())
    assert tier_rates(cal, "video") == TIER_RATES["video"] and tier_rates(cal, "photo") == TIER_RATES["photo"]
    assert tier_rates({}, "video") is None
    assert tier_rates({"tier_rates": {"video": TIER_RATES["video"]}}, "photo") is None


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"video": tier_rate_block((0.8, 0.3, 0.0), (0.4, 0.5, 0.1))}, "sum to 1"),
        ({"video": {**tier_rate_block((0.8, 0.2, 0.0), (0.4, 0.5, 0.1)), "how": "in-sample"}}, "how must be"),
        ({"video": {**tier_rate_block((0.8, 0.2, 0.0), (0.4, 0.5, 0.1)), "n_fake": 0}}, "n_fake"),
        ({"video": {**tier_rate_block((0.8, 0.2, 0.0), (0.4, 0.5, 0.1)), "n_real": 2.5}}, "n_real"),
        ({"video": {**tier_rate_block((0.8, 0.2, 0.0), (0.4, 0.5, 0.1)), "fakes": {"real": 1.0}}}, "a share for each"),
        ({"video": tier_rate_block((1.2, -0.2, 0.0), (0.4, 0.5, 0.1))}, "from 0 to 1"),
        ({"audio": tier_rate_block((0.8, 0.2, 0.0), (0.4, 0.5, 0.1))}, "unknown kind"),
        ([0.8, 0.2], "object keyed by kind"),
        (
            {"video": {**tier_rate_block((0.8, 0.2, 0.0), (0.4, 0.5, 0.1)), "per_family": {"EMO": {"n_fake": 4}}}},
            r"per_family\['EMO'\].fakes",
        ),
    ],
    ids=[
        "no-sum",
        "protocol",
        "no-fakes",
        "float-count",
        "missing-tier",
        "out-of-range",
        "kind",
        "not-a-dict",
        "family-without-shares",
    ],
)
def test_malformed_tier_rates_stop_the_bundle_loading(tmp_path, rates, message):
    """The page prints these shares beside every verdict: a malformed block must not load and print wrong numbers."""
    folder = write_tier_rates(make_bundle(tmp_path / "b"), rates)
    with pytest.raises(BundleError, match=message):
        validate_bundle(folder)
