"""The bundle format, in one place: its config (with the preprocessing the models were trained with), version, loading,
saving and validation.

A bundle is a flat folder of safetensors + JSON + npz only:

    config.json          architectures, the preprocessing they expect, training recipe and data, bundle version
    face_vae.safetensors, audio_vae.safetensors, sync.safetensors, blend.safetensors (optional: older bundles lack it)
    stats.safetensors    real-data statistics: mel mean/std, per-pixel error mean/std, latent Gaussian,
                         lip-from-voice regression (optional: older bundles lack it)
    calibration.json     evidence normalisation, fusion heads, thresholds with their measured FPR, metrics, and
                         ``tier_rates``: how often each verdict went to held-out fakes and real files (optional)
    reference.npz        reference latents (real and pseudo-fake) with their 2-D map coordinates
    README.md            model card (:mod:`vaedetect.model_card`)

Nothing else is loaded, and pickle-type files are refused outright: a checkpoint downloaded from a stranger's repo
must never be able to run code. Where a bundle comes from (registry, folder, Hub) is :mod:`vaedetect.hub`'s job.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file as load_torch
from safetensors.torch import save_file as save_torch

from vaedetect.audio import ANALYSIS_FPS, SAMPLE_RATE_HZ
from vaedetect.errors import BundleError
from vaedetect.faces import FACE_CROP_PX, MOUTH_CROP_PX, FaceConfig
from vaedetect.models.blend import BlendConfig, BlendNet
from vaedetect.models.lipvoice import LipVoice
from vaedetect.models.probe import LinearProbe, probes_from_stats
from vaedetect.models.speech_mouth import SpeechToMouth
from vaedetect.models.sync import SyncConfig, SyncNet
from vaedetect.models.vae import AudioVAE, AudioVAEConfig, FaceVAE, FaceVAEConfig
from vaedetect.report import VERDICTS

BUNDLE_VERSION = 1  # the config.json "bundle_version" this code writes, and the highest it reads
ALLOWED_PATTERNS = ["*.json", "*.safetensors", "*.npz", "README.md"]
REQUIRED_FILES = ("config.json", "calibration.json", "reference.npz", "README.md")
# Formats whose loaders can execute code (pickle and friends). ``.npy`` is not allowed either (not in
# ALLOWED_PATTERNS); object arrays inside ``.npz`` are caught by loading with ``allow_pickle=False``.
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".dill"})
_COMPRESSION_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zip", ".zst"})
T = TypeVar("T")
_PREPROCESSING_KEYS = ("face_crop_px", "mouth_crop_px", "analysis_fps", "sample_rate_hz")
# calibration["tier_rates"][kind]: how often each verdict code was given to held-out fakes and to real files, the
# numbers the verdict's words are shown with. ``how`` names the protocol; only protocols the words can describe truly
# are accepted (the words say "families the model never saw").
TIER_RATE_KINDS = ("video", "photo")
TIER_RATE_PROTOCOLS = ("leave-one-family-out",)
TIER_CODES = VERDICTS  # the tiers a tier_rates block gives shares for: the Report's verdict codes
_SHARE_SUM_TOLERANCE = 0.005


@dataclass(frozen=True)
class Preprocessing:
    """How the crops and audio a bundle's models were trained on were made; inference makes them the same way.

    The crop sizes drive the face pass of the ingest (:meth:`face_config`). The frame rate and sample rate are fixed
    by the code (the mel hop pairs whole mel frames with each video frame), so a bundle recording others is refused
    rather than fed features it never saw.
    """

    face_crop_px: int = FACE_CROP_PX
    mouth_crop_px: int = MOUTH_CROP_PX
    analysis_fps: int = ANALYSIS_FPS
    sample_rate_hz: int = SAMPLE_RATE_HZ

    def check(self, sync: SyncConfig) -> None:
        """Raise :class:`BundleError` unless this code can make inputs the way the bundle records them."""
        fixed = {"analysis_fps": ANALYSIS_FPS, "sample_rate_hz": SAMPLE_RATE_HZ, "mouth_crop_px": sync.mouth_px}
        wrong = [f"{k} {getattr(self, k)} (this code supports {v})" for k, v in fixed.items() if getattr(self, k) != v]
        if wrong:
            raise BundleError(f"the bundle's preprocessing cannot be reproduced: {'; '.join(wrong)}")

    def face_config(self, base: FaceConfig | None = None) -> FaceConfig:
        """The ingest's face settings with this bundle's crop sizes."""
        return replace(base or FaceConfig(), face_crop_px=self.face_crop_px, mouth_crop_px=self.mouth_crop_px)


@dataclass
class BundleConfig:
    """config.json as a dataclass: what to build, how its inputs are made, and how it was trained (for the card)."""

    name: str = "default"
    face_vae: FaceVAEConfig = field(default_factory=FaceVAEConfig)
    audio_vae: AudioVAEConfig = field(default_factory=AudioVAEConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    blend: BlendConfig | None = field(default_factory=BlendConfig)
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    bundle_version: int = BUNDLE_VERSION
    training: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    # Known limitations in plain words, shown on the model card; kept through recalibration.
    limits: list[str] = field(default_factory=list)
    # The evidence this bundle runs, by their names in ``vaedetect.evidence.REGISTRY`` (empty: the seeds' four).
    evidence: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("face_vae", "audio_vae", "sync", "blend"):
            if d[k] is not None:
                d[k] = {kk: list(vv) if isinstance(vv, tuple) else vv for kk, vv in d[k].items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BundleConfig:
        d = dict(d)
        bl = d.pop("blend", None)
        # Bundles before the Preprocessing record kept its four values at the top level.
        pre = {k: d.pop(k) for k in _PREPROCESSING_KEYS if k in d} | dict(d.pop("preprocessing", {}))
        known = set(cls.__dataclass_fields__)
        return cls(
            face_vae=model_config(FaceVAEConfig, d.pop("face_vae", {})),
            audio_vae=model_config(AudioVAEConfig, d.pop("audio_vae", {})),
            sync=model_config(SyncConfig, d.pop("sync", {})),
            blend=model_config(BlendConfig, bl) if bl is not None else None,
            preprocessing=Preprocessing(**pre),
            **{k: v for k, v in d.items() if k in known},
        )


def model_config(cls: type[T], values: dict[str, Any], base: T | None = None) -> T:
    """A model's config dataclass from JSON values (lists become the tuples the dataclass holds), over ``base``'s
    values or the class defaults; an unknown field raises TypeError."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return replace(base, **values) if base is not None else cls(**values)


