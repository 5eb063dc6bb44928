"""AppTest of the Tag page with the offline tagger (the default backend)."""

from __future__ import annotations

import socket
from concurrent import futures

import grpc
import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2
from page_helpers import headlines, open_page, texts


def _chart_spec(at) -> str:
    charts = at.get("vega_lite_chart")
    assert charts, "the concept chart is drawn"
    return charts[0].proto.spec


def test_coffee_sample_matches_cup_and_not_dog(store_dir):
    at = open_page("pages/tag.py")
    said = texts(at)
    assert "Matched" in said and "'cup'" in said
    assert headlines(at)[0] == "✅ Yes: it shows a cup (97% sure)"
    spec = _chart_spec(at)
    assert "asked: cup" in spec  # the asked-for tag's bar is marked
    assert '"type": "rule"' in spec and "minimum confidence" in spec  # and the threshold drawn
    at.text_input(key="tag_word").set_value("dogs").run()
    assert "Not Matched" in texts(at)


def test_unreadable_file_is_no_tag_like_the_api(store_dir):
    at = open_page("pages/tag.py")
    at.radio(key="tag_source").set_value("Upload").run()
    at.file_uploader(key="tag_upload").set_value(("x.jpg", b"\xff\xd8\xffnot a jpeg", "image/jpeg")).run()
    assert not at.exception
    said = texts(at)
    assert "No Tag" in said and "Take Picture Again" not in said


def test_cat_sample_and_confidence_slider(store_dir):
    at = open_page("pages/tag.py")
    at.button(key="tag_example__tag/chelsea.jpg").click().run()
    at.text_input(key="tag_word").set_value("Cat").run()
    assert "Matched" in texts(at) and "Not Matched" not in texts(at)
    at.slider(key="th_tag_min_confidence").set_value(1.0).run()
    assert "Not Matched" in texts(at)


def test_blank_tag_is_a_prompt_and_no_clarifai_without_token(store_dir):
    at = open_page("pages/tag.py")
    assert at.radio(key="tag_backend").options == ["Offline (EfficientNet-Lite0, ImageNet + WordNet)"]
    at.text_input(key="tag_word").set_value("  ").run()
    assert "Type a tag to check." in texts(at) and "No Tag" not in texts(at)


class _Clarifai(service_pb2_grpc.V2Servicer):
    """A local stand-in for Clarifai's API: every photo shows a dog."""

    def PostModelOutputs(self, request, context):
        output = resources_pb2.Output(status=status_pb2.Status(code=status_code_pb2.SUCCESS))
        output.data.concepts.add(id="ai_dog", name="dog", value=0.97)
        response = service_pb2.MultiOutputResponse(status=status_pb2.Status(code=status_code_pb2.SUCCESS))
        response.outputs.append(output)
        return response


@pytest.fixture
def clarifai_port():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    service_pb2_grpc.add_V2Servicer_to_server(_Clarifai(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(0)


def _use_clarifai(monkeypatch, port: int) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", "test-token-not-real")
    monkeypatch.setenv("CLARIFAI_TARGET", f"127.0.0.1:{port}")
    monkeypatch.setenv("CLARIFAI_INSECURE", "true")
    monkeypatch.setenv("CLARIFAI_TIMEOUT_S", "3")


def test_clarifai_backend_over_grpc(store_dir, monkeypatch, clarifai_port):
    _use_clarifai(monkeypatch, clarifai_port)
    at = open_page("pages/tag.py")
    assert len(at.radio(key="tag_backend").options) == 2
    at.radio(key="tag_backend").set_value("clarifai").run()
    at.text_input(key="tag_word").set_value("Dogs").run()
    said = texts(at)
    assert "Matched" in said and "Not Matched" not in said


def test_clarifai_down_is_api_fault(store_dir, monkeypatch):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _use_clarifai(monkeypatch, port)
    at = open_page("pages/tag.py")
    at.radio(key="tag_backend").set_value("clarifai").run()
    assert not at.exception
    said = texts(at)
    assert "Clarifai Api Fault" in said and "test-token-not-real" not in said


def test_the_tagger_s_word_and_everyday_synonyms(store_dir):
    """Issue 23, item 10: "Cats" is said as the tagger's "cat"; "mug" counts the cups; an empty tag is a prompt."""
    at = open_page("pages/tag.py")
    at.button(key="tag_example__tag/chelsea.jpg").click().run()
    at.text_input(key="tag_word").set_value("Cats").run()
    assert headlines(at)[0].startswith("✅ Yes: it shows a cat (")
    at.button(key="tag_example__tag/coffee.jpg").click().run()
    at.text_input(key="tag_word").set_value("mug").run()
    assert headlines(at)[0].startswith("✅ Yes: it shows a mug (") and "Matched" in texts(at)
    at.text_input(key="tag_word").set_value("").run()
    assert [i.value for i in at.info] == ["Type a tag to check."] and not headlines(at)


def test_every_everyday_synonym_names_classes_the_tagger_knows():
    """The synonym table (vision/tagging/words.py) points only at words the offline tagger's vocabulary has."""
    from vision.tagging.local import load_vocabulary
    from vision.tagging.words import TAG_SYNONYMS

    vocabulary = load_vocabulary()
    for word, known in TAG_SYNONYMS.items():
        assert vocabulary.mask(known).any(), known
        assert vocabulary.mask(known).sum() <= vocabulary.mask(word).sum(), word  # the word covers its synonym
