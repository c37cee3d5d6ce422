"""Training data: the manifest, the identity-disjoint train/validation split, and the ingest cache.

The split is by identity, so no person in the held-out set was seen in training; it is recorded in the bundle (file
lists and identities), and a continued or recalibrated bundle reuses it. The ``dev`` split of the data folder is never
read here: it is for ``python -m vaedetect eval``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vaedetect.errors import InputError
from vaedetect.evidence import ClipArrays
from vaedetect.faces import FaceConfig
from vaedetect.models import ModelBundle
from vaedetect.training.loop import barrier, is_main

log = logging.getLogger("vaedetect.train")

TRAIN_SPLITS = ("train", "train_silent", "stills")


@dataclass
class Item:
    path: Path
    split: str
    identity: str
    has_audio: bool
    kind: str  # "video" | "image"


def read_manifest(data_dir: Path) -> list[Item]:
    """Training material from ``manifest.csv`` (or, without one, every file under the training folders)."""
    manifest = data_dir / "manifest.csv"
    items: list[Item] = []
    if manifest.exists():
        with manifest.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row["split"] not in TRAIN_SPLITS or row.get("label", "real") != "real":
                    continue
                p = data_dir / row["path"]
                kind = "image" if row["split"] == "stills" else "video"
                identity = row.get("identity") or f"file:{row['path']}"
                items.append(Item(p, row["split"], identity, row.get("has_audio") == "1", kind))
    else:
        folders = {"real": "train", "real_silent": "train_silent", "stills": "stills"}
        for folder, split in folders.items():
            for p in sorted((data_dir / folder).glob("*")):
                if p.is_file():
                    kind = "image" if split == "stills" else "video"
                    items.append(Item(p, split, f"file:{folder}/{p.name}", split == "train", kind))
    return items


def licences(data_dir: Path) -> list[str]:
    """The licences of the training material, as the manifest lists them (for the model card)."""
    manifest = data_dir / "manifest.csv"
    if not manifest.exists():
        return []
    with manifest.open(newline="") as fh:
        return sorted({r["license"] for r in csv.DictReader(fh) if r["split"] in TRAIN_SPLITS and r.get("license")})


def identity_split(items: list[Item], val_fraction: float, seed: int) -> tuple[list[Item], list[Item]]:
    """Disjoint identities between train and validation, stratified by split so each kind of material is in both.

    A person is on one side for every split: someone whose talking clips train the models must not have a silent clip
    among the held-out ones (the face model has seen that face). Splits are visited in order; a person already placed
    by an earlier split keeps their side, and new people fill each split's validation share.
    """
    rng = np.random.default_rng(seed)
    side: dict[str, str] = {}
    for split in TRAIN_SPLITS:
        ids = sorted({it.identity for it in items if it.split == split})
        if len(ids) < 2:
            for ident in ids:
                side.setdefault(ident, "train")
            continue
        target = max(1, round(len(ids) * val_fraction))
        have = sum(1 for ident in ids if side.get(ident) == "val")
        new = [ident for ident in ids if ident not in side]
        rng.shuffle(new)
        for ident in new:
            side[ident] = "val" if have < target else "train"
            have += side[ident] == "val"
    train = [it for it in items if side.get(it.identity) == "train"]
    val = [it for it in items if side.get(it.identity) == "val"]
    return train, val


def bundle_split(
    bundle: ModelBundle, items: list[Item], data_dir: Path, val_fraction: float, seed: int
) -> tuple[list[Item], list[Item]]:
    """The train/validation files a bundle's weights were made with: its recorded file lists, less any validation file
    whose person is in the training list (older bundles were split per kind of material and could have one); for a
    bundle that recorded only its seed, the identity split of ``items`` with ``seed``."""
    recorded = bundle.config.data.get("split", {})
    if not (recorded.get("train") and recorded.get("val")):
        return identity_split(items, val_fraction, seed)
    by_path = {str(it.path.relative_to(data_dir)): it for it in items}
    missing = [p for p in (*recorded["train"], *recorded["val"]) if p not in by_path]
    if missing:
        raise RuntimeError(f"{len(missing)} files of the bundle's recorded split are not in {data_dir}")
    train_items = [by_path[p] for p in recorded["train"]]
    seen = {it.identity for it in train_items}
    val_items = [by_path[p] for p in recorded["val"] if by_path[p].identity not in seen]
    if len(val_items) < len(recorded["val"]):
        log.warning("left %d validation files out: their people are in the training split",
                    len(recorded["val"]) - len(val_items))  # fmt: skip
    return train_items, val_items


def record_split(train_items: list[Item], val_items: list[Item], seed: int, data_dir: Path) -> dict[str, Any]:
    """The split as config.json records it: file lists (what recalibration reuses) and the identities on each side."""
    return {
        "train": sorted(str(it.path.relative_to(data_dir)) for it in train_items),
        "val": sorted(str(it.path.relative_to(data_dir)) for it in val_items),
        "train_identities": sorted({it.identity for it in train_items}),
        "val_identities": sorted({it.identity for it in val_items}),
        "seed": seed,
    }


def _cache_key(path: Path, face_config: FaceConfig) -> str:
    """File identity plus the ingest settings that shape the crops, so a changed pipeline is never read stale."""
    st = path.stat()
    version = f"v2:{face_config}"
    h = hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{version}".encode()).hexdigest()[:16]
    return f"{path.stem}-{h}"


def cache_clip(item: Item, cache_dir: Path, face_config: FaceConfig) -> Path | None:
    """Ingest one file once and keep only what training needs (crops, mel, speech). None if unusable."""
    from vaedetect.ingest import ingest

    out = cache_dir / f"{_cache_key(item.path, face_config)}.npz"
    if out.exists():
        return out
    try:
        clip = ingest(item.path, face_config=face_config)
    except InputError as err:
        log.warning("skipping %s: %s", item.path.name, err)
        return None
    f = clip.faces
    arrays: dict[str, np.ndarray] = {
        "face_crops": f.face_crops,
        "present": f.present,
        "mouth_crops": f.mouth_crops,
        "lip": f.lip_opening,
        "speech": clip.speech.speech,
        "is_image": np.array(clip.is_image),
    }
    if clip.mel is not None:
        arrays["mel"] = clip.mel
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    return out


def load_cached(path: Path) -> ClipArrays:
    with np.load(path, allow_pickle=False) as z:
        return ClipArrays(
            face_crops=z["face_crops"],
            present=z["present"],
            mouth_crops=z["mouth_crops"],
            mel=z["mel"] if "mel" in z.files else None,
            speech=z["speech"],
            is_image=bool(z["is_image"]),
            lip=z["lip"] if "lip" in z.files else None,
        )


def load_split(
    train_items: list[Item], val_items: list[Item], cache: Path, face_config: FaceConfig
) -> tuple[list[ClipArrays], list[tuple[Item, ClipArrays]]]:
    """Every file ingested once into ``cache`` (rank 0 writes, other ranks wait and read)."""
    items = [*train_items, *val_items]
    cache.mkdir(parents=True, exist_ok=True)
    cached: dict[Path, Path | None] = {}
    if is_main():
        cached = {it.path: cache_clip(it, cache, face_config) for it in tqdm(items, desc="ingest", leave=False)}
    barrier()
    if not is_main():
        cached = {it.path: cache_clip(it, cache, face_config) for it in items}
    train_clips = [load_cached(p) for it in train_items if (p := cached.get(it.path))]
    val_clips = [(it, load_cached(p)) for it in val_items if (p := cached.get(it.path))]
    log.info("clips: %d train, %d val", len(train_clips), len(val_clips))
    return train_clips, val_clips
