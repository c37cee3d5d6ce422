"""Hardening of the public web app: which files a request may make us read, and what the server lets in and out.

The app runs as a public Space and on journalists' own machines, next to confidential files. Gradio checks the file
values its own components send, but the named API endpoint, URL file values and a few routes open other doors, so
everything here sits in front of Gradio (an ASGI middleware) or at the entry of the analysis handlers:

* :func:`checked_upload`: a handler only ever analyses a regular file whose real path (symlinks resolved) lies inside
  Gradio's upload folder; anything else gets one generic message (:data:`UPLOAD_REFUSED`) that says nothing about
  what exists at the path.
* :class:`UploadLeases`: an upload analysed by two requests at once is deleted when the last one ends.
* :class:`WebGuard`: uploads are taken here, not by Gradio's route: one file under the field ``files`` per request,
  under a ``Content-Length`` cap, in a folder of its own; anything else in the request is refused and nothing of it
  stays on disk. No URL file values and no ``file=http…``/``proxy=`` routes (they make the server connect out), no
  monitoring, run-history or deep-link routes, a Host check for loopback connections (DNS rebinding) and security
  headers on every response.

The app wires it in with :func:`middleware` (``launch(app_kwargs=...)``); the library never imports it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

from vaedetect.errors import InputError

__all__ = [
    "UPLOAD_GONE",
    "UPLOAD_REFUSED",
    "UploadLeases",
    "WebGuard",
    "checked_upload",
    "find_url_value",
    "host_allowed",
    "is_file_value",
    "middleware",
    "security_headers",
    "upload_root",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_REFUSED = "Only a file uploaded to this page can be analysed. Please upload the video or photo again."
UPLOAD_ONE_FILE = "Upload one file per request, as the form field 'files'."
UPLOAD_GONE = (
    "This upload is no longer on the server (files are deleted after each analysis for privacy). "
    "Please upload it again."
)
API_PREFIX = "/gradio_api"
MAX_JSON_BODY_BYTES = 1024 * 1024  # an API call carries file paths, never file contents
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the one file of an upload request
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Hugging Face shows a Space inside an iframe on huggingface.co; no other site may frame the app. X-Frame-Options is
# not sent: it cannot name huggingface.co, and browsers that know frame-ancestors ignore it.
FRAME_ANCESTORS = "'self' https://huggingface.co https://*.hf.space"

# A scheme ("http:", "data:", "file:") or a network path ("//host", "\\\\host"): never a Gradio upload path.
_URL_LIKE = re.compile(r"^\s*(?:[a-z][a-z0-9+.\-]+:|//|\\\\)", re.IGNORECASE)
_FILE_META = {"_type": "gradio.FileData"}
# Routes refused outright: fetching or proxying URLs, traffic monitoring, the run history (it can talk to the Hub),
# the settings screen recorder's post-processing (it hands any upload to the ffmpeg command line, whose demuxers are
# not restricted; the video widget's webcam uploads through /upload), deep links (each call writes a state file
# nothing deletes; the app has no deep-link button), and CSV files (the example cache's log.csv: the app never
# serves one).
_REFUSED_ROUTE = re.compile(
    r"/(?:file=\s*(?:[a-z][a-z0-9+.\-]+:|//|\\\\)|file=.*\.csv\s*$|proxy=|monitoring(?:/|$)|runs/?$|run-history/"
    r"|process_recording|deep_link)",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------------------------------------------
# Upload values at the handlers
# ---------------------------------------------------------------------------------------------------------------


def upload_root() -> Path:
    """Gradio's upload/cache folder (``GRADIO_TEMP_DIR``), symlinks resolved; read per call as tests change it."""
    from gradio.utils import get_upload_folder

    return Path(os.path.realpath(get_upload_folder()))


