"""The Demo's "sent again" photo: the reference resubmitted by a named transformation (vision.replay.transforms.resend)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ui.examples import SAMPLES_DIR, SENT_AGAIN
from vision.replay.transforms import resend

REF = SAMPLES_DIR / "images/vlfeat/roofs1.jpg"


def test_resend_is_a_new_encoding_of_the_same_photo_and_reproducible():
    data = REF.read_bytes()
    again = resend(data, SENT_AGAIN)
    assert again != data and again == resend(data, SENT_AGAIN)  # fixed seed: the same bytes every time
    shot = cv2.imdecode(np.frombuffer(again, np.uint8), cv2.IMREAD_COLOR)
    assert shot is not None and shot.shape[0] > shot.shape[1]  # a portrait phone screenshot


@pytest.mark.parametrize(("data", "how", "message"), [(b"x", "png", "does not decode"), (b"", "nope", "unknown")])
def test_resend_rejects_bad_input(data, how, message):
    with pytest.raises(ValueError, match=message):
        resend(data or REF.read_bytes(), how)
