"""Environment variables: every one vaedetect sets a default for or reads, in one place.

Importing :mod:`vaedetect` applies :data:`ENV_DEFAULTS` (private by default: no telemetry from any library we use,
quiet native loggers) before any submodule can import huggingface_hub, gradio or MediaPipe, which read them at
import. ``setdefault`` keeps whatever the user set.
"""

from __future__ import annotations

import os

ENV_DEFAULTS = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GLOG_minloglevel": "2",  # MediaPipe's C++ logging
    "TF_CPP_MIN_LOG_LEVEL": "3",  # its TFLite runtime
}
CHECKPOINT = "VAEDETECT_CHECKPOINT"  # the bundle the app loads: registry name, folder or org/repo[@revision]
EXAMPLES = "VAEDETECT_EXAMPLES"  # a folder of example clips and photos the app offers
NATIVE_LOGS = "VAEDETECT_NATIVE_LOGS"  # "1": the CLI keeps native libraries' stderr (debugging)
VAD = "VAEDETECT_VAD"  # speech detector: "energy" or "silero" (see vaedetect.audio.SPEECH_DETECTORS)
TEMP_DIR = "VAEDETECT_TEMP_DIR"  # the web app's own temp folder (see vaedetect.webfiles); emptied at start and stop
_TRUE = {"1", "ON", "YES", "TRUE"}


def apply_defaults() -> None:
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def flag(name: str) -> bool:
    """A boolean variable the way huggingface_hub reads its own (1/ON/YES/TRUE, any case)."""
    return os.environ.get(name, "").upper() in _TRUE


def checkpoint() -> str | None:
    return os.environ.get(CHECKPOINT) or None


def examples_dir() -> str | None:
    return os.environ.get(EXAMPLES)


def temp_dir() -> str | None:
    return os.environ.get(TEMP_DIR) or None


def native_logs() -> bool:
    return os.environ.get(NATIVE_LOGS) == "1"


def vad(default: str) -> str:
    return os.environ.get(VAD) or default


def server_address(default_host: str, default_port: int) -> tuple[str, int]:
    """Gradio's own GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, which ``python app.py`` honours too."""
    return os.environ.get("GRADIO_SERVER_NAME", default_host), int(os.environ.get("GRADIO_SERVER_PORT", default_port))


def distributed() -> tuple[int, int]:
    """(world size, local rank) as torchrun sets them; (1, 0) in a plain process."""
    return int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0"))
