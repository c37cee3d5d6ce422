"""A minimal valid bundle for the hub and bundle-format tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

METRICS = {"auc": 0.9312, "eer": 0.118, "tpr_at_fpr_1": 0.42}


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
