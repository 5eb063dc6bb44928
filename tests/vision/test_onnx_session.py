"""vision.matchers.onnx_session: one way to open the learned matchers' ONNX sessions."""

from __future__ import annotations

from vision.matchers import aliked, lighterglue, lightglue_aliked, xfeat
from vision.matchers.onnx_session import cpu_session


def test_every_learned_matcher_session_has_two_threads_that_sleep_between_runs() -> None:
    # Two verifications run at once in the API: spinning idle threads would take the cores from the other one.
    for model in (xfeat.MODEL_PATH, lighterglue.MODEL_PATH, aliked.MODEL_PATH, lightglue_aliked.MODEL_PATH):
        options = cpu_session(model).get_session_options()
        assert options.intra_op_num_threads == 2 and options.inter_op_num_threads == 1
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_a_session_is_opened_once_per_model() -> None:
    assert cpu_session(xfeat.MODEL_PATH) is cpu_session(xfeat.MODEL_PATH)
