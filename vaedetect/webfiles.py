"""Every file the web app writes lives under one folder it owns, and none of it outlives the app.

Visitors' uploads, their reports (the JSON holds their face crops), the pictures Gradio serves and the example cache
all go under one run folder, which ``app.main`` hands to Gradio as ``GRADIO_TEMP_DIR`` (and
``GRADIO_EXAMPLES_CACHE``) before anything is built::

    BASE/                   VAEDETECT_TEMP_DIR, default <system temp>/vaedetect-app (private to this user)
      run-<token>/          this process's files
      run-<token>.lock      held (flock) while this process runs

* :meth:`AppFiles.claim` first removes every run folder whose lock nobody holds: what an earlier process left when it
  was killed outright (SIGKILL, a crash, a power cut).
* :meth:`AppFiles.sweep` (every minute, :meth:`AppFiles.start_janitor`) deletes any file older than the app's cache
  age that the app does not keep on purpose (the example copies, an upload being analysed), whoever wrote it and
  whether or not Gradio tracks it.
* :func:`stop_signals` turns SIGTERM (what ``kill``, systemd, Docker and Spaces send) into the same
  ``KeyboardInterrupt`` as Ctrl-C, so both, and a normal exit, end in :meth:`AppFiles.close`, which deletes the run
  folder and its lock.

Only the web app uses this; the library never writes outside the paths it is given.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from vaedetect import settings

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks, so no sweep of other runs
    fcntl = None  # type: ignore[assignment]

__all__ = ["AppFiles", "default_base", "stop_signals", "sweep_leftovers"]

log = logging.getLogger("vaedetect.webfiles")

RUN_PREFIX = "run-"
LOCK_SUFFIX = ".lock"
EXAMPLES_CACHE_NAME = "examples-cache"
JANITOR_PERIOD_S = 60.0
# Gradio modules that read GRADIO_TEMP_DIR once, when imported (app.py imports Gradio before main() runs): every
# launch makes a folder there, and the screen-recorder and MCP routes would write there.
_IMPORT_TIME_TEMP_DIRS = ("gradio.route_utils", "gradio.routes", "gradio.screen_recording_utils", "gradio.mcp")


def default_base() -> Path:
    """``VAEDETECT_TEMP_DIR``, else ``vaedetect-app`` in the system's temp folder."""
    return Path(settings.temp_dir() or Path(tempfile.gettempdir()) / "vaedetect-app")


