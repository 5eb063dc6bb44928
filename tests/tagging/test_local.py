"""Tests for the offline EfficientNet-Lite0 tagger, on bundled and shared photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.core.errors import ImageInputError
from vision.tagging.base import Tagger, tag_verdict
from vision.tagging.local import (
    CLASSES_PATH,
    EVERYDAY_SYNONYMS,
    MODEL_PATH,
    LocalTagger,
    load_session,
    load_vocabulary,
    preprocess,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "images" / "imagenet_samples"
needs_samples = pytest.mark.shared_data  # ImageNet photos we may not bundle: deselected without ../shared


@pytest.fixture(scope="module")
def tagger() -> LocalTagger:
    return LocalTagger()


@pytest.fixture(scope="module")
def cat() -> np.ndarray:
    return cv2.imread(str(ASSETS / "chelsea.jpg"))


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return cv2.imread(str(ASSETS / "coffee.jpg"))


def matched_tags(tagger: LocalTagger, image: np.ndarray, words: list[str]) -> set[str]:
    return {w for w in words if tagger.match(image, w, 0.2).matched}


WORDS = ["cat", "dog", "cup", "animal", "food", "vehicle", "bird", "book", "plant", "furniture"]


def test_shipped_artefacts():
    assert MODEL_PATH.stat().st_size > 10_000_000
    lines = CLASSES_PATH.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1000
    assert lines[0].startswith("n01440764 tench")
    assert all(ln[0] == "n" and ln[1:9].isdigit() and ln[9] == " " for ln in lines)
    assert (MODEL_PATH.parent / "LICENSE-efficientnet-lite0.txt").is_file()


def test_session_uses_one_thread_and_two_outputs():
    session = load_session()
    assert session is load_session()  # loaded once
    opts = session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    outputs = {o.name: o.shape for o in session.get_outputs()}
    assert outputs["logits"][1] == 1000 and outputs["embedding"][1] == 1280


def test_local_tagger_is_a_tagger(tagger):
    assert isinstance(tagger, Tagger) and tagger.name == "local"


def test_cat_photo_matches_cat(tagger, cat):
    assert matched_tags(tagger, cat, WORDS) == {"cat", "animal"}
    found = tagger.match(cat, "Cats", 0.2)
    assert found.matched and found.concept == "cat" and found.score > 0.8
    names = [c.name for c in tagger.concepts(cat, 10)]
    assert "cat" in names and {"tabby", "tiger cat", "Egyptian cat"} & set(names)


def test_coffee_photo_matches_cup(tagger, coffee):
    assert "cup" in matched_tags(tagger, coffee, WORDS)
    assert not {"cat", "dog", "animal", "vehicle"} & matched_tags(tagger, coffee, WORDS)
    assert tagger.match(coffee, "cups", 0.5).matched
    assert tagger.classify(coffee, 1)[0].name == "espresso"


def test_concepts_sorted_and_bounded(tagger, cat):
    found = tagger.concepts(cat, 6)
    assert len(found) == 6
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert all(0.0 <= c.score <= 1.0 for c in found)


def test_predict_and_embed(tagger, cat, coffee):
    probs = tagger.predict(cat)
    assert probs.shape == (1000,) and abs(probs.sum() - 1.0) < 1e-6
    emb_cat, emb_flip, emb_coffee = (tagger.embed(x) for x in (cat, cat[:, ::-1], coffee))
    assert emb_cat.shape == (1280,) and emb_cat.dtype == np.float32
    assert abs(float(np.linalg.norm(emb_cat)) - 1.0) < 1e-5
    assert float(emb_cat @ emb_flip) > float(emb_cat @ emb_coffee) + 0.2


def test_analyse_runs_network_once_per_photo(tagger, coffee, monkeypatch):
    calls = []
    real = tagger._session

    def counting():
        session = real()

        class Wrapped:
            def run(self, *a, **k):
                calls.append(1)
                return session.run(*a, **k)

        return Wrapped()

    monkeypatch.setattr(tagger, "_session", counting)
    tagger._last = None
    _probs, _emb = tagger.analyse(coffee)
    tagger.concepts(coffee)
    tagger.match(coffee, "cup", 0.2)
    assert len(calls) == 1
    tagger.match(coffee[:, ::-1].copy(), "cup", 0.2)
    assert len(calls) == 2


def test_unknown_tag_has_no_concept(tagger, cat):
    found = tagger.match(cat, "smartphonezzz", 0.2)
    assert found.matched is False and found.concept is None and found.score == 0.0
    assert found.concepts  # still shows what was seen


def test_verdict_through_local_tagger(tagger, cat):
    verdict = tag_verdict(tagger, cat, "cat", 0.2)
    assert verdict.body() == {"status": 200, "message": "Matched", "result": True}
    assert "'cat'" in verdict.reason
    assert tag_verdict(tagger, cat, "dog", 0.2).message == "Not Matched"


@pytest.mark.parametrize(
    ("tag", "minimum"),
    [
        ("dog", 118),
        ("cat", 5),
        ("bird", 50),
        ("car", 5),
        ("vehicle", 40),
        ("furniture", 10),
        ("food", 20),
        ("plant", 1),
        ("animal", 300),
        ("instrument", 20),
        ("cup", 3),
        ("book", 2),
        ("Dogs", 118),
    ],
)
def test_vocabulary_covers_everyday_tags(tag, minimum):
    assert int(load_vocabulary().mask(tag).sum()) >= minimum


def test_synonym_map_points_at_real_classes():
    wnids = set(load_vocabulary().wnids)
    for ids in EVERYDAY_SYNONYMS.values():
        assert set(ids) <= wnids
    vocab = load_vocabulary()
    assert vocab.mask("cup")[vocab.wnids.index("n03063599")]  # coffee mug is a cup


def test_preprocess_shapes_and_scaling():
    image = np.full((300, 500, 3), 255, dtype=np.uint8)
    x = preprocess(image)
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    assert np.allclose(x, 1.0)  # (255 - 127) / 128
    assert preprocess(np.zeros((50, 40), dtype=np.uint8)).shape == (1, 3, 224, 224)
    assert preprocess(np.zeros((50, 40, 4), dtype=np.uint8)).shape == (1, 3, 224, 224)


def test_preprocess_converts_bgr_to_rgb():
    image = np.zeros((224, 224, 3), dtype=np.uint8)
    image[..., 0] = 255  # pure blue in BGR
    x = preprocess(image)
    assert x[0, 2].mean() > 0.99 and x[0, 0].mean() < -0.99


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((5, 5, 3), dtype=np.float32),
        np.zeros((0, 0, 3), dtype=np.uint8),
        np.zeros((5, 5, 2), dtype=np.uint8),
        "not an array",
    ],
)
def test_preprocess_rejects_non_images(bad):
    with pytest.raises(ImageInputError):
        preprocess(bad)


@needs_samples
@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("n02085620_Chihuahua.JPEG", "dog"),
        ("n02106550_Rottweiler.JPEG", "dog"),
        ("n02108089_boxer.JPEG", "dog"),
        ("n02112018_Pomeranian.JPEG", "dogs"),
        ("n01514859_hen.JPEG", "bird"),
        ("n04285008_sports_car.JPEG", "car"),
        ("n03100240_convertible.JPEG", "vehicle"),
        ("n03063599_coffee_mug.JPEG", "cup"),
        ("n04372370_switch.JPEG", "switch"),
        ("n03372029_flute.JPEG", "instrument"),
        ("n07695742_pretzel.JPEG", "food"),
    ],
)
def test_imagenet_samples_match_general_tags(tagger, name, tag):
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"{name} not in the shared samples")
    assert tagger.match(cv2.imread(str(path)), tag, 0.2).matched