def is_file_value(value: Any) -> bool:
    """Whether an API value is a Gradio file value (``FileData`` or its dict with Gradio's ``meta``).

    Gradio checks that such a value's path is an upload; a plain string or a dict without ``meta`` skips that check,
    so the API refuses them outright.
    """
    if isinstance(value, dict):
        meta, path = value.get("meta"), value.get("path")
    else:
        meta, path = getattr(value, "meta", None), getattr(value, "path", None)
    meta = meta.model_dump() if hasattr(meta, "model_dump") else meta
    return isinstance(path, str) and isinstance(meta, dict) and meta.get("_type") == _FILE_META["_type"]


def checked_upload(path: str | os.PathLike[str], root: Path | None = None) -> Path:
    """The real path of an upload, or :class:`InputError`: a regular file inside Gradio's upload folder only.

    Everything else (a server path, a folder, a symlink out of the folder, ``/proc/self/fd/N``, a URL) gets the one
    message :data:`UPLOAD_REFUSED`, so an outsider learns nothing about what exists where; only a path inside the
    upload folder that is gone gets :data:`UPLOAD_GONE` (the usual case: Analyze pressed twice). Nothing is opened.
    """
    root = upload_root() if root is None else root
    raw = os.fspath(path)
    if not raw or "\x00" in raw or _URL_LIKE.match(raw) or not os.path.isabs(raw):
        raise InputError(UPLOAD_REFUSED, code="not_an_upload")
    real = Path(os.path.realpath(raw))
    if real == root or not real.is_relative_to(root):
        raise InputError(UPLOAD_REFUSED, code="not_an_upload")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise InputError(UPLOAD_GONE, code="not_found") from None
    except OSError:
        raise InputError(UPLOAD_REFUSED, code="not_an_upload") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(UPLOAD_REFUSED, code="not_an_upload")
    return real