def read_config(folder: str | Path) -> BundleConfig:
    """Parse and check a bundle's config.json: a version this code reads, preprocessing it can reproduce."""
    path = Path(folder) / "config.json"
    raw = read_json(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("bundle_version"), int):
        raise BundleError(f"{path} must be a JSON object with an integer 'bundle_version'.")
    if raw["bundle_version"] > BUNDLE_VERSION:
        raise BundleError(
            f"{path.parent} is bundle version {raw['bundle_version']}; this vaedetect reads up to {BUNDLE_VERSION}. "
            "Upgrade vaedetect to use it."
        )
    try:
        config = BundleConfig.from_json(raw)
    except (TypeError, ValueError) as err:  # an unknown architecture field, a list where a number belongs
        raise BundleError(f"{path} does not describe models this vaedetect can build: {err}") from err
    try:
        config.preprocessing.check(config.sync)
    except BundleError as err:
        raise BundleError(f"{path.parent}: {err}") from err
    return config


def state_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's weights as contiguous CPU tensors, the form safetensors writes."""
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


class ModelBundle:
    """Everything the detector needs, loaded from one folder. Inference only; all models are in eval mode."""

    WEIGHT_FILES: ClassVar[dict[str, str]] = {
        "face_vae": "face_vae.safetensors",
        "audio_vae": "audio_vae.safetensors",
        "sync": "sync.safetensors",
        "blend": "blend.safetensors",
    }

    def __init__(
        self,
        config: BundleConfig,
        face_vae: FaceVAE,
        audio_vae: AudioVAE,
        sync: SyncNet,
        stats: dict[str, np.ndarray],
        calibration: dict[str, Any],
        reference: dict[str, np.ndarray],
        blend: BlendNet | None = None,
    ) -> None:
        self.config = config
        self.blend = blend.eval() if blend is not None else None
        self.face_vae = face_vae.eval()
        self.audio_vae = audio_vae.eval()
        self.sync = sync.eval()
        self.stats = stats
        self.calibration = calibration
        self.reference = reference

    @property
    def lipvoice(self) -> LipVoice | None:
        """The lip-from-voice offset cue, read from ``stats`` (None in bundles made before it existed)."""
        return LipVoice.from_stats(self.stats)

    @cached_property
    def probes(self) -> dict[str, LinearProbe]:
        """Linear probes over pretrained embeddings, by evidence name, read from ``stats`` (``probe.<name>.*``)."""
        return probes_from_stats(self.stats)

    @cached_property
    def speech_mouth(self) -> SpeechToMouth | None:
        """The real-only speech-to-mouth head, read from ``stats`` (None in bundles without it)."""
        return SpeechToMouth.from_stats(self.stats)

    @classmethod
    def new(cls, config: BundleConfig | None = None) -> ModelBundle:
        config = config or BundleConfig()
        return cls(
            config,
            FaceVAE(config.face_vae),
            AudioVAE(config.audio_vae),
            SyncNet(config.sync),
            stats={},
            calibration={},
            reference={},
            blend=BlendNet(config.blend) if config.blend is not None else None,
        )

    @classmethod
    def load(cls, folder: str | Path, config: BundleConfig | None = None) -> ModelBundle:
        """Load a bundle folder; ``config`` is its already parsed config.json (as validation returns it), if at hand."""
        folder = Path(folder)
        config = config or read_config(folder)
        models = {
            "face_vae": FaceVAE(config.face_vae),
            "audio_vae": AudioVAE(config.audio_vae),
            "sync": SyncNet(config.sync),
        }
        if config.blend is not None and (folder / cls.WEIGHT_FILES["blend"]).exists():
            models["blend"] = BlendNet(config.blend)
        else:
            config.blend = None
        for key, module in models.items():
            module.load_state_dict(load_torch(str(folder / cls.WEIGHT_FILES[key])))
        stats = load_numpy(str(folder / "stats.safetensors"))
        calibration = json.loads((folder / "calibration.json").read_text())
        check_tier_rates(calibration.get("tier_rates"))
        with np.load(folder / "reference.npz", allow_pickle=False) as ref:
            reference = {k: ref[k] for k in ref.files}
        return cls(
            config,
            models["face_vae"],
            models["audio_vae"],
            models["sync"],
            stats,
            calibration,
            reference,
            blend=models.get("blend"),
        )

    def save(self, folder: str | Path, model_card: str | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config.to_json(), indent=2))
        for key, fname in self.WEIGHT_FILES.items():
            if getattr(self, key) is None:
                continue
            save_torch(state_tensors(getattr(self, key)), str(folder / fname), metadata={"format": "pt"})
        save_numpy({k: np.ascontiguousarray(v) for k, v in self.stats.items()}, str(folder / "stats.safetensors"))
        (folder / "calibration.json").write_text(json.dumps(self.calibration, indent=2, allow_nan=False))
        np.savez_compressed(folder / "reference.npz", **self.reference)
        if model_card is not None:
            (folder / "README.md").write_text(model_card)
        return folder


