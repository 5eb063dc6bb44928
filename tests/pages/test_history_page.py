"""AppTest of the History page: a habit's references and its verdicts, with a dispute."""

from __future__ import annotations

from page_helpers import open_page, texts

from vision.service.habits import habit_owner
from vision.store import LocalReferenceStore
from vision.store.history import history_log


def test_history_shows_verdicts_and_disputes(store_dir):
    log = history_log(LocalReferenceStore(store_dir))
    owner = habit_owner("bob", "desk")
    log.append(owner, {"message": "Complete", "result": True, "reason": "137 inliers", "numbers": {"inliers": 137}})
    log.append(
        owner,
        {
            "message": "You took wrong picture",
            "result": False,
            "reason": "0 inliers",
            "dispute": {"claim": "same", "label": 1, "reviewed": False},
        },
    )
    at = open_page("pages/history.py")
    at.text_input(key="history_user").set_value("bob").run()
    at.text_input(key="history_habit").set_value("desk").run()
    assert not at.exception, at.exception
    said = texts(at)
    assert "no reference photo yet" in said
    assert "Disputed: the user says 'same' (awaiting review)" in said
    labels = [e.label for e in at.expander]
    assert len(labels) == 2 and "You took wrong picture" in labels[0] and "Complete" in labels[1]
    at.button[0].click().run()  # the reviewer confirms the claim
    assert "Disputed: the user says 'same' (reviewed)" in texts(at)
    assert log.page(owner, 1)[0][0].data["dispute"]["reviewed"] is True
    at.text_input(key="history_habit").set_value("Not A Habit").run()
    assert "Cannot show this history" in texts(at)
