"""Where the work of a run goes: a worker pool, and progress reports.

:func:`parallel` maps a function over items and reports each completion in
the caller's thread (for a progress bar or a Streamlit placeholder).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_WORKERS = 2


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


def parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    stage: tuple[str, int, int],
    on_progress: ProgressFn | None,
) -> list[R]:
    """``[fn(x) for x in items]`` in a thread pool, reporting each completion in the caller's thread."""
    results: list[Any] = [None] * len(items)
    start = time.perf_counter()
    name, index, n_stages = stage
    if on_progress:
        on_progress(Progress(name, index, n_stages, 0, len(items), 0.0))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
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
