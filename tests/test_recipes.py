"""Training recipes are data (vaedetect/training/recipes.json): every preset loads, says what it is for, and changes
only the settings it names; a typo in a preset is an error, not a silent default."""

from __future__ import annotations

import json

import pytest

from vaedetect.models.sync import SyncConfig
from vaedetect.models.vae import FaceVAEConfig
from vaedetect.training import RECIPES_FILE, recipe_names
from vaedetect.training.recipes import TrainConfig, apply_settings


def test_every_preset_loads_and_says_what_it_is_for() -> None:
    presets = json.loads(RECIPES_FILE.read_text())
    assert recipe_names() == list(presets) and {"default", "sbi", "tiny"} <= set(presets)
    for name, preset in presets.items():
        assert preset["about"].strip(), name
        assert TrainConfig.from_preset(name).preset == name


def test_the_default_preset_is_the_dataclass_defaults() -> None:
    assert TrainConfig.from_preset("default") == TrainConfig()


def test_a_preset_changes_only_the_settings_it_names_including_inside_a_models_config() -> None:
    tiny = TrainConfig.from_preset("tiny")
    assert tiny.face_steps == 25 and tiny.val_fraction == TrainConfig().val_fraction
    assert tiny.sync == SyncConfig(width=8, embed_dim=16, max_offset=6, clip_mel_norm=True)
    assert tiny.face_vae.channels == (8, 8, 16) and tiny.face_vae.beta == FaceVAEConfig().beta  # JSON list -> tuple


def test_an_unknown_preset_names_the_ones_there_are() -> None:
    with pytest.raises(ValueError, match="unknown preset 'tinny'; choose from default, sbi, tiny"):
        TrainConfig.from_preset("tinny")


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"face_stpes": 3}, "unknown recipe setting.*face_stpes"), ({"sync": {"widht": 8}}, "recipe setting 'sync'")],
    ids=["top-level", "inside-a-model"],
)
def test_a_misspelt_setting_is_an_error_not_a_silent_default(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_settings(TrainConfig(), settings)


def test_the_command_line_offers_every_preset_and_refuses_others() -> None:
    from vaedetect.__main__ import build_parser

    base = ["train", "--data", "d", "--out", "o", "--preset"]
    for name in recipe_names():
        assert build_parser().parse_args([*base, name]).preset == name
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "tinny"])
