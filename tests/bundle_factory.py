"""A minimal valid bundle for the hub and bundle-format tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

METRICS = {"auc": 0.9312, "eer": 0.118, "tpr_at_fpr_1": 0.42}


def tier_rate_block(real_files: tuple[float, float, float], fakes: tuple[float, float, float], *, n_real: int = 286,
                    n_fake: int = 106, n_families: int = 9) -> dict:  # fmt: skip
    """One kind's ``calibration["tier_rates"]`` block as the benchmark writes it (shares: real, uncertain, fake)."""
    return {
        "how": "leave-one-family-out",
        "n_real": n_real,
        "n_fake": n_fake,
        "n_families": n_families,
        "real_files": dict(zip(("real", "uncertain", "fake"), real_files, strict=True)),
        "fakes": dict(zip(("real", "uncertain", "fake"), fakes, strict=True)),
    }


# Made-up shares for tests (never shown as measurements): a video and a photo block.
TIER_RATES = {
    "video": tier_rate_block((0.8, 0.2, 0.0), (0.45, 0.5, 0.05)),
    "photo": tier_rate_block((0.9, 0.1, 0.0), (0.36, 0.64, 0.0), n_real=230, n_fake=11, n_families=1),
}


def write_tier_rates(folder: Path, rates: dict | None = None) -> Path:
    """Add ``tier_rates`` (default :data:`TIER_RATES`) to a bundle's calibration.json, as the benchmark would."""
    cal_path = folder / "calibration.json"
    cal = json.loads(cal_path.read_text())
    cal["tier_rates"] = TIER_RATES if rates is None else rates
    cal_path.write_text(json.dumps(cal, indent=2))
    return folder


def make_bundle(folder: Path, *, name: str = "tiny", scale: float = 1.0, readme: str | bool = True) -> Path:
    """A minimal valid bundle: a few bytes per file, so hashing and upload stay instant.

    ``readme``: True writes a short card with front matter, False writes none, a string is written verbatim.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "bundle_version": 1,
        "name": name,
        "data": [{"name": "SyntheticTalkers", "licence": "CC-BY-4.0", "url": "https://example.org/st"}],
        "training": {"epochs": 3, "optimizer": "adamw"},
    }
    (folder / "config.json").write_text(json.dumps(config))
    save_file({"encoder.w": np.full((2, 3), scale, dtype=np.float32)}, str(folder / "weights.safetensors"))
    (folder / "calibration.json").write_text(json.dumps({"metrics": METRICS, "thresholds": {"fake": 0.8}}))
    np.savez(folder / "reference.npz", real=np.zeros((4, 2), np.float32), fake=np.ones((4, 2), np.float32))
    if readme is not False:
        default_card = f"---\nlibrary_name: vaedetect\n---\n# {name}\n"
        (folder / "README.md").write_text(default_card if readme is True else str(readme))
    return folder
