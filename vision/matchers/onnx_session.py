"""The ONNX sessions of the learned matchers (XFeat, LighterGlue, ALIKED, LightGlue): one way to open them."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=8)
def cpu_session(model_path: Path) -> Any:
    """An onnxruntime CPU session of ``model_path``, opened once per path (on first use).

    Two intra-op threads: the target machine has two cores, and one more thread only adds contention.
    """
    import onnxruntime as ort  # lazy: only a flow that needs a learned matcher pays the import

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