def _own_private_dir(path: Path) -> bool:
    """A real folder (not a link) of this user: nobody else can have placed or read what is in it."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and (not hasattr(os, "getuid") or st.st_uid == os.getuid())


def _try_lock(fd: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def _base_locked(base: Path) -> Iterator[None]:
    """One process at a time creates or sweeps runs in ``base`` (a lock on the folder itself: nothing left behind)."""
    if fcntl is None:
        yield
        return
    fd = os.open(base, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def sweep_leftovers(base: Path) -> list[Path]:
    """Delete the run folders in ``base`` whose process is gone (its lock is free, or it has none); returns them.

    Call with the base locked. Entries that are not runs are left alone: the sweep deletes only what this module made.
    """
    removed: list[Path] = []
    if fcntl is None:
        return removed
    for entry in sorted(base.iterdir()):
        if not entry.name.startswith(RUN_PREFIX):
            continue
        if entry.name.endswith(LOCK_SUFFIX):
            try:
                fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                continue
            try:
                if not _try_lock(fd):  # its process still runs
                    continue
                run = entry.with_name(entry.name[: -len(LOCK_SUFFIX)])
                shutil.rmtree(run, ignore_errors=True)
                entry.unlink(missing_ok=True)
                removed.append(run)
            finally:
                os.close(fd)
        elif entry.is_dir() and not entry.is_symlink() and not entry.with_name(entry.name + LOCK_SUFFIX).exists():
            shutil.rmtree(entry, ignore_errors=True)  # a run whose lock is gone: never reused, never valid
            removed.append(entry)
    return removed


class AppFiles:
    """This process's run folder: made by :meth:`claim`, swept by the janitor, deleted by :meth:`close`."""

    def __init__(self, base: Path, root: Path, lock_fd: int | None) -> None:
        self.base = base
        self.root = root
        self.examples_cache = root / EXAMPLES_CACHE_NAME
        self._lock_fd = lock_fd
        self._env_before: dict[str, str | None] = {}
        self._modules_before: dict[str, Any] = {}
        self._stop = threading.Event()
        self._janitor: threading.Thread | None = None
        self._closed = False
        atexit.register(self.close)

    @classmethod
    def claim(cls, base: Path | None = None) -> AppFiles:
        """Sweep what earlier processes left in ``base``, then make and lock a run folder for this one.

        A base that is not a private folder of this user (another user made it, or it is a link) is not used: the
        run then lives in a fresh private temp folder, and nothing of anyone else's is swept.
        """
        base = Path(base or default_base())
        with contextlib.suppress(OSError):
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _own_private_dir(base):
            log.warning("%s is not a private folder of this user; using a fresh temp folder instead", base)
            base = Path(tempfile.mkdtemp(prefix="vaedetect-app-"))
        with _base_locked(base):
            for run in sweep_leftovers(base):
                log.info("removed files an earlier app process left: %s", run.name)
            token = secrets.token_hex(8)
            root = base / f"{RUN_PREFIX}{token}"
            lock_fd = None
            if fcntl is not None:
                lock_fd = os.open(base / f"{root.name}{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                _try_lock(lock_fd)
            root.mkdir(mode=0o700)
        return cls(base, root, lock_fd)

    def export(self) -> None:
        """Point Gradio at the run folder: uploads, served files and the example cache. Call before building the app
        (Gradio's components read the folder when they are made)."""
        values = {"GRADIO_TEMP_DIR": str(self.root), "GRADIO_EXAMPLES_CACHE": str(self.examples_cache)}
        for key, value in values.items():
            self._env_before.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        for name in _IMPORT_TIME_TEMP_DIRS:
            module = sys.modules.get(name)  # one imported later reads the variable set above
            if module is not None and hasattr(module, "DEFAULT_TEMP_DIR"):
                self._modules_before.setdefault(name, module.DEFAULT_TEMP_DIR)
                module.DEFAULT_TEMP_DIR = str(self.root)

    def sweep(self, max_age_s: float, keep: Callable[[Path], bool] = lambda _p: False) -> list[Path]:
        """Delete files older than ``max_age_s`` that ``keep`` does not claim, then the folders this left empty (or
        that are empty and as old); returns the files deleted. Whoever wrote a file (the app, Gradio, a request the
        guard did not foresee), it goes."""
        now = time.time()
        removed: list[Path] = []
        emptied: set[Path] = set()  # folders this sweep took something out of (their mtime is now)
        for folder, dirs, files in os.walk(self.root, topdown=False):
            here = Path(folder)
            if here == self.examples_cache or self.examples_cache in here.parents:
                continue  # the cached example verdicts: made once per process, on purpose
            for name in files:
                path = here / name
                try:
                    if now - os.lstat(path).st_mtime > max_age_s and not keep(path):
                        path.unlink()
                        removed.append(path)
                        emptied.add(here)
                except OSError:
                    continue
            for name in dirs:
                sub = here / name
                with contextlib.suppress(OSError):
                    if sub in emptied or now - os.lstat(sub).st_mtime > max_age_s:
                        sub.rmdir()  # only when empty
                        emptied.add(here)
        return removed

    def start_janitor(self, max_age_s: float, keep: Callable[[Path], bool], period_s: float = JANITOR_PERIOD_S) -> None:
        """Run :meth:`sweep` every ``period_s`` in a daemon thread until :meth:`close`."""

        def loop() -> None:
            while not self._stop.wait(period_s):
                try:
                    self.sweep(max_age_s, keep)
                except Exception:  # the janitor must never take the app down
                    log.exception("sweeping %s failed", self.root)

        self._janitor = threading.Thread(target=loop, name="vaedetect-janitor", daemon=True)
        self._janitor.start()

    def close(self) -> None:
        """Delete the run folder and its lock, and give the environment back. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        shutil.rmtree(self.root, ignore_errors=True)
        if self._lock_fd is not None:
            (self.base / f"{self.root.name}{LOCK_SUFFIX}").unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None
        for key, value in self._env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for name, value in self._modules_before.items():
            sys.modules[name].DEFAULT_TEMP_DIR = value
        atexit.unregister(self.close)

    def __enter__(self) -> AppFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM and SIGINT both raise ``KeyboardInterrupt`` in the main thread, once: the same clean stop for
    ``kill``/Docker/Spaces as for Ctrl-C. Later signals are ignored so they cannot cut the cleanup short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt(signal.Signals(signum).name)

    before: dict[signal.Signals, Any] = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
