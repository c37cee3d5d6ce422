"""Errors a user can cause.

Anything raised as :class:`InputError` carries a message written for the person who uploaded the file (a journalist,
a teacher), not for a developer: the CLI prints it on one line and the UI shows it verbatim.
"""

from __future__ import annotations


class InputError(Exception):
    """The input cannot be analysed; ``str(err)`` is a user-facing sentence."""

    code = "bad_input"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class EmptyFileError(InputError):
    code = "empty_file"


class NotMediaError(InputError):
    code = "not_media"


class CorruptMediaError(InputError):
    code = "corrupt_media"


class NoVideoError(InputError):
    """Audio-only files: there is no face to examine."""

    code = "no_video"


class LimitExceededError(InputError):
    code = "over_limit"


class DecodeTimeoutError(InputError):
    code = "decode_timeout"


class BundleError(Exception):
    """A checkpoint bundle cannot be found, fetched, verified or used; ``str(err)`` says which and why.

    Not an :class:`InputError` (the upload is fine, the model is not), but the CLI treats a bad ``--checkpoint`` as a
    user error too: one line, exit status 2.
    """


class MissingPretrained(Exception):
    """A pretrained network's carrier package is not installed, or its file is not the pinned one (see
    :mod:`vaedetect.pretrained`); the message names the package and how to install it."""
