"""vaedetect: explainable deepfake detection for short clips.

Usage::

    import vaedetect
    report = vaedetect.load_detector().analyze("clip.mp4")
    print(report.verdict, report.manipulation_score, report.reasons)
"""

from __future__ import annotations

import os

# Private by default: no telemetry from any library we use, and quiet native loggers.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from vaedetect.errors import InputError

__version__ = "0.1.0"
__all__ = ["InputError", "__version__", "load_detector"]


def load_detector(name_or_path=None, **kwargs):
    """Load a detector (bundled default, registry name, folder, or ``org/repo[@rev]``); imports torch lazily.

    See :func:`vaedetect.detector.load_detector`.
    """
    from vaedetect.detector import load_detector as _load

    return _load(name_or_path, **kwargs)
