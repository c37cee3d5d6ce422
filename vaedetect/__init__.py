"""vaedetect: explainable deepfake detection for short clips.

Usage::

    import vaedetect
    report = vaedetect.load_detector().analyze("clip.mp4")
    print(report.verdict, report.manipulation_score, report.reasons)
"""

from __future__ import annotations

from vaedetect import settings

settings.apply_defaults()  # before any submodule imports huggingface_hub, gradio or MediaPipe

from vaedetect.errors import InputError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["InputError", "__version__", "load_detector"]


def load_detector(name_or_path=None, **kwargs):
    """Load a detector (bundled default, registry name, folder, or ``org/repo[@rev]``); imports torch lazily.

    See :func:`vaedetect.detector.load_detector`.
    """
    from vaedetect.detector import load_detector as _load

    return _load(name_or_path, **kwargs)
