"""How an analysis shares the CPU: a few single-threaded tasks side by side, never thread pools inside thread pools.

Why: the machines this serves have two cores, often shared with a second analysis. Each library below brings its own
thread pool (torch's OpenMP, ONNX Runtime's, OpenCV's, FFmpeg's frame threads, MediaPipe's graph executors), and a
pool whose threads wait for each other at every operation slows down several-fold as soon as one of them loses its
core to someone else (bench/results/2026-12-06-speed.json: face VAE 0.55 s with one thread, 1.6 s with two, on a
busy machine). So every operation runs on one thread (:func:`configure`), and an analysis gets its parallelism from
tasks that do not wait for each other: decoding runs ahead of the face pass (:func:`prefetch`), and the evidence
networks run side by side (:func:`run_all`), then CLIP, its images spread over the lanes. The tasks of every analysis
in a process share one pool of :func:`lanes` threads, so two visitors at once still keep at most that many busy.
"""

from __future__ import annotations

import ctypes
import math
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

MAX_LANES = 2  # tasks an analysis runs at once: its work has two independent streams (picture / sound and CLIP)

_lock = threading.Lock()
_lanes = 1
_pool: ThreadPoolExecutor | None = None
_in_pool = threading.local()


def configure(threads: int | None = None) -> tuple[int, int]:
    """Use ``threads`` cores (default: all this process may use): :data:`MAX_LANES` tasks at once at most, each
    operation with the cores left per task (one on a two-core machine). Sets torch's, OpenCV's and ONNX Runtime's
    thread counts for the whole process (ONNX Runtime's for sessions not yet built). Returns (lanes, threads per
    operation)."""
    global _lanes, _pool
    cores = max(1, threads or _cores())
    lanes = min(MAX_LANES, cores)
    per_op = max(1, cores // lanes)
    import cv2
    import torch

    from vaedetect import pretrained

    torch.set_num_threads(per_op)
    cv2.setNumThreads(per_op)
    pretrained.THREADS = per_op
    _map_large_buffers()
    with _lock:
        if lanes != _lanes and _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None
        _lanes = lanes
    return lanes, per_op


MAP_ABOVE_BYTES = 4 << 20  # buffers at least this large are mapped on their own and unmapped when freed
KEEP_FREE_BYTES = 32 << 20  # free memory at the top of the heap kept for the next buffers rather than returned


def _map_large_buffers() -> None:
    """Give large freed buffers back to the system (glibc only; elsewhere nothing changes).

    glibc serves buffers up to its mapping threshold from its heap, and raises the threshold to the largest buffer
    freed so far (up to 32 MB): after one long clip, every later activation tensor, decoded minute and crop array of
    a few MB comes from the heap and stays resident when freed, so resident memory only grows with each stage of each
    analysis. A fixed threshold keeps them mapped and returns them when freed (bench/results/2026-12-06-speed.json:
    peak RSS over a 60 s clip). Fixing it also fixes the heap's trim threshold at 128 kB, which hands every freed
    decoded frame back to the system and faults it in again for the next one (a plain decode ran 50% slower), so that
    threshold is raised too.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, MAP_ABOVE_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, KEEP_FREE_BYTES)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt of this kind)
        pass


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def lanes() -> int:
    return _lanes


def _cores() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota (a container started with
    ``--cpus 2`` on a 32-core host sees every core in its affinity but gets two cores' time)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, _quota_cores(Path("/sys/fs/cgroup/cpu.max")) or n))


def _quota_cores(cpu_max: Path) -> int | None:
    """Cores' worth of CPU time a cgroup v2 ``cpu.max`` ("QUOTA PERIOD", or "max PERIOD") allows; None without one."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_lanes, thread_name_prefix="vaedetect", initializer=_mark_worker)
        return _pool


def _mark_worker() -> None:
    _in_pool.yes = True


def run_all(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``tasks`` (callables without arguments) on the shared lanes, the first ones first; their results in
    order. Every task runs to its end before the first exception (in task order) is raised. Inline, in order, with
    one lane, one task, or when called from a lane (a task never waits for a task)."""
    if len(tasks) <= 1 or _lanes <= 1 or getattr(_in_pool, "yes", False):
        return [t() for t in tasks]
    futures = [_executor().submit(t) for t in tasks]
    errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e
    return [f.result() for f in futures]


_DONE = object()


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Iterate ``items`` in a thread of its own, up to ``depth`` items ahead of the caller (decoding runs while the
    caller works on the previous frames). Exceptions reach the caller where the item would have; a caller that stops
    early (or fails) stops the thread, which closes ``items``. Plain iteration with one lane."""
    if _lanes <= 1:
        yield from items
        return
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for x in it:
                if not put((x, None)):
                    return
            put((_DONE, None))
        except BaseException as e:  # handed to the caller, raised there
            put((_DONE, e))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    t = threading.Thread(target=produce, name="vaedetect-decode", daemon=True)
    t.start()
    try:
        while True:
            x, err = q.get()
            if x is _DONE:
                if err is not None:
                    raise err
                return
            yield x
    finally:
        stop.set()
        t.join()
