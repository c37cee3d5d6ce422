"""Identity drift (rule 20 of ``bench/results/2026-12-01-rules.md``): how far a clip's face wanders off its identity.

dlib's ResNet face descriptor (``face_recognition_models``, placed by dlib's 5-point landmark model; both inside the
package, nothing downloads) on up to 16 evenly spaced cached cue crops of every video in the cache; the value is the
90th percentile over frames of the distance between a frame's descriptor and the clip's element-wise median one.
Photos and clips with fewer than 5 usable crops get none. Writes ``{cache key: {"identity_drift": value}}`` for
``bench/generalisation.py --extra-cues``. A bench-only measurement: the two packages are not requirements.

    pip install dlib-bin==20.0.1.post1 face_recognition_models==0.3.0
    python bench/identity_drift.py [--cache .cache/gen] [--out .cache/identity.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from vaedetect.faces import landmarks_in_crop  # noqa: E402

N_CROPS = 16
MIN_CROPS = 5
QUANTILE = 90


def _models() -> tuple:
    import dlib

    # The package's __init__ needs pkg_resources only to name these files; find them without importing it.
    spec = find_spec("face_recognition_models")
    folder = Path(spec.submodule_search_locations[0]) / "models"
    return (
        dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat")),
        dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat")),
    )


def descriptors(crops: np.ndarray, landmarks: np.ndarray, models: tuple) -> np.ndarray:
    """One 128-d descriptor per crop (``landmarks[i]``: crop ``i``'s 468 FaceMesh points in frame coordinates)."""
    import dlib

    shape_model, rec = models
    out = []
    for crop, lm in zip(crops, landmarks, strict=True):
        pts = landmarks_in_crop(lm, crop.shape[0])
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
        img = np.ascontiguousarray(crop)
        shape = shape_model(img, dlib.rectangle(int(x0), int(y0), int(x1), int(y1)))
        chip = dlib.get_face_chip(img, shape, size=150, padding=0.25)
        out.append(np.asarray(rec.compute_face_descriptor(chip), dtype=np.float64))
    return np.stack(out) if out else np.zeros((0, 128))


def drift(desc: np.ndarray) -> float:
    """The 90th percentile distance of a frame's descriptor to the clip's median descriptor (NaN: too few frames)."""
    if len(desc) < MIN_CROPS:
        return float("nan")
    centre = np.median(desc, axis=0)
    return float(np.percentile(np.linalg.norm(desc - centre, axis=1), QUANTILE))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "gen"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "identity.json"))
    args = ap.parse_args()
    models = _models()
    out: dict[str, dict[str, float]] = {}
    files = sorted(Path(args.cache).glob("*.npz"))
    t0 = time.time()
    for n, f in enumerate(files, 1):
        d = np.load(f)
        meta = json.loads(bytes(d["meta"]))
        if meta["kind"] == "image" or not len(d["crop_idx"]):
            continue
        pick = np.unique(np.linspace(0, len(d["crop_idx"]) - 1, N_CROPS).round().astype(int))
        desc = descriptors(d["crops"][pick], d["landmarks"][d["crop_idx"][pick]], models)
        value = drift(desc)
        if np.isfinite(value):
            out[f.stem] = {"identity_drift": value}
        if n % 50 == 0:
            print(f"{n}/{len(files)} {time.time() - t0:.0f}s", flush=True)
    Path(args.out).write_text(json.dumps(out))
    print(f"{len(out)} videos with a value, {time.time() - t0:.0f}s -> {args.out}")


if __name__ == "__main__":
    main()