# -- validation ---------------------------------------------------------------------------------------------------


def validate_bundle(path: str | Path) -> BundleConfig:
    """Check a folder is a loadable, pickle-free bundle and return its parsed config.

    Hidden entries (``.gitattributes``, ``.cache``) are ignored; every other file must match ALLOWED_PATTERNS.
    Structural problems are reported together so one run tells the author everything to fix.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"Checkpoint folder not found: {path}")
    files = [
        p.relative_to(path).as_posix()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    problems = []
    if pickles := [f for f in files if is_pickle(f)]:
        problems.append(f"refusing pickle-type file(s) {', '.join(pickles)} (they can run code; use safetensors)")
    if unexpected := [f for f in files if not is_pickle(f) and not is_allowed(f)]:
        problems.append(f"unexpected file(s) {', '.join(unexpected)} (allowed: {', '.join(ALLOWED_PATTERNS)})")
    if missing := [f for f in REQUIRED_FILES if not (path / f).is_file()]:
        problems.append(f"missing {', '.join(missing)}")
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        problems.append("no *.safetensors weights")
    if problems:
        raise BundleError(f"Invalid checkpoint bundle at {path}: " + "; ".join(problems) + ".")

    config = read_config(path)
    for other in sorted(path.glob("*.json")):
        data = read_json(other)
        if other.name == "calibration.json" and isinstance(data, dict):
            check_tier_rates(data.get("tier_rates"))
    for npz in sorted(path.glob("*.npz")):
        _check_npz(npz)
    for weight in weights:
        _check_safetensors(weight)
    return config


def check_tier_rates(rates: Any) -> None:
    """Raise :class:`BundleError` unless ``rates`` (``calibration["tier_rates"]``, or None) has the recorded format.

    The page shows these numbers beside every verdict, so a malformed block must stop the bundle loading rather than
    print a wrong share. Format, per kind of file ("video", "photo"; either may be missing)::

        {"how": "leave-one-family-out", "n_real": int, "n_fake": int, "n_families": int,
         "real_files": {"real": float, "uncertain": float, "fake": float}, "fakes": {...the same...},
         "per_family": {family: {"n_fake": int, "fakes": {...the same...}}}}   # per_family optional

    with each block's shares in 0..1 summing to 1.
    """
    if rates is None:
        return

    def bad(why: str) -> BundleError:
        return BundleError(f"calibration.json: tier_rates {why}")

    if not isinstance(rates, dict):
        raise bad("must be an object keyed by kind of file")
    for kind, block in rates.items():
        if kind not in TIER_RATE_KINDS:
            raise bad(f"has an unknown kind {kind!r} (known: {', '.join(TIER_RATE_KINDS)})")
        if not isinstance(block, dict):
            raise bad(f"[{kind!r}] must be an object")
        if block.get("how") not in TIER_RATE_PROTOCOLS:
            raise bad(f"[{kind!r}].how must be one of {', '.join(TIER_RATE_PROTOCOLS)}, got {block.get('how')!r}")
        for key in ("n_real", "n_fake", "n_families"):
            n = block.get(key)
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise bad(f"[{kind!r}].{key} must be a positive integer, got {n!r}")
        for group in ("real_files", "fakes"):
            _check_shares(block.get(group), f"[{kind!r}].{group}", bad)
        per_family = block.get("per_family")  # optional: the same shares for each held-out family's fakes
        if per_family is not None:
            if not isinstance(per_family, dict):
                raise bad(f"[{kind!r}].per_family must be an object keyed by family")
            for family, fam in per_family.items():
                n = fam.get("n_fake") if isinstance(fam, dict) else None
                if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                    raise bad(f"[{kind!r}].per_family[{family!r}].n_fake must be a positive integer, got {n!r}")
                _check_shares(fam.get("fakes"), f"[{kind!r}].per_family[{family!r}].fakes", bad)


def _check_shares(shares: Any, where: str, bad: Callable[[str], BundleError]) -> None:
    if not isinstance(shares, dict) or set(shares) != set(TIER_CODES):
        raise bad(f"{where} must give a share for each of {', '.join(TIER_CODES)}")
    values = list(shares.values())
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in values):
        raise bad(f"{where} shares must be numbers from 0 to 1, got {shares}")
    if abs(sum(values) - 1.0) > _SHARE_SUM_TOLERANCE:
        raise bad(f"{where} shares must sum to 1, got {sum(values):.3f}")


def tier_rates(calibration: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The measured verdict shares for one kind of file ("video" or "photo"), or None when the bundle has none."""
    block = (calibration.get("tier_rates") or {}).get(kind)
    return dict(block) if isinstance(block, dict) else None