class UploadLeases:
    """How many analyses use each upload right now, so the file is deleted when the last of them ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: Counter[str] = Counter()

    def acquire(self, path: str | os.PathLike[str]) -> None:
        with self._lock:
            self._count[os.fspath(path)] += 1

    def release(self, path: str | os.PathLike[str]) -> bool:
        """Drop one use; True when none is left (the caller deletes the file then)."""
        key = os.fspath(path)
        with self._lock:
            self._count[key] -= 1
            if self._count[key] > 0:
                return False
            del self._count[key]
            return True

    def in_use(self, path: str | os.PathLike[str]) -> bool:
        with self._lock:
            return self._count[os.fspath(path)] > 0


# ---------------------------------------------------------------------------------------------------------------
# Request policy (pure functions, tested alone)
# ---------------------------------------------------------------------------------------------------------------


def find_url_value(data: Any) -> str | None:
    """The first URL-like string in a JSON request body where a file location could be, else None.

    A file value whose ``path`` is a URL makes Gradio download it, and a ``data:`` URL beside a path makes it decode
    and store one. The ``http`` URL a browser sends beside an uploaded file's ``path`` is only used for display and is
    allowed. Names are data, never locations: a file value's ``orig_name`` (``Interview:Smith.mp4``) is not looked at.
    """
    if isinstance(data, str):
        return data if _URL_LIKE.match(data) else None
    if isinstance(data, dict):
        has_path = isinstance(data.get("path"), str)
        for key, value in data.items():
            if key == "orig_name" and isinstance(value, str):
                continue
            if key == "url" and has_path and not (isinstance(value, str) and _is_data_url(value)):
                continue  # the browser's display link beside an upload's path
            found = find_url_value(value)
            if found is not None:
                return found
        return None
    if isinstance(data, list):
        for value in data:
            found = find_url_value(value)
            if found is not None:
                return found
    return None


def _is_data_url(text: str) -> bool:
    return text.lstrip().lower().startswith("data:")


def host_allowed(host_header: str | None, local_address: str | None, extra_hosts: Iterable[str] = ()) -> bool:
    """Whether a request's ``Host`` may be served: only loopback names on a loopback connection.

    A web page can point its own domain at 127.0.0.1 (DNS rebinding) and then read a local app as if same-origin;
    its requests still carry that domain as ``Host``. Connections on other addresses (a Space behind its proxy, a
    LAN address) are not checked: there the Host header says nothing the network does not.
    """
    if local_address is None or not _is_loopback(local_address):
        return True
    host = (host_header or "").strip().lower()
    if host.startswith("["):  # [::1]:7860
        name = host[1 : host.find("]")] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in LOOPBACK_HOSTS or name in {h.strip().lower() for h in extra_hosts if h.strip()}


def _is_loopback(address: str) -> bool:
    return address in ("::1", "localhost") or address.startswith("127.") or address.startswith("::ffff:127.")


def security_headers() -> list[tuple[bytes, bytes]]:
    """Headers added to every response: no MIME sniffing of served files, framing only by the app itself and by
    Hugging Face (which shows a Space in an iframe), no referrer sent to other sites."""
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", f"frame-ancestors {FRAME_ANCESTORS}; object-src 'none'; base-uri 'self'".encode()),
        (b"referrer-policy", b"no-referrer"),
    ]


# ---------------------------------------------------------------------------------------------------------------
# The middleware
# ---------------------------------------------------------------------------------------------------------------


class WebGuard:
    """Pure ASGI middleware in front of Gradio's routes (pure, not ``BaseHTTPMiddleware``: queue events stream)."""

    def __init__(self, app: ASGIApp, *, max_upload_bytes: int, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.max_upload_bytes = int(max_upload_bytes)
        self.allowed_hosts = tuple(allowed_hosts) + tuple(
            h for h in os.environ.get("VAEDETECT_ALLOWED_HOSTS", "").split(",") if h.strip()
        )
        self._check_host = not os.environ.get("SPACE_ID")  # a Space is reached through Hugging Face's proxy only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket" and not self._host_ok(scope):
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        send = _with_headers(send, security_headers())
        if not self._host_ok(scope):
            await _reply(send, 421, "This server only answers on its local address (127.0.0.1 or localhost).")
            return
        path = scope.get("path", "")
        if _REFUSED_ROUTE.search(path):
            await _reply(send, 403, "Not allowed.")
            return
        if scope.get("method") == "POST" and path.rstrip("/").endswith(f"{API_PREFIX}/upload"):
            await self._upload(scope, receive, send)
            return
        if scope.get("method") == "POST" and path.startswith(f"{API_PREFIX}/") and _is_json(scope):
            await self._json_call(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _host_ok(self, scope: Scope) -> bool:
        if not self._check_host:
            return True
        server = scope.get("server") or (None, None)
        return host_allowed(_header(scope, b"host"), server[0], self.allowed_hosts)

    async def _json_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        """API calls and queue joins: refuse URL file values before Gradio would download them."""
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_JSON_BODY_BYTES:
                await _reply(send, 413, "Request too large.")
                return
            if not message.get("more_body", False):
                break
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None  # Gradio answers malformed JSON itself
        if find_url_value(data) is not None:
            await _reply(send, 400, "Files must be uploaded; URLs are not fetched.")
            return
        await self.app(scope, _replay(body, receive), send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One file under the field ``files``, under the size cap, stored in a folder of its own; nothing else stays.

        The upload never reaches Gradio's own route: that one writes every file part of a request into the shared
        upload folder and keeps only those under ``files`` (an extra part stayed on disk, untracked, forever), and
        names folders by content (two visitors with the same clip would share one file, and the first analysis to
        end would delete the other's). Here Gradio's own multipart parser writes into a fresh folder, and that folder
        goes as a whole whenever the request does not end in exactly one stored file: a second file, a text field,
        a part under another name, a malformed body, a disconnect.
        """
        declared = _header(scope, b"content-length")
        if declared is None or not declared.isdigit():
            await _reply(send, 411, "Uploads need a Content-Length.")
            return
        if int(declared) > self.max_upload_bytes + MULTIPART_OVERHEAD_BYTES:
            await _reply(send, 413, "This file is larger than the upload limit.")
            return
        if (_header(scope, b"content-type") or "").split(";")[0].strip().lower() != "multipart/form-data":
            await _reply(send, 400, UPLOAD_ONE_FILE)
            return
        from gradio.route_utils import GradioMultiPartParser, MultiPartException
        from gradio.routes import file_upload_statuses
        from starlette.datastructures import UploadFile
        from starlette.requests import ClientDisconnect, Request

        request = Request(scope, _capped(receive, int(declared)))
        upload_id = request.query_params.get("upload_id")
        root = upload_root()
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = root / f"upload-{secrets.token_hex(16)}"
        folder.mkdir(mode=0o700)
        stored: str | None = None
        refusal: tuple[int, str] | None = None  # answered once the folder is gone, so a refusal means "nothing kept"
        try:
            form = await GradioMultiPartParser(
                request.headers,
                request.stream(),
                max_files=1,
                max_fields=0,  # a text part, under any name, is refused as it arrives
                upload_dir=str(folder),
                max_file_size=self.max_upload_bytes,
                upload_id=upload_id,
                upload_progress=file_upload_statuses if upload_id else None,
            ).parse()
            items = form.multi_items()
            if len(items) == 1 and items[0][0] == "files" and isinstance(items[0][1], UploadFile):
                part = items[0][1]
                part.file.close()
                dest = folder / _stored_name(part.filename)
                os.rename(part.file.name, dest)
                stored = str(dest)
            else:
                refusal = (400, UPLOAD_ONE_FILE)
        except MultiPartException as exc:  # Gradio's parser has deleted what it wrote; the folder goes below
            if exc.message.startswith("File size exceeded"):
                refusal = (413, "This file is larger than the upload limit.")
            elif exc.message.startswith("Too many"):  # a second file, or a text part
                refusal = (400, UPLOAD_ONE_FILE)
            else:
                refusal = (400, "This upload could not be read. Please upload the file again.")
        except ClientDisconnect:
            pass
        finally:
            if stored is None:
                shutil.rmtree(folder, ignore_errors=True)
        if stored is None:
            if refusal is not None:
                await _reply(send, *refusal)
            return
        tracked = getattr(_blocks(scope), "upload_file_set", None)
        if isinstance(tracked, set):  # delete_cache sweeps the uploads it tracks
            tracked.add(stored)
        await _reply(send, 200, json.dumps([stored]), content_type=b"application/json")


def _stored_name(filename: str | None) -> str:
    """The upload's file name on disk: Gradio's rule for safe names, never a path or a dot name."""
    from gradio_client.utils import strip_invalid_filename_characters

    name = strip_invalid_filename_characters(Path(filename or "").name) if filename else ""
    return name if name and name not in (".", "..") else "upload"


def middleware(max_upload_bytes: int) -> list[Any]:
    """The guard as FastAPI ``middleware=`` for ``launch(app_kwargs=...)``; Gradio adds its own around it."""
    from starlette.middleware import Middleware

    return [Middleware(WebGuard, max_upload_bytes=max_upload_bytes)]


# ---------------------------------------------------------------------------------------------------------------
# ASGI helpers
# ---------------------------------------------------------------------------------------------------------------


def _blocks(scope: Scope) -> Any:
    """The Gradio Blocks behind this request (Starlette puts the app in the scope), or None."""
    get_blocks = getattr(scope.get("app"), "get_blocks", None)
    try:
        return get_blocks() if callable(get_blocks) else None
    except Exception:
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _is_json(scope: Scope) -> bool:
    return (_header(scope, b"content-type") or "").split(";")[0].strip().lower() == "application/json"


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    names = {k for k, _ in extra}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
            message = dict(message, headers=headers + extra)
        await send(message)

    return wrapped


async def _reply(send: Send, status: int, text: str, content_type: bytes = b"text/plain; charset=utf-8") -> None:
    body = text.encode()
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body over once, then waits on the real one (for a disconnect)."""
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped


def _capped(receive: Receive, limit: int) -> Receive:
    """A receive that ends the request (as a disconnect) once more bytes arrive than were declared."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return wrapped
