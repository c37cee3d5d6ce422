"""How a file name is shown to a person: the one rule for the page, the report, the CLI and the server's log.

A file name is data chosen by whoever made the file. Shown raw it can rewrite a terminal (``ESC ]0;...``), reorder
the text around it (bidi overrides: ``report\u202egnp.mp4`` reads as ``reportmp4.png``), hide characters (zero-width
marks) or crash an output stream that cannot encode it (bytes that are not UTF-8). :func:`safe_name` turns all of
those into visible escapes, so a name always prints and reads in its real order. It does not HTML-escape: markup
escaping belongs to the place that writes markup.
"""

from __future__ import annotations

import os
import unicodedata

__all__ = ["safe_name"]

# Invisible characters that join script letters (Persian, Indic) or emoji: shown as they are.
_JOINERS = frozenset({"\u200c", "\u200d"})
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, format (bidi, zero-width), surrogates


def safe_name(value: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """``value`` with every control, bidi, invisible-format and undecodable character shown as an escape.

    ``\\x1b`` for a control byte, ``\\u202e`` for a bidi override, ``\\xff`` for a byte that is not UTF-8 (Python
    hands such names over as lone surrogates). Printable text, accents and emoji pass unchanged, so the usual name
    reads as it is; a name already made safe stays the same.
    """
    text = os.fsdecode(value) if isinstance(value, bytes | os.PathLike) else str(value)
    if text.isprintable() and text.isascii():  # the common case, fast
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch not in _JOINERS and unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)
