"""Tests for choosing a tagging backend from settings."""

from __future__ import annotations

import pytest

from vision.tagging import TaggerError, clarifai_configured, tagger_from_settings
from vision.tagging.clarifai import ClarifaiTagger
from vision.tagging.local import LocalTagger


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, False),
        ({"CLARIFAI_PAT": ""}, False),
        ({"CLARIFAI_PAT": "   "}, False),
        ({"CLARIFAI_PAT": "abc"}, True),
        ({"OTHER": "abc"}, False),
    ],
)
def test_clarifai_configured(settings, expected):
    assert clarifai_configured(settings) is expected


def test_local_backend():
    assert isinstance(tagger_from_settings({}, "local"), LocalTagger)


def test_clarifai_backend_needs_token():
    with pytest.raises(TaggerError, match="CLARIFAI_PAT"):
        tagger_from_settings({}, "clarifai")


def test_clarifai_backend_built_from_settings():
    tagger = tagger_from_settings({"CLARIFAI_PAT": "abc", "CLARIFAI_TIMEOUT_S": "3"}, "clarifai")
    assert isinstance(tagger, ClarifaiTagger) and tagger.timeout_s == 3.0
    tagger.close()


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown tagger backend"):
        tagger_from_settings({}, "vision-api")
