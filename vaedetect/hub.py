"""Where checkpoint bundles come from: a registry of named bundles, local folders, and Hub repos pinned to a revision
and verified; pulling and publishing them.

What a bundle is (files, config, version, validation) is :mod:`vaedetect.models.bundle`'s; its README is
:mod:`vaedetect.model_card`'s. Pickle-type files in a Hub repo are refused before anything is loaded.

Resolution order for ``resolve_bundle(spec)``:

1. ``None`` / ``"default"`` -> the bundled default under ``assets/checkpoints/default``.
2. A registry name (``REGISTRY``) -> its :class:`BundleSpec` (bundled, or a Hub repo at a pinned commit with sha256
   digests checked after download).
3. An existing folder -> used as is (an existing relative folder ``org/repo`` wins over the Hub id; write ``./x`` to
   force the folder reading, or an id that does not exist on disk to reach the Hub).
4. ``org/repo`` or ``org/repo@revision`` -> ``huggingface_hub.snapshot_download`` into the normal HF cache, so a second
   load of a commit sha, or any load under ``HF_HUB_OFFLINE=1``, needs no network at all.

Hub and registry failures (network down, 404, bad digest, pickle, invalid bundle) fall back to the bundled default
with a ``("checkpoint_fallback", message)`` warning that the Report shows, never silently; ``fallback=False`` raises
:class:`BundleError` instead. A missing or invalid *local folder* always raises: a typo must not turn into "analysed
with some other model".
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from vaedetect import settings
from vaedetect.errors import BundleError
from vaedetect.model_card import is_generated, make_model_card
from vaedetect.models.bundle import ALLOWED_PATTERNS, BundleConfig, file_sha256, is_allowed, is_pickle, validate_bundle

logger = logging.getLogger(__name__)

BUNDLED_DIR: Path = Path(__file__).resolve().parent.parent / "assets" / "checkpoints"
DEFAULT_NAME = "default"
FALLBACK_WARNING = "checkpoint_fallback"

_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<rev>[\w./-]+))?$")
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class BundleSpec:
    """One registry entry: where a named bundle lives and what its files must hash to."""

    name: str
    repo_id: str | None  # None -> bundled under assets/checkpoints/<name>
    revision: str | None  # pinned commit sha for Hub bundles (a branch would let the model change under users)
    sha256: dict[str, str]  # filename -> hex digest, verified after download when known
    description: str = ""


@dataclass
class ResolvedBundle:
    """A bundle on local disk, ready to load, plus what the Report should say about where it came from."""

    path: Path
    name: str
    revision: str | None
    source: str  # "bundled" | "local" | "hub"
    warnings: list[tuple[str, str]] = field(default_factory=list)
    config: BundleConfig = field(default_factory=BundleConfig)  # parsed by validation; the detector loads with it


REGISTRY: dict[str, BundleSpec] = {
    DEFAULT_NAME: BundleSpec(DEFAULT_NAME, None, None, {}, "Bundled default model shipped in assets/checkpoints."),
}


def register(spec: BundleSpec) -> None:
    """Add or replace a named bundle; names never contain '/', so they cannot shadow a Hub repo id."""
    if not spec.name or "/" in spec.name or "@" in spec.name:
        raise ValueError(f"Invalid bundle name {spec.name!r}: use a plain name without '/' or '@'.")
    if spec.repo_id is not None and (spec.revision is None or not _COMMIT_SHA.match(spec.revision)):
        logger.warning("Registry entry %r is not pinned to a commit sha; its content may change.", spec.name)
    REGISTRY[spec.name] = spec


def list_bundles() -> list[str]:
    return sorted(REGISTRY)


# -- resolution ---------------------------------------------------------------------------------------------------


def resolve_bundle(
    spec: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | Path | None = None,
    fallback: bool = True,
) -> ResolvedBundle:
    """Turn a checkpoint name, folder or Hub id into a validated local folder (see the module docstring)."""
    if spec is not None and not isinstance(spec, str):
        return _load_local(Path(spec))
    text = DEFAULT_NAME if spec is None or not spec.strip() else spec.strip()

    if text in REGISTRY:
        entry = REGISTRY[text]
        if entry.repo_id is None and entry.name == DEFAULT_NAME:
            return _load_bundled(entry)  # nothing to fall back to

        def attempt() -> ResolvedBundle:
            return _load_entry(entry, cache_dir)

    elif Path(text).expanduser().exists():
        return _load_local(Path(text).expanduser())
    elif match := _HUB_ID.match(text):
        repo_id, revision = match["repo"], match["rev"]

        def attempt() -> ResolvedBundle:
            return _load_hub(repo_id, revision, {}, cache_dir, name=repo_id)

    elif text.startswith((".", "~")) or os.sep in text or (os.altsep and os.altsep in text):
        raise BundleError(f"No checkpoint folder at {text!r}.")
    else:
        raise BundleError(
            f"Unknown checkpoint {text!r}: use one of {', '.join(list_bundles())}, a bundle folder, "
            "or a Hub repo id such as org/name or org/name@revision."
        )

    try:
        return attempt()
    except BundleError as err:
        if not fallback:
            raise
        reason = f"Could not load checkpoint {text!r} ({err})"
        message = f"{reason}; using the bundled default model instead."
        logger.warning(message)
        try:
            default = _load_bundled(BundleSpec(DEFAULT_NAME, None, None, {}))
        except BundleError as default_err:
            raise BundleError(f"{reason}, and the bundled default failed too: {default_err}") from err
        default.warnings.append((FALLBACK_WARNING, message))
        return default


def pull_bundle(spec: str, out_dir: str | Path | None = None, *, cache_dir: str | Path | None = None) -> ResolvedBundle:
    """Fetch a bundle with no fallback (an explicit pull must fail loudly) and optionally copy it to ``out_dir``.

    Copies are real files (the HF cache holds symlinks into its blob store), so ``out_dir`` can be zipped or edited.
    """
    resolved = resolve_bundle(spec, cache_dir=cache_dir, fallback=False)
    if out_dir is None:
        return resolved
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted(resolved.path.iterdir()):
        if src.is_file() and is_allowed(src.name):
            shutil.copyfile(src, out / src.name)
    return dataclasses.replace(resolved, path=out, config=validate_bundle(out))


def _load_entry(entry: BundleSpec, cache_dir: str | Path | None) -> ResolvedBundle:
    if entry.repo_id is None:
        return _load_bundled(entry)
    return _load_hub(entry.repo_id, entry.revision, entry.sha256, cache_dir, name=entry.name)


def _load_bundled(entry: BundleSpec) -> ResolvedBundle:
    path = BUNDLED_DIR / entry.name
    if not path.is_dir():
        raise BundleError(
            f"The bundled checkpoint {entry.name!r} is missing (expected a folder at {path}). "
            "Reinstall vaedetect, or pass a bundle folder or Hub repo id as the checkpoint."
        )
    _verify_sha256(path, entry.sha256)
    return ResolvedBundle(path, entry.name, None, "bundled", [], validate_bundle(path))


def _load_local(path: Path) -> ResolvedBundle:
    if not path.exists():
        raise BundleError(f"No checkpoint folder at {str(path)!r}.")
    if not path.is_dir():
        raise BundleError(f"{str(path)!r} is a file; a checkpoint is a folder holding config.json and weights.")
    path = path.resolve()
    return ResolvedBundle(path, path.name, None, "local", [], validate_bundle(path))


def _load_hub(
    repo_id: str, revision: str | None, sha256: dict[str, str], cache_dir: str | Path | None, *, name: str
) -> ResolvedBundle:
    """Download the allowed files of a Hub repo, then refuse it if the repo holds pickles, then verify and validate.

    Pickle files are never downloaded (``allow_patterns``); the full listing comes from the tree listing
    huggingface_hub caches next to the snapshot, so the check costs no request and also works offline.
    """
    from huggingface_hub import snapshot_download

    _sync_telemetry_flag()
    where = f"{repo_id}@{revision}" if revision else repo_id
    offline = _offline()
    try:
        folder = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                allow_patterns=ALLOWED_PATTERNS,
                cache_dir=cache_dir,
                library_name="vaedetect",
                library_version=_package_version(),
                local_files_only=offline,  # huggingface_hub only reads HF_HUB_OFFLINE at import: honour it later too
            )
        )
    except Exception as err:  # network, HTTP and cache errors come in many types; all mean "not available"
        raise BundleError(f"could not fetch {where}: {_short(err)}") from err
    commit = folder.name if _COMMIT_SHA.match(folder.name) else None

    pickles = [f for f in _repo_listing(repo_id, commit or revision, folder, cache_dir, offline) if is_pickle(f)]
    if pickles:
        raise BundleError(
            f"{where} contains pickle-type file(s) {', '.join(sorted(pickles))}, which can run code when loaded; "
            "refusing the repo (vaedetect bundles hold safetensors, JSON and NPZ only)"
        )
    _verify_sha256(folder, sha256)
    return ResolvedBundle(folder, name, commit, "hub", [], validate_bundle(folder))


def _repo_listing(
    repo_id: str, revision: str | None, folder: Path, cache_dir: str | Path | None, offline: bool
) -> list[str]:
    """Every file of the repo at ``revision``, not just the downloaded ones."""
    from huggingface_hub import HfApi, get_cached_repo_tree
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    try:
        return [f.path for f in get_cached_repo_tree(repo_id, revision=revision, cache_dir=cache_dir)]
    except CachedRepoTreeNotFoundError:
        pass
    if offline:
        logger.info("No cached file listing for %s; checking only the files already on disk.", repo_id)
        return [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    try:
        api = HfApi(library_name="vaedetect", library_version=_package_version())
        return api.list_repo_files(repo_id, revision=revision)
    except Exception as err:
        raise BundleError(f"could not list the files of {repo_id}: {_short(err)}") from err


def _verify_sha256(folder: Path, expected: dict[str, str]) -> None:
    for filename, digest in sorted(expected.items()):
        path = folder / filename
        if not path.is_file():
            raise BundleError(f"{filename} has a pinned sha256 but is missing from the bundle")
        actual = file_sha256(path)
        if actual != digest.lower():
            raise BundleError(f"sha256 mismatch for {filename}: expected {digest.lower()}, got {actual}")


# -- publishing ---------------------------------------------------------------------------------------------------


def push_bundle(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    validate: Callable[[Path], None] | None = None,
    commit_message: str = "Upload vaedetect checkpoint bundle",
) -> str:
    """Validate a bundle, write/refresh its model card, upload it and return the commit sha to pin in a registry.

    The card (README.md) is written into ``folder`` when missing, when it was generated by :func:`make_model_card`
    (marker line present: refreshed so metrics stay in sync), or when it has no YAML front matter (the existing text
    is kept under "Notes"). A hand-written card with front matter is never touched.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"Checkpoint folder not found: {folder}")
    readme = folder / "README.md"
    existing = readme.read_text(encoding="utf-8") if readme.is_file() else None
    if is_generated(existing):
        readme.write_text(make_model_card(folder, repo_id=repo_id), encoding="utf-8")
    validate_bundle(folder)
    if validate is not None:
        try:
            validate(folder)
        except Exception as err:
            raise BundleError(f"{folder} failed the pre-upload check: {err}") from err

    from huggingface_hub import HfApi

    _sync_telemetry_flag()
    api = HfApi(token=token, library_name="vaedetect", library_version=_package_version())
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(
        folder_path=folder,
        repo_id=repo_id,
        repo_type="model",
        allow_patterns=ALLOWED_PATTERNS,
        commit_message=commit_message,
    )
    logger.info("Pushed %s to %s at %s", folder, repo_id, info.oid)
    return info.oid


# -- helpers ------------------------------------------------------------------------------------------------------


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.is_offline_mode() or settings.flag("HF_HUB_OFFLINE")


def _sync_telemetry_flag() -> None:
    """Apply HF_HUB_DISABLE_TELEMETRY even if huggingface_hub was imported before this module set it.

    With telemetry on, huggingface_hub 2.x adds torch/agent details to its user agent and fetches an agent registry
    from the Hub on the first request; we only ever turn it off, and only when the variable says so.
    """
    from huggingface_hub import constants

    if settings.flag("HF_HUB_DISABLE_TELEMETRY"):
        constants.HF_HUB_DISABLE_TELEMETRY = True


def _package_version() -> str:
    try:
        return metadata.version("vaedetect")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _short(err: BaseException) -> str:
    """One line for a warning shown to users: huggingface_hub errors carry request ids and URLs over many lines."""
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {first[:200]}" if first else type(err).__name__
