"""Tests for vision.tagging.base: normalisation, data types and the contract verdict."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeTagger

from vision.core.errors import VisionError
from vision.tagging.base import Concept, Tagger, TaggerError, normalise_tag, tag_verdict

IMAGE = np.zeros((8, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Dogs", "dog"),
        ("dog", "dog"),
        ("  CAT  ", "cat"),
        ("boxes", "box"),
        ("bus", "bus"),
        ("buses", "bus"),
        ("glass", "glass"),
        ("glasses", "glass"),
        ("puppies", "puppy"),
        ("cookies", "cookie"),
        ("ties", "tie"),
        ("watches", "watch"),
        ("dishes", "dish"),
        ("shoes", "shoe"),
        ("potatoes", "potato"),
        ("coffee  Mugs", "coffee mug"),
        ("Shih-Tzu", "shih tzu"),
        ("hot_dogs", "hot dog"),
        ("cactus", "cactus"),
        ("ibis", "ibis"),
        ("news", "news"),
        ("people", "person"),
        ("knives", "knife"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalise_tag(word, expected):
    assert normalise_tag(word) == expected


def test_normalise_is_idempotent_on_singulars():
    for word in ("dog", "box", "bus", "glass", "coffee mug", "puppy", "cookie"):
        assert normalise_tag(normalise_tag(word)) == normalise_tag(word)


def test_tagger_error_carries_cause_and_is_a_vision_error():
    err = TaggerError("quota exceeded")
    assert isinstance(err, VisionError)
    assert err.cause == "quota exceeded"
    assert str(err) == "quota exceeded"


def test_fake_tagger_satisfies_protocol():
    assert isinstance(FakeTagger([]), Tagger)


def test_concept_to_dict_rounds():
    assert Concept("dog", 0.123456).to_dict() == {"name": "dog", "score": 0.1235}


@pytest.mark.parametrize("tag", [None, "", "   ", "\t\n"])
def test_verdict_no_tag(tag):
    verdict = tag_verdict(FakeTagger([Concept("dog", 0.9)]), IMAGE, tag, 0.2)
    assert verdict.body() == {"status": 400, "message": "No Tag", "result": False}


def test_verdict_fault_carries_cause():
    tagger = FakeTagger([], TaggerError("authentication failed: CONN_KEY_INVALID (11102)"))
    verdict = tag_verdict(tagger, IMAGE, "dog", 0.2)
    assert verdict.body() == {"status": 500, "message": "Clarifai Api Fault", "result": False}
    assert "CONN_KEY_INVALID" in verdict.reason


def test_verdict_matched_names_concept_and_score():
    found = [Concept(f"c{i}", 0.01) for i in range(6)] + [Concept("Dog", 0.87)]
    found.sort(key=lambda c: -c.score)
    verdict = tag_verdict(FakeTagger(found), IMAGE, " dogs ", 0.5)
    assert verdict.body() == {"status": 200, "message": "Matched", "result": True}
    assert "Dog" in verdict.reason and "0.87" in verdict.reason
    assert verdict.extra["concepts"][0] == {"name": "Dog", "score": 0.87}
    assert len(verdict.extra["concepts"]) == 5
    assert verdict.extra["concept"] == "Dog" and verdict.extra["score"] == 0.87


def test_verdict_not_matched_below_threshold():
    verdict = tag_verdict(FakeTagger([Concept("dog", 0.3)]), IMAGE, "dog", 0.5)
    assert verdict.body() == {"status": 200, "message": "Not Matched", "result": False}
    assert "0.30" in verdict.reason and "0.50" in verdict.reason


def test_verdict_not_matched_unknown_concept_names_top_concept():
    verdict = tag_verdict(FakeTagger([Concept("cat", 0.9)]), IMAGE, "dog", 0.2)
    assert verdict.result is False and verdict.status == 200
    assert "no concept matches 'dog'" in verdict.reason and "cat 0.90" in verdict.reason
    assert verdict.extra["concept"] is None


def test_verdict_to_json_keeps_contract_body():
    verdict = tag_verdict(FakeTagger([Concept("dog", 0.9)]), IMAGE, "dog", 0.2)
    body = verdict.to_json()
    assert body["status"] == 200 and body["message"] == "Matched" and body["result"] is True
    assert body["concepts"] == [{"name": "dog", "score": 0.9}]
