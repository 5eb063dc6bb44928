"""Where the work of a run goes: threads, a local process pool, or a Dask cluster; and progress reports.

:func:`parallel` maps a function over items and reports each completion in
the caller's thread (for a progress bar or a Streamlit placeholder).  The
heavy stages of a run (features, the original rule) go to :class:`Workers`:
a process pool on this machine by default (kept warm between runs), or the
Dask cluster at ``scheduler`` (``tcp://HOST:8786``); the function and its
arguments must then be picklable (module-level functions of plain data).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_WORKERS = 2
#: Where heavy stages run: ``threads``, ``processes`` (default) or ``dask`` (with a scheduler address).
KINDS = ("threads", "processes", "dask")


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for a progress bar.

    Attributes
    ----------
    stage : str
        ``features``, ``matches``, ``original`` or ``geometry``.
    stage_index, n_stages : int
        1-based position of the stage among the run's stages.
    done, total : int
        Items of this stage finished and to do.
    elapsed_s : float
        Seconds since the stage began.
    """

    stage: str
    stage_index: int
    n_stages: int
    done: int
    total: int
    elapsed_s: float

    @property
    def fraction(self) -> float:
        """Overall fraction done, counting each stage as an equal share."""
        within = self.done / self.total if self.total else 1.0
        return min(1.0, (self.stage_index - 1 + within) / max(self.n_stages, 1))

    @property
    def eta_s(self) -> float:
        """Seconds left in this stage at the rate so far (``nan`` before the first item)."""
        if self.done == 0:
            return float("nan")
        return self.elapsed_s / self.done * (self.total - self.done)

    def text(self) -> str:
        """``features (1/3): 120/300, about 14 s left``."""
        eta = "" if math.isnan(self.eta_s) else f", about {self.eta_s:.0f} s left"
        return f"{self.stage} ({self.stage_index}/{self.n_stages}): {self.done}/{self.total}{eta}"


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class Workers:
    """Where a run's heavy stages go.

    Attributes
    ----------
    count : int
        Local threads or processes (ignored by Dask: the cluster has its own).
    kind : str
        ``threads``, ``processes`` or ``dask``; a ``scheduler`` means ``dask``.
    scheduler : str or None
        A Dask scheduler address, ``tcp://HOST:8786``.
    connect_timeout_s : float
        How long to try reaching the scheduler.
    """

    count: int = DEFAULT_WORKERS
    kind: str = "processes"
    scheduler: str | None = field(default=None)
    connect_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.scheduler is not None:
            object.__setattr__(self, "kind", "dask")
        if self.kind not in KINDS:
            raise ValueError(f"workers kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "dask" and not self.scheduler:
            raise ValueError("the dask kind needs a scheduler address (tcp://HOST:8786)")
        if self.count < 1:
            raise ValueError(f"workers must be >= 1, got {self.count}")


def lab_workers(settings: Mapping[str, str] | None = None) -> Workers:
    """The lab page's workers: the Dask cluster at ``VISION_DASK_SCHEDULER`` when set, else local processes.

    ``VISION_WORKERS`` (default: the CPU count) sizes the local pool.
    """
    from vision.core.settings import load_settings, number, text

    values = load_settings() if settings is None else settings
    count = number(values, "VISION_WORKERS", os.cpu_count() or DEFAULT_WORKERS, integer=True, minimum=1)
    return Workers(count, scheduler=text(values, "VISION_DASK_SCHEDULER"))


def as_workers(workers: int | Workers) -> Workers:
    """A plain count means that many local processes."""
    return workers if isinstance(workers, Workers) else Workers(int(workers))


def local_threads(workers: int | Workers) -> int:
    """Threads on this machine for the cheap stages (matching, geometry): the local count, 2 under Dask."""
    spec = as_workers(workers)
    return DEFAULT_WORKERS if spec.kind == "dask" else spec.count


_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _process_pool(count: int) -> ProcessPoolExecutor:
    """A warm pool of ``count`` processes, shared by every run of this process (spawned: safe beside threads)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(count)
        if pool is None:
            pool = ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"))
            _POOLS[count] = pool
        return pool


def parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int | Workers,
    stage: tuple[str, int, int],
    on_progress: ProgressFn | None,
) -> list[R]:
    """``[fn(x) for x in items]`` on ``workers``, reporting each completion in the caller's thread.

    A plain ``workers`` count runs threads (for cheap stages and closures);
    pass :class:`Workers` to use processes or Dask.
    """
    spec = workers if isinstance(workers, Workers) else Workers(int(workers), "threads")
    if spec.kind == "dask":
        return _parallel_dask(fn, items, spec, stage, on_progress)
    if spec.kind == "processes" and len(items) > 1:
        return _collect(_process_pool(spec.count), fn, items, stage, on_progress)
    with ThreadPoolExecutor(max_workers=spec.count) as threads:
        return _collect(threads, fn, items, stage, on_progress)


def _collect(
    executor: Executor,
    fn: Callable[[T], R],
    items: Sequence[T],
    stage: tuple[str, int, int],
    on_progress: ProgressFn | None,
) -> list[R]:
    results: list[Any] = [None] * len(items)
    start = time.perf_counter()
    name, index, n_stages = stage
    if on_progress:
        on_progress(Progress(name, index, n_stages, 0, len(items), 0.0))
    futures: dict[Future[R], int] = {executor.submit(fn, item): i for i, item in enumerate(items)}
    for done, future in enumerate(as_completed(futures), start=1):
        results[futures[future]] = future.result()
        if on_progress:
            on_progress(Progress(name, index, n_stages, done, len(items), time.perf_counter() - start))
    return results


def _parallel_dask(
    fn: Callable[[T], R],
    items: Sequence[T],
    spec: Workers,
    stage: tuple[str, int, int],
    on_progress: ProgressFn | None,
) -> list[R]:
    """The same on a Dask cluster: one task per item, results gathered as they complete."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    name, index, n_stages = stage
    start = time.perf_counter()
    if on_progress:
        on_progress(Progress(name, index, n_stages, 0, len(items), 0.0))
    results: list[Any] = [None] * len(items)
    try:
        client = Client(spec.scheduler, set_as_default=False, timeout=spec.connect_timeout_s)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler {str(spec.scheduler)[:200]!r}: {exc}") from None
    with client, client.as_current():  # as_completed finds the client as the current one
        futures = client.map(fn, list(items), pure=False)
        position = {f.key: i for i, f in enumerate(futures)}
        for done, future in enumerate(dask_completed(futures), start=1):
            results[position[future.key]] = future.result()
            if on_progress:
                on_progress(Progress(name, index, n_stages, done, len(items), time.perf_counter() - start))
    return results


def progress(items: Iterable[T], total: int, label: str, stream: TextIO | None = None) -> Iterator[T]:
    """Yield ``items`` while drawing a one-line progress bar with ETA on ``stream`` (stderr)."""
    stream = stream or sys.stderr
    start = time.perf_counter()
    done = 0
    for done, item in enumerate(items, start=1):
        yield item
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (total - done)
        bar = "#" * int(30 * done / max(total, 1))
        stream.write(f"\r{label} [{bar:<30}] {done}/{total} {elapsed:5.1f}s eta {eta:5.1f}s")
        stream.flush()
    stream.write("\n")
    stream.flush()


def stderr_progress(state: Progress) -> None:
    """A one-line progress report on stderr (the CLI's ``--quiet`` turns it off)."""
    end = "\n" if state.done == state.total else ""
    sys.stderr.write(f"\r{state.text():<70}{end}")
    sys.stderr.flush()
