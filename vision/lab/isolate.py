"""One pair's failure stays that pair's: the engine reports it under ``failed`` and scores the rest.

A labelled set of a thousand pairs takes minutes to score; one pair whose
scoring raises (an OpenCV assertion on degenerate matches, a model that
refuses an odd image) must not throw the whole run away.  The engine's
per-pair steps run through these wrappers: a raised :class:`Exception`
becomes a short, one-line reason (the pair is then unusable, never
accepted), logged with its traceback for whoever debugs it.
``KeyboardInterrupt`` and ``SystemExit`` still stop the run.

The wrappers are module-level functions, so :func:`functools.partial` of
them pickles to a process pool or a Dask worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from vision.core.logsafe import safe_text

T = TypeVar("T")
R = TypeVar("R")

_LOG = logging.getLogger(__name__)

REASON_CAP = 200
"""Characters of an exception's text kept in a reason."""


def failure_reason(stage: str, exc: BaseException) -> str:
    """``"<stage> failed: <Type>: <first line of the message>"``, one printable line, capped."""
    lines = str(exc).strip().splitlines()
    # OpenCV's text is "OpenCV(4.x) path:line: error: (-215:...) what": its last line says what failed.
    text = lines[-1] if lines else ""
    return f"{stage} failed: {type(exc).__name__}: {safe_text(text, REASON_CAP)}"


def guarded(fn: Callable[[T], R], item: T, stage: str = "scoring") -> R | str:
    """``fn(item)``, or the reason it raised (:func:`failure_reason`) as a ``str``.

    For steps whose result is already ``value | str`` (the engine's
    ``PairMatch | str``: a string says why the pair is unusable).
    """
    try:
        return fn(item)
    except Exception as exc:  # isolating any failure of one pair is the point
        _LOG.warning("%s failed for one pair", stage, exc_info=True)
        return failure_reason(stage, exc)


def isolated_score(
    scorer: Callable[..., tuple[float, str | None, float]], *args: Any, **kwargs: Any
) -> tuple[float, str | None, float]:
    """A rule's ``score_pair(...) -> (score, error or None, ms)``, with a raise turned into ``(nan, reason, nan)``.

    ``nan`` scores are never accepted; the reason lands in the report's ``failed``.
    """
    try:
        return scorer(*args, **kwargs)
    except Exception as exc:  # isolating any failure of one pair is the point
        _LOG.warning("scoring %s failed", args[-1] if args else "a pair", exc_info=True)
        return float("nan"), failure_reason("scoring", exc), float("nan")
