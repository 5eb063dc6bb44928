"""Tests for the Clarifai backend over real gRPC against a loopback V2 server."""

from __future__ import annotations

import logging
import socket
import threading
from concurrent import futures

import cv2
import grpc
import numpy as np
import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

from vision.tagging.base import Concept, TaggerError, tag_verdict
from vision.tagging.clarifai import ClarifaiTagger, encode_jpeg, match_concepts

PAT = "pat-0123456789abcdef-secret"
IMAGE = np.full((60, 80, 3), 120, dtype=np.uint8)
CONCEPTS = [("dog", 0.97), ("Puppies", 0.61), ("animal", 0.95), ("grass", 0.12)]


class FakeV2(service_pb2_grpc.V2Servicer):
    """Implements PostModelOutputs with a behaviour chosen per test."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[tuple[service_pb2.PostModelOutputsRequest, dict]] = []
        self.release = threading.Event()

    def PostModelOutputs(self, request, context):
        self.requests.append((request, dict(context.invocation_metadata())))
        if self.mode == "slow":
            self.release.wait(5)
        if self.mode == "bad_token":
            return _response(status_code_pb2.CONN_KEY_INVALID, "Invalid API key or Invalid API key/application pair")
        if self.mode == "quota":
            return _response(status_code_pb2.CONN_EXCEED_HOURLY_LIMIT, "Hourly usage limit exceeded")
        if self.mode == "empty":
            return _response(status_code_pb2.SUCCESS, "Ok")
        output = resources_pb2.Output(status=status_pb2.Status(code=status_code_pb2.SUCCESS))
        if self.mode == "output_failed":
            output = resources_pb2.Output(
                status=status_pb2.Status(
                    code=status_code_pb2.MODEL_PREDICTION_FAILED, description="Model prediction failed"
                )
            )
        for name, value in CONCEPTS:
            output.data.concepts.add(id=f"ai_{name}", name=name, value=value)
        response = _response(status_code_pb2.SUCCESS, "Ok")
        response.outputs.append(output)
        return response


def _response(code: int, description: str) -> service_pb2.MultiOutputResponse:
    return service_pb2.MultiOutputResponse(status=status_pb2.Status(code=code, description=description))


@pytest.fixture(scope="module")
def server():
    servicer = FakeV2()
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    service_pb2_grpc.add_V2Servicer_to_server(servicer, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield servicer, port
    servicer.release.set()
    srv.stop(0)


@pytest.fixture
def fake(server):
    servicer, port = server
    servicer.mode = "ok"
    servicer.requests.clear()
    servicer.release.clear()
    tagger = ClarifaiTagger(PAT, target=f"127.0.0.1:{port}", secure=False, timeout_s=5.0)
    yield servicer, tagger
    servicer.release.set()
    tagger.close()


def test_success_returns_sorted_concepts_and_sends_contract_request(fake):
    servicer, tagger = fake
    found = tagger.concepts(IMAGE, top_k=3)
    assert [c.name for c in found] == ["dog", "animal", "Puppies"]
    assert found[0].score == pytest.approx(0.97)
    request, metadata = servicer.requests[-1]
    assert request.model_id == "general-image-recognition"
    assert (request.user_app_id.user_id, request.user_app_id.app_id) == ("clarifai", "main")
    assert metadata["authorization"] == "Key " + PAT
    sent = cv2.imdecode(np.frombuffer(request.inputs[0].data.image.base64, np.uint8), cv2.IMREAD_COLOR)
    assert sent.shape == IMAGE.shape  # JPEG bytes of the photo


def test_match_is_case_and_plural_insensitive(fake):
    _, tagger = fake
    found = tagger.match(IMAGE, "Dogs", 0.5)
    assert found.matched and found.concept == "dog" and found.score == pytest.approx(0.97)
    assert tagger.match(IMAGE, "puppy", 0.5).matched
    low = tagger.match(IMAGE, "grass", 0.5)
    assert not low.matched and low.concept == "grass"
    assert tagger.match(IMAGE, "cat", 0.1).concept is None


def test_verdict_over_grpc(fake):
    _, tagger = fake
    verdict = tag_verdict(tagger, IMAGE, "dog", 0.2)
    assert verdict.body() == {"status": 200, "message": "Matched", "result": True}
    assert verdict.extra["concepts"][0] == {"name": "dog", "score": 0.97}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("bad_token", "authentication failed"),
        ("quota", "quota or rate limit exceeded"),
        ("output_failed", "MODEL_PREDICTION_FAILED"),
        ("empty", "without any output"),
    ],
)
def test_api_errors_become_tagger_errors(fake, mode, expected, caplog):
    servicer, tagger = fake
    servicer.mode = mode
    with caplog.at_level(logging.WARNING), pytest.raises(TaggerError) as info:
        tagger.concepts(IMAGE)
    assert expected in info.value.cause
    assert PAT not in info.value.cause and PAT not in caplog.text
    verdict = tag_verdict(tagger, IMAGE, "dog", 0.2)
    assert verdict.body() == {"status": 500, "message": "Clarifai Api Fault", "result": False}
    assert expected in verdict.reason


def test_bad_token_cause_names_status(fake):
    servicer, tagger = fake
    servicer.mode = "bad_token"
    with pytest.raises(TaggerError) as info:
        tagger.match(IMAGE, "dog", 0.2)
    assert "CONN_KEY_INVALID" in info.value.cause and "Invalid API key" in info.value.cause


def test_slow_server_hits_deadline(server):
    servicer, port = server
    servicer.mode = "slow"
    servicer.release.clear()
    tagger = ClarifaiTagger(PAT, target=f"127.0.0.1:{port}", secure=False, timeout_s=0.3)
    try:
        with pytest.raises(TaggerError) as info:
            tagger.concepts(IMAGE)
        assert "DEADLINE_EXCEEDED" in info.value.cause and "0.3 s" in info.value.cause
    finally:
        servicer.release.set()
        tagger.close()


def test_server_down_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tagger = ClarifaiTagger(PAT, target=f"127.0.0.1:{port}", secure=False, timeout_s=3.0)
    try:
        with pytest.raises(TaggerError) as info:
            tagger.concepts(IMAGE)
        assert "UNAVAILABLE" in info.value.cause and PAT not in info.value.cause
    finally:
        tagger.close()


def test_empty_token_rejected():
    with pytest.raises(TaggerError):
        ClarifaiTagger("  ", target="127.0.0.1:1", secure=False)


def test_repr_hides_token():
    tagger = ClarifaiTagger(PAT, target="127.0.0.1:1", secure=False)
    assert PAT not in repr(tagger)
    tagger.close()


def test_match_concepts_prefers_best_same_name():
    found = [Concept("Dog", 0.4), Concept("dogs", 0.9)]
    result = match_concepts(found, " DOG ", 0.5)
    assert result.matched and result.concept == "dogs" and result.tag == "DOG"


def test_encode_jpeg_caps_size():
    big = np.zeros((3000, 2000, 3), dtype=np.uint8)
    decoded = cv2.imdecode(np.frombuffer(encode_jpeg(big), np.uint8), cv2.IMREAD_COLOR)
    assert max(decoded.shape[:2]) == 1024
