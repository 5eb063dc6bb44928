"""AppTest of the Tuning lab's disputes set: unreviewed disputed pairs shown, a reviewer confirms or flips one."""

from __future__ import annotations

from pathlib import Path

from page_helpers import open_page, texts

from vision.lab.data import open_folder
from vision.service.habits import habit_owner
from vision.store import LocalReferenceStore
from vision.store.disputes import disputes_of
from vision.store.history import history_log

HABITS = Path(__file__).resolve().parents[2] / "samples" / "habits"


def test_disputes_review_widget(store_dir: Path) -> None:
    store = LocalReferenceStore(store_dir)
    owner = habit_owner("kim", "facade")
    log = history_log(store)
    ref, proof = (HABITS / "facade_day.jpg").read_bytes(), (HABITS / "facade_night_proof.jpg").read_bytes()
    ids = []
    for claim in ("same", "different"):
        entry = log.append(owner, {"message": "You took wrong picture", "result": False}, proof)
        log.put(owner, type(entry)(entry.entry_id, entry.created_at, {**entry.data, "dispute": {"claim": claim}}))
        disputes_of(store).add(owner, entry.entry_id, claim, ref, proof)
        ids.append(entry.entry_id)
    at = open_page("pages/tune.py")
    at.radio(key="tune_source").set_value("Disputes").run()
    assert not at.exception, at.exception
    assert "2 disputed pairs, 2 awaiting review" in texts(at)
    assert "disputes: 2 pairs, 1 same / 1 different" in texts(at)
    at.selectbox(key="dispute_pick").set_value(ids[1]).run()
    at.button(key="dispute_flip").click().run()  # 'different' was wrong: label 1
    assert not at.exception, at.exception
    assert "2 disputed pairs, 1 awaiting review" in texts(at)
    assert at.selectbox(key="dispute_pick").options == [ids[0]]
    pairs = {p.query: p for p in open_folder(disputes_of(store).materialise()).pairs}
    flipped = pairs[f"{owner}/{ids[1]}_proof.jpg"]
    assert (flipped.label, flipped.reviewed) == (1, True)
    assert pairs[f"{owner}/{ids[0]}_proof.jpg"].reviewed is False
    assert log.get(owner, ids[1]).data["dispute"]["reviewed"] is True  # type: ignore[union-attr]
    at.button(key="dispute_confirm").click().run()
    assert "2 disputed pairs, 0 awaiting review" in texts(at)
