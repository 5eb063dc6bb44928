"""Clarifai backend: ``general-image-recognition`` over gRPC (``clarifai-grpc``).

Every failure (transport error, deadline, bad token, quota, model error,
empty answer) becomes a :class:`~vision.tagging.base.TaggerError` whose
``cause`` says which; the personal access token never appears in a cause or
a log line.
"""

from __future__ import annotations

import logging
from typing import Any

import cv2
import grpc
import numpy as np
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2

from vision.core.errors import ImageInputError
from vision.tagging.base import Concept, TaggerError, TagMatch, normalise_tag

log = logging.getLogger(__name__)

DEFAULT_TARGET = "api.clarifai.com:443"
MODEL_ID = "general-image-recognition"
POST_MODEL_OUTPUTS = "/clarifai.api.V2/PostModelOutputs"
USER_ID = "clarifai"
APP_ID = "main"
MAX_SIDE = 1024
"""Photos are downscaled to this long side before upload (the model works at far less)."""
JPEG_QUALITY = 90

_AUTH_WORDS = ("KEY", "TOKEN", "AUTH", "SCOPE", "PERMISSION")
_QUOTA_WORDS = ("LIMIT", "THROTTLED", "BILLING", "QUOTA")


class ClarifaiTagger:
    """Tags photos with Clarifai's ``general-image-recognition`` model.

    Parameters
    ----------
    pat : str
        Personal access token (from the environment or Streamlit secrets).
    target : str
        ``host:port`` of the API.
    secure : bool
        TLS (True) or plaintext (False, for a local test server).
    timeout_s : float
        Deadline of every call, in seconds.
    """

    name = "clarifai"

    def __init__(self, pat: str, *, target: str = DEFAULT_TARGET, secure: bool = True, timeout_s: float = 10.0) -> None:
        if not pat or not pat.strip():
            raise TaggerError("Clarifai personal access token is empty")
        self._metadata = (("authorization", "Key " + pat.strip()),)
        self._pat = pat.strip()
        self.target = target
        self.timeout_s = float(timeout_s)
        channel = (
            grpc.secure_channel(target, grpc.ssl_channel_credentials()) if secure else grpc.insecure_channel(target)
        )
        self._channel = channel
        # The method is bound directly: clarifai-grpc's V2Stub needs a global
        # that only its ClarifaiChannel helpers set (and those fix the host).
        self._post_model_outputs = channel.unary_unary(
            POST_MODEL_OUTPUTS,
            request_serializer=service_pb2.PostModelOutputsRequest.SerializeToString,
            response_deserializer=service_pb2.MultiOutputResponse.FromString,
        )

    def __repr__(self) -> str:
        return f"ClarifaiTagger(target={self.target!r}, timeout_s={self.timeout_s})"

    def close(self) -> None:
        """Close the gRPC channel."""
        self._channel.close()

    def concepts(self, image_bgr: np.ndarray, top_k: int = 10) -> list[Concept]:
        """Clarifai's concepts for a photo, best first.

        Parameters
        ----------
        image_bgr : np.ndarray
            H x W x 3 uint8 BGR photo.
        top_k : int
            How many to return (Clarifai answers up to 20 by default).

        Returns
        -------
        list of Concept

        Raises
        ------
        TaggerError
            On any transport or API failure, with a specific cause.
        """
        return self._predict(image_bgr)[:top_k]

    def match(self, image_bgr: np.ndarray, tag: str, min_confidence: float) -> TagMatch:
        """Whether a concept named like ``tag`` (case/plural-insensitive) scores enough.

        Parameters
        ----------
        image_bgr : np.ndarray
            H x W x 3 uint8 BGR photo.
        tag : str
            Word to look for.
        min_confidence : float
            Confidence the concept needs.

        Returns
        -------
        TagMatch
            ``concept`` is Clarifai's concept name (None when Clarifai did not
            list any concept of that name).

        Raises
        ------
        TaggerError
            On any transport or API failure, with a specific cause.
        """
        found = self._predict(image_bgr)
        return match_concepts(found, tag, min_confidence)

    def _predict(self, image_bgr: np.ndarray) -> list[Concept]:
        """Call PostModelOutputs and return the concepts sorted by score."""
        request = service_pb2.PostModelOutputsRequest(
            user_app_id=resources_pb2.UserAppIDSet(user_id=USER_ID, app_id=APP_ID),
            model_id=MODEL_ID,
            inputs=[
                resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(base64=encode_jpeg(image_bgr))))
            ],
        )
        try:
            response = self._post_model_outputs(request, metadata=self._metadata, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise self._error(self._rpc_cause(exc)) from None
        return self._concepts_of(response)

    def _concepts_of(self, response: service_pb2.MultiOutputResponse) -> list[Concept]:
        """Check both status levels of a response and extract its concepts."""
        if response.status.code != status_code_pb2.SUCCESS:
            raise self._error(status_cause("request", response.status))
        if not response.outputs:
            raise self._error("Clarifai answered without any output")
        output = response.outputs[0]
        if output.status.code != status_code_pb2.SUCCESS:
            raise self._error(status_cause("model output", output.status))
        found = [Concept(c.name or c.id, float(c.value)) for c in output.data.concepts]
        return sorted(found, key=lambda c: -c.score)

    def _rpc_cause(self, exc: grpc.RpcError) -> str:
        """Describe a transport-level failure."""
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return f"no answer from Clarifai within {self.timeout_s:g} s (DEADLINE_EXCEEDED)"
        if code == grpc.StatusCode.UNAVAILABLE:
            return f"Clarifai unreachable at {self.target} (UNAVAILABLE: {details})"
        name = code.name if code is not None else "UNKNOWN"
        return f"gRPC error {name}: {details}"

    def _error(self, cause: str) -> TaggerError:
        """Build a TaggerError with the token scrubbed, and log it."""
        cause = cause.replace(self._pat, "***")
        log.warning("Clarifai tagging failed: %s", cause)
        return TaggerError(cause)


def status_cause(where: str, status: Any) -> str:
    """Human-readable cause for a non-success Clarifai status.

    Parameters
    ----------
    where : str
        "request" (top-level status) or "model output" (``outputs[0].status``).
    status : clarifai status_pb2.Status
        The status message.

    Returns
    -------
    str
        E.g. "authentication failed: CONN_KEY_INVALID (11102) Invalid API key".
    """
    try:
        name = status_code_pb2.StatusCode.Name(status.code)
    except ValueError:
        name = "UNKNOWN_STATUS"
    text = "; ".join(x for x in (status.description, status.details) if x)
    if any(w in name for w in _AUTH_WORDS):
        kind = "authentication failed (bad or expired token?)"
    elif any(w in name for w in _QUOTA_WORDS):
        kind = "quota or rate limit exceeded"
    else:
        kind = f"Clarifai {where} failed"
    return f"{kind}: {name} ({status.code}) {text}".rstrip()


def match_concepts(found: list[Concept], tag: str, min_confidence: float) -> TagMatch:
    """Match a tag against a list of named concepts (case/plural-insensitive).

    Parameters
    ----------
    found : list of Concept
        Concepts sorted by score, best first.
    tag : str
        Word to look for.
    min_confidence : float
        Score the matching concept needs.

    Returns
    -------
    TagMatch
        Decided by the best-scoring concept whose normalised name equals the tag's.
    """
    tag = tag.strip()
    key = normalise_tag(tag)
    same = [c for c in found if normalise_tag(c.name) == key]
    if not same:
        return TagMatch(tag, False, None, 0.0, list(found))
    best = max(same, key=lambda c: c.score)
    return TagMatch(tag, best.score >= min_confidence, best.name, best.score, list(found))


def encode_jpeg(image_bgr: np.ndarray) -> bytes:
    """JPEG bytes of a BGR photo, long side capped at :data:`MAX_SIDE`.

    Raises
    ------
    ImageInputError
        When the array is not an image OpenCV can encode.
    """
    if not isinstance(image_bgr, np.ndarray) or image_bgr.dtype != np.uint8 or image_bgr.size == 0:
        raise ImageInputError("expected a non-empty uint8 image array")
    h, w = image_bgr.shape[:2]
    scale = MAX_SIDE / max(h, w)
    if scale < 1:
        image_bgr = cv2.resize(image_bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ImageInputError("could not encode the photo as JPEG")
    return buf.tobytes()
