"""Pixel decoding in a small pool of worker processes, each decode under a wall-clock budget.

The decode budget (:mod:`vision.image.decode_budget`) bounds the work a
container promises, but not to the millisecond, and a thread cannot be killed
in Python: a decode that overran would keep its CPU slot (and its core) to
the end.  Here ``cv2.imdecode`` runs in a worker process; the caller waits at
most ``timeout_s`` for the pixels, and on overrun the worker is killed (its
core and memory are free at once), a replacement is started in the
background, and the caller gets :class:`DecodeTimeoutError`, an
:class:`~vision.core.errors.ImageTooComplexError` that the flows answer as any
other unusable photo.

Costs (``python -m bench.decode_pool``): the encoded bytes go to the worker
and the pixels come back over a pipe with ``send_bytes`` /
``recv_bytes_into`` (no pickling of the arrays, one copy each way), about a
millisecond per few megabytes; workers are started once (``forkserver``: the
server process is never forked with its threads, and a worker imports only
OpenCV and NumPy) and decode with one OpenCV thread each.  The worker's heap
is trimmed (``malloc_trim``) after every decode, so a large coefficient
buffer does not stay resident in it.

Install with :meth:`DecodePool.install` (the API does); the CLI and the
dashboard decode in process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from vision.core.errors import ImageTooComplexError, NotAnImageError
from vision.core.memory import release_memory

__all__ = ["DecodePool", "DecodeTimeoutError"]

log = logging.getLogger("vision.image")

# The worker's answer: ("ok", shape, dtype) then the pixel bytes; ("none",) when OpenCV could not decode.
_OK, _NONE = "ok", "none"


class DecodeTimeoutError(ImageTooComplexError):
    """A decode ran past the wall-clock budget (the worker decoding it was killed)."""


def _worker_main(conn: Connection) -> None:
    """A worker's loop: ``(flag, nbytes)`` then the encoded bytes in; the pixels (or ``none``) out; EOF ends it."""
    import cv2

    cv2.setNumThreads(1)  # the API bounds concurrent decodes by its worker count; one core each
    while True:
        try:
            flag = conn.recv()
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), int(flag))
        del data
        if pixels is None or pixels.size == 0:
            conn.send((_NONE,))
        else:
            conn.send((_OK, pixels.shape, pixels.dtype.str))
            conn.send_bytes(np.ascontiguousarray(pixels).data.cast("B"))
        del pixels
        release_memory()


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Connection

    def kill(self) -> None:
        """Kill the process (SIGKILL: a decode inside libjpeg does not look at signals) and reap it."""
        with contextlib.suppress(OSError):
            self.conn.close()
        self.process.kill()
        self.process.join(5)


class DecodePool:
    """``processes`` decode workers; :meth:`decode` gives one ``timeout_s`` to answer.

    Parameters
    ----------
    processes : int
        Worker processes (the API uses its CPU-gate size: decodes run inside the gate).
    timeout_s : float
        Wall-clock budget of one decode, from the moment a worker has the bytes.
    wait_s : float
        Longest wait for an idle worker (all busy, or one being replaced) before
        :class:`DecodeTimeoutError`; default ``timeout_s`` plus 2 s (a replacement starts in well under that).
    """

    def __init__(self, processes: int, timeout_s: float, wait_s: float | None = None) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.processes = processes
        self.timeout_s = timeout_s
        self.wait_s = timeout_s + 2.0 if wait_s is None else wait_s
        self._ctx = multiprocessing.get_context("forkserver")
        # Workers fork from a server that already imported OpenCV: a replacement starts in milliseconds.
        self._ctx.set_forkserver_preload(["cv2", "vision.image.decode_pool"])
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.killed = 0
        for _ in range(processes):
            self._idle.put(self._start())

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child,), daemon=True, name="vision-decode")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` and start its replacement on a background thread (the caller answers at once)."""
        with self._lock:
            self._all.discard(worker)
            self.killed += 1
        worker.kill()

        def start() -> None:
            if not self._closed:
                self._idle.put(self._start())

        threading.Thread(target=start, name="vision-decode-restart", daemon=True).start()

    def decode(self, data: bytes, flag: int) -> np.ndarray | None:
        """``cv2.imdecode(data, flag)`` in a worker: the pixels, or None when OpenCV cannot decode them.

        Raises
        ------
        DecodeTimeoutError
            No worker became idle within ``wait_s``, or the decode took longer than ``timeout_s``.
        NotAnImageError
            The worker died while decoding (killed for memory, a crash in a codec).
        """
        return self._run(data, flag, self.timeout_s)

    def _run(self, data: bytes, flag: int, timeout_s: float) -> np.ndarray | None:
        if self._closed:
            raise RuntimeError("the decode pool is closed")
        try:
            worker = self._idle.get(timeout=self.wait_s)
        except queue.Empty:
            raise DecodeTimeoutError(
                f"no decoder was free within {self.wait_s:g} s (server busy decoding); try again"
            ) from None
        try:
            worker.conn.send(int(flag))
            worker.conn.send_bytes(data)
            if not worker.conn.poll(timeout_s):
                log.warning("a decode ran past %g s: its worker (pid %s) is killed", timeout_s, worker.process.pid)
                self._replace(worker)
                raise DecodeTimeoutError(
                    f"the photo took longer than {timeout_s:g} s to decode, at most {timeout_s:g} s "
                    "(send a smaller or baseline JPEG)"
                )
            answer = worker.conn.recv()
            if answer[0] == _NONE:
                self._idle.put(worker)
                return None
            _, shape, dtype = answer
            pixels = np.empty(shape, dtype=np.dtype(dtype))
            worker.conn.recv_bytes_into(pixels.data.cast("B"))
        except (EOFError, OSError, BrokenPipeError):
            self._replace(worker)
            raise NotAnImageError("the photo could not be decoded (the decoder stopped)") from None
        self._idle.put(worker)
        return pixels

    def install(self) -> DecodePool:
        """Make :func:`vision.image.imageio.decode_image` decode through this pool (process-wide)."""
        from vision.image import imageio

        imageio.use_pixel_decoder(self.decode)
        return self

    def close(self) -> None:
        """Stop every worker (and, when installed, decode in process again)."""
        from vision.image import imageio

        self._closed = True
        if imageio.pixel_decoder() == self.decode:
            imageio.use_pixel_decoder(None)
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.kill()

    def warm_up(self, timeout_s: float = 30.0) -> None:
        """Decode a tiny probe on every worker (FIFO: each in turn), so the first requests pay no start-up."""
        import cv2

        probe = cv2.imencode(".png", np.zeros((16, 16, 3), np.uint8))[1].tobytes()
        for _ in range(self.processes):
            self._run(probe, int(cv2.IMREAD_COLOR), timeout_s)
