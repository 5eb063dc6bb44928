"""The ONNX sessions of the learned matchers (XFeat, LighterGlue, ALIKED, LightGlue): one way to open them."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=8)
def cpu_session(model_path: Path) -> Any:
    """An onnxruntime CPU session of ``model_path``, opened once per path (on first use).

    Two intra-op threads: the target machine has two cores, and one more thread only adds contention.
    The threads sleep between runs instead of spinning: the API runs two verifications at once (two CPU
    slots), and a session's idle threads busy-waiting after each run took the cores from the other
    verification's AKAZE and ONNX work.  80 real verifications of ``../shared/data`` on two threads
    (replay check off, interleaved runs): 27.0-30.4 s with spinning, 19.1-26.1 s without (CPU 53-60 s
    against 37-47 s); one at a time: 20.7-24.7 s against 20.1-21.5 s.  Outputs are unchanged.
    """
    import onnxruntime as ort  # lazy: only a flow that needs a learned matcher pays the import

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