def read_json(path: Path) -> Any:
    """A bundle's JSON file, or :class:`BundleError` saying which file is broken."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path} is not valid JSON: {err}") from err


def _check_npz(path: Path) -> None:
    """Load every array with allow_pickle=False: object arrays are pickles in disguise."""
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                _ = data[key]
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise BundleError(f"{path} holds object arrays (pickled data); store plain numeric arrays.") from err
        raise BundleError(f"{path} is not a readable .npz file: {err}") from err
    except Exception as err:  # BadZipFile, OSError, EOFError...
        raise BundleError(f"{path} is not a readable .npz file: {err}") from err


def _check_safetensors(path: Path) -> None:
    """Parse the header only: cheap, and catches truncated or non-safetensors files before the model loads."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            if not list(handle.keys()):
                raise BundleError(f"{path} holds no tensors.")
    except BundleError:
        raise
    except Exception as err:  # SafetensorError is a Rust exception type
        raise BundleError(f"{path} is not a valid safetensors file: {err}") from err


def is_allowed(relpath: str) -> bool:
    """Whether a file of this name may be part of a bundle (and so be downloaded or uploaded)."""
    return any(fnmatch.fnmatch(relpath, pattern) for pattern in ALLOWED_PATTERNS)


def is_pickle(relpath: str) -> bool:
    """Whether a file's format can run code when loaded (compressed pickles included)."""
    suffixes = [s.lower() for s in Path(relpath).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in PICKLE_SUFFIXES


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
